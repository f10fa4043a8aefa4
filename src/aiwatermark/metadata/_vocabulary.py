"""IPTC digital source types and the human-readable sentences written next to them."""

from __future__ import annotations

import re
import unicodedata

from ..errors import MetadataError

IPTC_SOURCE_TYPE_BASE = "http://cv.iptc.org/newscodes/digitalsourcetype/"

TRAINED_ALGORITHMIC_MEDIA = IPTC_SOURCE_TYPE_BASE + "trainedAlgorithmicMedia"
"""IPTC digital source type of media created by a trained model (text-to-image and the like)."""

COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA = (
    IPTC_SOURCE_TYPE_BASE + "compositeWithTrainedAlgorithmicMedia"
)
"""IPTC digital source type of real media edited with a trained model (AI inpainting, etc.)."""

ALGORITHMIC_MEDIA = IPTC_SOURCE_TYPE_BASE + "algorithmicMedia"
"""IPTC digital source type of media made purely by an algorithm, without training data."""

AI_SOURCE_TYPES = frozenset(
    {TRAINED_ALGORITHMIC_MEDIA, COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA, ALGORITHMIC_MEDIA}
)
"""The digital source types that make :attr:`Disclosure.ai_generated` true."""

MAX_GENERATOR_LENGTH = 1024

_DESCRIPTIONS = {
    TRAINED_ALGORITHMIC_MEDIA: "AI-generated image (trainedAlgorithmicMedia).",
    COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA: (
        "AI-edited image: a photograph altered with generative AI "
        "(compositeWithTrainedAlgorithmicMedia)."
    ),
}

_URI = re.compile(r"https?://cv\.iptc\.org/newscodes/digitalsourcetype/([A-Za-z]+)")
_TOKEN = re.compile(
    r"\((trainedAlgorithmicMedia|compositeWithTrainedAlgorithmicMedia|algorithmicMedia)\)"
)
_BARE_TOKEN = re.compile(r"[A-Za-z]+")


def source_type(edited: bool) -> str:
    return COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA if edited else TRAINED_ALGORITHMIC_MEDIA


def user_comment(source: str, generator: str | None) -> str:
    """The longer disclosure for EXIF UserComment, naming the generator and the IPTC URI."""
    made_with = f" Made with {generator}." if generator else ""
    return f"{_DESCRIPTIONS[source]}{made_with} IPTC digital source type: {source}"


def merge_description(existing: str | None, source: str) -> str:
    """Put our sentence first and keep a caption someone else wrote after it.

    A sentence we wrote earlier (generated or edited) is replaced, so running twice, or
    switching ``edited``, never stacks sentences.
    """
    caption = (existing or "").strip()
    for ours in _DESCRIPTIONS.values():
        if caption.startswith(ours):
            caption = caption[len(ours) :].strip()
    return f"{_DESCRIPTIONS[source]} {caption}" if caption else _DESCRIPTIONS[source]


def normalise_source_type(value: str | None) -> str | None:
    """The canonical ``http://`` IPTC URI for a source type (https or bare token accepted)."""
    if value is None:
        return None
    value = value.strip()
    match = _URI.fullmatch(value.rstrip("/"))
    if match:
        return IPTC_SOURCE_TYPE_BASE + match.group(1)
    if _BARE_TOKEN.fullmatch(value) and IPTC_SOURCE_TYPE_BASE + value in AI_SOURCE_TYPES:
        return IPTC_SOURCE_TYPE_BASE + value
    return value or None


def source_type_in_text(text: str | None) -> str | None:
    """The IPTC source type a free-text disclosure (ours or another tool's) mentions, if any."""
    if not text:
        return None
    match = _URI.search(text)
    if match:
        return IPTC_SOURCE_TYPE_BASE + match.group(1)
    match = _TOKEN.search(text)
    return IPTC_SOURCE_TYPE_BASE + match.group(1) if match else None


def check_generator(generator: object) -> str | None:
    """The generator name to write, without surrounding whitespace (readers strip it).

    Refused: non-strings, blank or over-long names, and characters that XMP, EXIF or PNG
    text cannot carry unchanged.
    """
    if generator is None:
        return None
    if not isinstance(generator, str):
        raise MetadataError(
            "generator must be a str (the name of the AI model or app), "
            f"not {type(generator).__name__}"
        )
    if not generator.strip():
        raise MetadataError("generator must be a non-empty name, or None to leave it out")
    if len(generator) > MAX_GENERATOR_LENGTH:
        raise MetadataError(
            f"generator is {len(generator)} characters long; the limit is {MAX_GENERATOR_LENGTH}"
        )
    for char in generator:
        # XML 1.0 cannot carry control characters, surrogates or U+FFFE/U+FFFF.
        if unicodedata.category(char) in ("Cc", "Cs") or char in "\ufffe\uffff":
            raise MetadataError(
                f"generator contains the control character {char!r}; use printable text only"
            )
    return generator.strip()
