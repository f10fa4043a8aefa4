"""Soft-binding look-ups: what ``/matches/byBinding`` and ``/matches/byContent`` answer.

Two algorithms are served: the invisible watermark (:data:`aiwatermark.provenance.SOFT_BINDING_ALG`,
an exact 8-byte content ID) and the PDQ fingerprint
(:data:`aiwatermark.fingerprint.FINGERPRINT_ALG`, 32 bytes matched within
:data:`aiwatermark.fingerprint.MATCH_THRESHOLD` bits, scored 0–100). Everything here blocks
(image decoding, store calls) and runs in the worker pool.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .. import fingerprint, imageio, invisible, provenance
from ..errors import ImageTooSmallError, InvalidArgumentError
from ..store import ManifestStore, similarity_score

WATERMARK_ALG = provenance.SOFT_BINDING_ALG
FINGERPRINT_ALG = fingerprint.FINGERPRINT_ALG

_VALUE_BYTES = {WATERMARK_ALG: invisible.PAYLOAD_BITS // 8, FINGERPRINT_ALG: 32}

DEFAULT_MAX_RESULTS = 10
"""``maxResults`` when the client gives none (the SBR API's default)."""

_MAX_RESULTS_TEXT = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class Binding:
    """A soft binding to look up: an algorithm this repository serves and its value.

    Example:
        >>> from aiwatermark.service._matches import Binding, WATERMARK_ALG
        >>> Binding(WATERMARK_ALG, bytes(8)).value.hex()
        '0000000000000000'
    """

    alg: str
    value: bytes


@dataclass(frozen=True)
class Match:
    """One ``matches`` item: a manifest ID, with a similarity score for fingerprint matches.

    Example:
        >>> from aiwatermark.service._matches import Match
        >>> Match("urn:c2pa:1", 88).to_dict()
        {'manifestId': 'urn:c2pa:1', 'similarityScore': 88}
    """

    manifest_id: str
    similarity: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The SBR API's match object."""
        found: dict[str, Any] = {"manifestId": self.manifest_id}
        if self.similarity is not None:
            found["similarityScore"] = self.similarity
        return found


def supported_algorithms() -> dict[str, list[dict[str, str]]]:
    """The body of ``GET /services/supportedAlgorithms``.

    Example:
        >>> from aiwatermark.service._matches import supported_algorithms
        >>> sorted(supported_algorithms())
        ['fingerprints', 'watermarks']
    """
    return {"watermarks": [{"alg": WATERMARK_ALG}], "fingerprints": [{"alg": FINGERPRINT_ALG}]}


def parse_alg(alg: str | None, *, required: bool, name: str = "alg") -> str | None:
    """``alg`` checked against the algorithms served (None when optional and absent).

    Example:
        >>> from aiwatermark.service._matches import parse_alg
        >>> parse_alg(None, required=False) is None
        True
    """
    if alg is None or alg == "":
        if required:
            raise InvalidArgumentError(f"{name} is required: one of {', '.join(_VALUE_BYTES)}")
        return None
    if alg not in _VALUE_BYTES:
        raise InvalidArgumentError(
            f"{name} {alg!r:.80} is not served here; supported: {', '.join(_VALUE_BYTES)}"
        )
    return alg


def parse_binding(
    alg: object, value: object, *, names: tuple[str, str] = ("alg", "value")
) -> Binding:
    """A binding from the client's ``alg`` and base64 ``value``, or a 400 saying what is wrong.

    Standard and URL-safe base64 are both read, padded or not; a ``+`` that arrived as a
    space (an unescaped query string) is put back.

    Example:
        >>> from aiwatermark.service._matches import parse_binding, WATERMARK_ALG
        >>> parse_binding(WATERMARK_ALG, "AAAAAAAAAAE=").value
        b'\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x01'
    """
    alg_name, value_name = names
    if alg is not None and not isinstance(alg, str):
        raise InvalidArgumentError(f"{alg_name} must be a string")
    checked = parse_alg(alg, required=True, name=alg_name)
    assert checked is not None
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"{value_name} is required: the binding's value in base64")
    text = value.strip().replace(" ", "+").replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgumentError(f"{value_name} is not base64: {value!r:.80}") from None
    expected = _VALUE_BYTES[checked]
    if len(decoded) != expected:
        raise InvalidArgumentError(
            f"{value_name} decodes to {len(decoded)} bytes; a {checked} value is {expected}"
        )
    return Binding(checked, decoded)


def parse_max_results(text: str | None) -> int:
    """``maxResults``: a whole number of at least 1 (default :data:`DEFAULT_MAX_RESULTS`).

    Example:
        >>> from aiwatermark.service._matches import parse_max_results
        >>> parse_max_results(None), parse_max_results("3")
        (10, 3)
    """
    if text is None:
        return DEFAULT_MAX_RESULTS
    if not _MAX_RESULTS_TEXT.fullmatch(text) or int(text) < 1:
        raise InvalidArgumentError(
            f"maxResults must be a whole number of at least 1, not {text!r:.40}"
        )
    return int(text)


def look_up(store: ManifestStore, binding: Binding) -> list[Match]:
    """The registrations a binding finds: exact for a watermark, nearest first for a
    fingerprint (within :data:`aiwatermark.fingerprint.MATCH_THRESHOLD` bits).

    Example:
        >>> import tempfile, pathlib
        >>> from aiwatermark.service._matches import Binding, look_up, WATERMARK_ALG
        >>> from aiwatermark.store import SQLiteManifestStore
        >>> store = SQLiteManifestStore(pathlib.Path(tempfile.mkdtemp()) / "m.sqlite3")
        >>> _ = store.put(bytes(8), b"jumbf", manifest_id="urn:c2pa:1")
        >>> look_up(store, Binding(WATERMARK_ALG, bytes(8)))
        [Match(manifest_id='urn:c2pa:1', similarity=None)]
    """
    if binding.alg == WATERMARK_ALG:
        return [Match(entry.id) for entry in store.by_payload(binding.value)]
    found = store.by_fingerprint(binding.value, fingerprint.MATCH_THRESHOLD)
    return [Match(entry.id, similarity_score(distance)) for entry, distance in found]


def content_bindings(data: bytes, *, key: str | bytes | None, alg: str | None) -> list[Binding]:
    """The bindings an uploaded image carries: its watermark content ID (when one is found
    with ``key``) and its fingerprint (when the image has enough structure for one to
    identify it), limited to ``alg`` when given.

    Raises:
        aiwatermark.UnsupportedImageError, aiwatermark.CorruptImageError,
        aiwatermark.ImageTooLargeError: ``data`` is not an image that can be decoded.

    Example:
        >>> from aiwatermark.service._matches import content_bindings, FINGERPRINT_ALG
        >>> data = open("fixtures/astronaut.jpg", "rb").read()
        >>> [b.alg for b in content_bindings(data, key=None, alg=FINGERPRINT_ALG)]
        ['io.github.aiwatermark.pdq.1']
    """
    image = imageio.open(data)  # decoded once, with the pixel limit checked first
    bindings: list[Binding] = []
    if alg in (None, WATERMARK_ALG):
        try:
            detection = invisible.detect(image, key)
        except ImageTooSmallError:
            detection = None  # too small to carry a watermark: the fingerprint may still find it
        if detection is not None and detection.detected and detection.payload is not None:
            bindings.append(Binding(WATERMARK_ALG, detection.payload))
    if alg in (None, FINGERPRINT_ALG):
        found = fingerprint.compute(image)
        # A flat picture's fingerprint sits near every other flat picture's: not a match.
        if found.reliable:
            bindings.append(Binding(FINGERPRINT_ALG, found.value))
    return bindings


def merge(results: Iterable[list[Match]], max_results: int) -> list[Match]:
    """One list from several look-ups: each manifest once, in the order first found (a
    similarity score kept when any look-up gave one), at most ``max_results``.

    Example:
        >>> from aiwatermark.service._matches import Match, merge
        >>> merge([[Match("a")], [Match("b", 90), Match("a", 97)]], 10)
        [Match(manifest_id='a', similarity=97), Match(manifest_id='b', similarity=90)]
    """
    merged: dict[str, Match] = {}
    for matches in results:
        for match in matches:
            known = merged.get(match.manifest_id)
            if known is None:
                merged[match.manifest_id] = match
            elif known.similarity is None and match.similarity is not None:
                merged[match.manifest_id] = Match(known.manifest_id, match.similarity)
    return list(merged.values())[:max_results]
