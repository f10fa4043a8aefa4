"""The one-call API: :func:`mark` applies every layer in the right order, :func:`verify` reads
them all back and says what they mean together."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from PIL import Image, features

from . import (
    _arrays,
    consent,
    fingerprint,
    imageio,
    invisible,
    keys,
    metadata,
    provenance,
    visible,
)
from ._recovery import recover
from .errors import (
    AiWatermarkError,
    ConsentError,
    InvalidArgumentError,
    KeyFileError,
    PayloadError,
    PayloadTakenError,
    UnsupportedImageError,
)
from .report import VerificationReport, build_report
from .schemas import SCHEMA_VERSION
from .store import ManifestStore, StoreLike, open_store, open_stores

# AVIF metadata items cannot be added to a finished file (every iloc offset would move), so
# the encoder writes the disclosure; the other three get it by an edit of the bytes.
_DISCLOSED_BY_ENCODER = ("AVIF",) if features.check("avif") else ()
MARKABLE_FORMATS = ("JPEG", "PNG", "WEBP", *_DISCLOSED_BY_ENCODER)
"""Formats ``mark`` writes: those that carry the metadata disclosure and a C2PA manifest
(AVIF when this Pillow was built with libavif, ``PIL.features.check("avif")``)."""


@dataclass(frozen=True, repr=False)
class MarkResult:
    """What :func:`mark` did: where the image went, its content ID and the layers applied.

    ``path`` is set when a file was written, ``data`` (the encoded image) when ``dst`` was
    None. ``payload`` is the watermark payload, also the key of the manifest in the store;
    ``fingerprint`` is the PDQ fingerprint of the final pixels, signed into the manifest and
    registered beside it.

    Example:
        >>> import aiwatermark
        >>> result = aiwatermark.mark("fixtures/astronaut.jpg", signer=False, store=False)
        >>> result.layers, result.format, result.path is None
        (('label', 'watermark', 'disclosure'), 'JPEG', True)
    """

    path: Path | None
    data: bytes | None
    payload: bytes | None
    manifest_label: str | None
    layers: tuple[str, ...]
    format: str
    stored: bool
    fingerprint: fingerprint.Fingerprint | None = None

    @property
    def content_id(self) -> str | None:
        """The payload as hex, the form shown to people and used in URLs."""
        return None if self.payload is None else self.payload.hex()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (``data`` is summarised by its size, payload given as hex).

        Example:
            >>> import aiwatermark
            >>> result = aiwatermark.mark("fixtures/astronaut.jpg", signer=False, store=False)
            >>> sorted(result.to_dict())[:3]
            ['content_id', 'data_bytes', 'fingerprint']
        """
        return {
            "schema_version": SCHEMA_VERSION,
            "path": None if self.path is None else str(self.path),
            "data_bytes": None if self.data is None else len(self.data),
            "content_id": self.content_id,
            "manifest_label": self.manifest_label,
            "layers": list(self.layers),
            "format": self.format,
            "stored": self.stored,
            "fingerprint": None if self.fingerprint is None else self.fingerprint.hex,
        }

    def __repr__(self) -> str:
        where = (
            f"path={str(self.path)!r}"
            if self.path is not None
            else (f"data=<{len(self.data or b'')} bytes>")
        )
        return (
            f"MarkResult({where}, format={self.format!r}, content_id={self.content_id!r}, "
            f"layers={self.layers!r}, manifest_label={self.manifest_label!r}, "
            f"stored={self.stored!r})"
        )


def _output_format(src: object, image: Image.Image, dst: object, format: str | None) -> str:
    if dst is not None:
        fmt = imageio.format_for(dst, format)  # type: ignore[arg-type]
    elif format:
        fmt = imageio.format_for("x", format)
    else:
        # MPO is what some cameras call a JPEG; anything we cannot label becomes lossless PNG.
        source_format = {"MPO": "JPEG"}.get(image.format or "", image.format or "JPEG")
        return source_format if source_format in MARKABLE_FORMATS else "PNG"
    if fmt not in MARKABLE_FORMATS:
        hint = " (this Pillow has no AVIF support: pip install 'pillow>=11.2')" * (fmt == "AVIF")
        raise UnsupportedImageError(
            f"{imageio.describe(dst if dst is not None else src)}: cannot mark as {fmt}{hint}; "
            f"mark writes {_names(MARKABLE_FORMATS)}, the formats that carry both the "
            "disclosure metadata and Content Credentials"
        )
    return fmt


def _names(formats: Sequence[str]) -> str:
    shown = [{"WEBP": "WebP"}.get(fmt, fmt) for fmt in formats]
    return ", ".join(shown[:-1]) + f" or {shown[-1]}" if len(shown) > 1 else shown[0]


def _still(src: imageio.ImageSource) -> None:
    frames = imageio.frame_count(src)
    if frames > 1:
        raise UnsupportedImageError(
            f"{imageio.describe(src)}: animated images are not supported: {frames} frames; "
            "marking only the first would leave the others unmarked (export the frame you "
            "want as a still image first)"
        )


def mark(
    src: imageio.ImageSource,
    dst: str | os.PathLike[str] | None = None,
    *,
    label: str | None = "AI-generated",
    font: str | os.PathLike[str] | None = None,
    watermark: bool = True,
    payload: bytes | None = None,
    key: str | bytes | None = None,
    signer: keys.Signer | bool | None = None,
    generator: str | None = None,
    likeness: consent.Use | None = None,
    consent_override: str | None = None,
    format: str | None = None,
    store: StoreLike = None,
    overwrite: bool = False,
) -> MarkResult:
    """Mark an AI-generated image with every disclosure layer and save (or return) it.

    Layers, in order: a visible ``label`` (its text, or ``"eu-ai"``, ``"eu-ai-generated"``
    or ``"eu-ai-modified"`` for the EU's common "AI" icon; ``label=None`` for none; ``font``
    is the path of a .ttf/.otf to draw it with, e.g. for scripts the bundled font lacks), an
    invisible watermark
    carrying ``payload`` (a fresh random content ID unless given; ``watermark=False`` for
    none), IPTC/EXIF/PNG disclosure metadata, and signed C2PA Content Credentials
    (``signer=False`` for none; ``None`` uses the local development identity, created on
    first use) that bind the watermark payload and the PDQ fingerprint of the final pixels.
    The manifest is registered in the manifest ``store`` under both, so it can be recovered
    after a platform strips the metadata, and even after the watermark is removed
    (``store=False`` to skip). Stores never replace an entry: an explicit ``payload`` that is
    already registered raises :class:`~aiwatermark.PayloadTakenError`.

    For an image of a real person's digital twin, ``likeness`` is the use
    (:class:`aiwatermark.consent.Use`: consent reference, brand, purpose, medium, region). It
    is checked against the consent registered in ``store`` before any work is done, and a
    consent that is unknown, not yet valid, expired, withdrawn or out of scope raises
    :class:`~aiwatermark.ConsentError`. ``consent_override`` (a reason) marks anyway, and
    the reason is signed into the manifest, where ``verify`` shows it. The checked use is
    signed into the manifest and recorded in the store for the per-use report.

    The output format is ``format=`` when given, else ``dst``'s suffix, else the input's
    format (JPEG for decoded inputs such as a ``PIL.Image`` from a diffusers pipeline; PNG
    for inputs such as BMP or TIFF that cannot carry the disclosure). :data:`MARKABLE_FORMATS`
    are written: JPEG, PNG, WebP, and AVIF when Pillow has AVIF support. An animated image
    (more than one frame) is refused, never reduced to its first frame. With ``dst=None`` the
    encoded image is returned in ``MarkResult.data``. The input is never modified and never
    overwritten unless ``overwrite=True``.

    Raises:
        aiwatermark.AiWatermarkError: a subclass naming the file: the input cannot be read
            (``UnsupportedImageError``, also for an animation or an output format other than
            :data:`MARKABLE_FORMATS`; ``CorruptImageError``, ``ImageTooLargeError``), is
            too small for the watermark (``ImageTooSmallError``), ``dst`` exists
            (``OutputExistsError``), or signing or the store failed (``SigningError``,
            ``KeyFileError``, ``StoreError``; ``PayloadTakenError`` for a taken ``payload``),
            or the likeness consent does not allow this use (``ConsentError``).
        InvalidArgumentError: ``label`` cannot be drawn (empty, or glyphs the font lacks).

    Example:
        >>> import aiwatermark, tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "marked.jpg"
        >>> result = aiwatermark.mark("fixtures/astronaut.jpg", out, generator="Demo 1.0")
        >>> result.layers
        ('label', 'watermark', 'disclosure', 'c2pa')
        >>> len(result.content_id)
        16
    """
    if dst is not None:
        # Checked up front so a batch re-run fails fast instead of after all the work.
        imageio.check_writable(dst, overwrite=overwrite, protect=(src,))
    if payload is not None and not watermark:
        raise PayloadError("payload= is given but watermark=False; drop one of them")
    manifest_store = open_store(store) if signer is not False else None
    # Before any pixel work: a use without consent must cost nothing.
    assertion = (
        None if likeness is None else _consented(likeness, consent_override, manifest_store, signer)
    )
    if not (
        isinstance(src, (str, os.PathLike, bytes, bytearray, Image.Image)) or _arrays.is_pixels(src)
    ):
        src = imageio.read_bytes(src)  # a stream can be read once: for frames and pixels both
    _still(src)
    image = imageio.open(src)
    fmt = _output_format(src, image, dst, format)
    layers: list[str] = []

    if label is not None:  # an empty text is the label layer's error, never a silent skip
        image = visible.add_label(image, label, font=font)
        layers.append("label")
    if watermark:
        payload = _content_id(manifest_store, payload)
        image = invisible.embed(image, payload, key)
        layers.append("watermark")
    else:
        payload = None
    return _seal(
        image,
        fmt,
        payload,
        layers,
        src=src,
        dst=dst,
        signer=signer,
        generator=generator,
        likeness=assertion,
        manifest_store=manifest_store,
        overwrite=overwrite,
    )


def _seal(
    image: Image.Image,
    fmt: str,
    payload: bytes | None,
    layers: list[str],
    *,
    src: object,
    dst: str | os.PathLike[str] | None,
    signer: keys.Signer | bool | None,
    generator: str | None,
    likeness: provenance.Likeness | None,
    manifest_store: ManifestStore | None,
    overwrite: bool,
) -> MarkResult:
    """The file layers of :func:`mark`, after the pixel layers: encode, disclose, sign,
    register, write. ``payload`` is the content ID the pixels already carry (or None);
    ``likeness`` is an assertion whose consent was already checked."""
    # A camera's EXIF thumbnail shows the picture before the label and the watermark.
    image.info = metadata.drop_thumbnail(image.info)
    if fmt in _DISCLOSED_BY_ENCODER:
        blocks = metadata.encoder_params(image.info, generator=generator)
        data = imageio.encode(image, fmt, exif=blocks["exif"], xmp=blocks["xmp"])
    else:
        data = metadata.disclose(imageio.encode(image, fmt), generator=generator)
    layers.append("disclosure")
    # Of the pixels a verifier will decode, not of the image before encoding.
    final_fingerprint = fingerprint.compute(data)

    manifest_label: str | None = None
    manifest: bytes | None = None
    if signer is not False:
        active_signer = keys.dev_signer() if signer is None or signer is True else signer
        signed = provenance.sign(
            data,
            format=fmt,
            signer=active_signer,
            generator=generator,
            soft_binding=payload,
            fingerprint=final_fingerprint.value,
            likeness=likeness,
        )
        data, manifest, manifest_label = signed.data, signed.manifest, signed.manifest_label
        layers.append("c2pa")

    stored = False
    if manifest_store is not None and manifest is not None:
        # Saved before the image is written: an unused entry is harmless, a marked image
        # whose credentials were never stored is not.
        meta = {"format": fmt, "manifest_label": manifest_label or ""}
        if dst is not None:
            meta["file"] = Path(os.fspath(dst)).name
        if likeness is not None:
            meta.update(consent.use_meta(likeness, active_signer.subject))
        manifest_store.put(
            payload,
            manifest,
            meta,
            fingerprint=final_fingerprint.value,
            manifest_id=manifest_label,
        )
        stored = True

    path = None
    if dst is not None:
        path = imageio.write_atomic(data, dst, overwrite=overwrite, protect=(src,))
    return MarkResult(
        path=path,
        data=None if path is not None else data,
        payload=payload,
        manifest_label=manifest_label,
        layers=tuple(layers),
        format=fmt,
        stored=stored,
        fingerprint=final_fingerprint,
    )


def _consented(
    use: object, override: str | None, manifest_store: ManifestStore | None, signer: object
) -> provenance.Likeness:
    """The likeness assertion for ``use``, once its registered consent allows it."""
    if not isinstance(use, consent.Use):
        raise InvalidArgumentError(
            "likeness= takes aiwatermark.consent.Use(consent_ref, licensee=..., purpose=..., "
            f"medium=..., region=...), not {type(use).__name__}; register the consent first "
            "(aiwatermark likeness register consent.json)"
        )
    if override is not None and (not isinstance(override, str) or not override.strip()):
        raise InvalidArgumentError("consent_override must be the reason, a non-empty string")
    if signer is False:
        raise InvalidArgumentError(
            "likeness= is recorded in the C2PA manifest, which signer=False leaves out"
        )
    registry = consent.registry_of(manifest_store)
    if registry is None:
        raise ConsentError(
            "likeness= is checked against a consent registry: pass store= a SQLite or "
            "PostgreSQL store or a repository URL (store=False has none)"
        )
    record = registry.get(use.consent_ref)
    revocation = registry.revocation(use.consent_ref) if record is not None else None
    decision = consent.check(record, use, revocation=revocation)
    if decision.allowed:
        assert record is not None  # an unknown consent is never allowed
        return consent.assertion(record, use)
    if record is None or override is None:
        hint = (
            ""
            if record is None
            else "; to mark anyway, give consent_override='reason' (signed into the manifest)"
        )
        raise ConsentError(f"likeness refused: {decision.reason}{hint}")
    return consent.assertion(record, use, override=override.strip())


_FRESH_ID_ATTEMPTS = 8


def _content_id(manifest_store: ManifestStore | None, payload: bytes | None) -> bytes:
    """The payload to embed: the caller's if still free, else a fresh random one.

    A registration is never replaced, so a taken ID is refused before any work is done; a
    random one that happens to be taken is simply drawn again.
    """
    if payload is not None:
        if manifest_store is not None and manifest_store.by_payload(payload):
            raise PayloadTakenError(
                f"content ID {bytes(payload).hex()} is already registered in the manifest "
                "store; leave payload= unset for a fresh one"
            )
        return payload
    for _ in range(_FRESH_ID_ATTEMPTS):
        fresh = os.urandom(invisible.PAYLOAD_BITS // 8)
        if manifest_store is None or not manifest_store.by_payload(fresh):
            return fresh
    raise PayloadTakenError("cannot draw a free content ID: the manifest store is saturated")


def _decode(src: imageio.ImageSource) -> tuple[bytes | None, Image.Image, tuple[int, int]]:
    """The file bytes (None for decoded inputs), the pixels at the reduced size every pixel
    layer works at (:func:`imageio.open_reduced`) and the full image's size."""
    if isinstance(src, Image.Image) or _arrays.is_pixels(src):
        return None, *imageio.open_reduced(src)
    data = imageio.read_bytes(src)
    stream = io.BytesIO(data)  # shares ``data``: a large file is held once, not twice
    if isinstance(src, (str, os.PathLike)):
        stream.name = os.fspath(src)  # decoding errors name the file, as for the path
    return data, *imageio.open_reduced(stream)


def _full_scale(
    detection: invisible.Detection | None, reduced: Image.Image, full_size: tuple[int, int]
) -> invisible.Detection | None:
    """``detection`` of the reduced copy with its scale in pixels of the full image."""
    if detection is None or detection.scale is None or reduced.size == full_size:
        return detection
    factor = (full_size[0] * full_size[1] / (reduced.width * reduced.height)) ** 0.5
    return replace(detection, scale=detection.scale * factor)


def verify(
    src: imageio.ImageSource,
    *,
    key: str | bytes | None = None,
    trust_anchors: provenance.TrustAnchors | None = None,
    store: StoreLike | Sequence[StoreLike] = None,
    label: str = "AI-generated",
    font: str | os.PathLike[str] | None = None,
) -> VerificationReport:
    """Read every disclosure layer of an image and judge whether it is marked AI-generated.

    Reads the C2PA manifest, the invisible watermark (with ``key`` if one was used to mark),
    the visible label, the metadata disclosure and the image's perceptual fingerprint.
    Unless the file carries a trusted manifest, the manifest ``store`` is asked for the
    registration: by the watermark's content ID, or by the fingerprint when no watermark is
    found (``store=False`` to skip; a list asks several stores or repositories, e.g.
    ``store=["https://repo.example/v1", None]``; an unreachable one becomes a note). A
    registered manifest applies only when the fingerprint it signs matches these pixels; a
    watermark copied into another picture therefore carries no credentials.
    ``trust_anchors`` (PEM) decides which signers count as trusted. ``label`` is the text
    of the visible label to look for, if ``mark`` drew another one (the same preset name,
    e.g. ``label="eu-ai"``, for an EU icon), and ``font`` the font it was drawn with, if not
    the bundled one.
    The verdict follows the policy in :mod:`aiwatermark.verdict`.

    Example:
        >>> import aiwatermark
        >>> report = aiwatermark.verify("fixtures/astronaut.jpg", store=False)
        >>> report.ai_generated is None, report.tampered
        (True, False)
    """
    name = os.fspath(src) if isinstance(src, (str, os.PathLike)) else imageio.describe(src)
    data, image, full_size = _decode(src)
    notes: list[str] = []

    embedded: provenance.ProvenanceReport | None = None
    disclosure: metadata.Disclosure | None = None
    if data is not None:
        embedded = _layer(
            notes, "C2PA", provenance.read_provenance, data, trust_anchors=trust_anchors
        )
        disclosure = _layer(notes, "metadata", metadata.read_disclosure, data)
    else:
        notes.append("C2PA and metadata not read: decoded pixels carry no file metadata")
    detection = _full_scale(
        _layer(notes, "watermark", invisible.detect, image, key), image, full_size
    )
    found_label = _layer(
        notes, "label", visible.detect_label, image, label, font=font, full_size=full_size
    )

    image_fingerprint = _layer(notes, "fingerprint", fingerprint.compute, image)

    recovery = None
    embedded_trusted = embedded is not None and embedded.present and embedded.trusted
    if not embedded_trusted:
        # The store is asked even when the file carries an untrusted manifest: a registered
        # original can contradict what an untrusted signer claims about these pixels.
        manifest_stores = open_stores(store)
        if manifest_stores:
            # A detached manifest is judged on its signature and claim; its hash of the
            # original bytes cannot match anyway, so decoded pixels need no full re-encode:
            # any small valid image stands in for them.
            asset = data if data is not None else imageio.encode(Image.new("RGB", (1, 1)), "PNG")
            payload = detection.payload if detection is not None and detection.detected else None
            recovery = _layer(
                notes,
                "manifest store",
                recover,
                manifest_stores,
                asset=asset,
                payload=payload,
                image_fingerprint=image_fingerprint,
                trust_anchors=trust_anchors,
                # The same manifest intact in the file says nothing new; a tampered one
                # does not stand in for its intact registered copy.
                skip_label=embedded.manifest_label
                if embedded is not None and embedded.intact
                else None,
                problems=notes,
            )
    report = build_report(
        source=name,
        embedded=embedded,
        recovery=recovery,
        watermark=detection,
        fingerprint=image_fingerprint,
        label=found_label,
        disclosure=disclosure,
        notes=tuple(notes),
    )
    if report.likeness is None or report.provenance is None:
        return report
    # Consent can be withdrawn after signing: only the registry knows its state today.
    registries = [
        registry
        for registry in (consent.registry_of(item) for item in open_stores(store))
        if registry is not None
    ]
    if not registries:
        notes.append("likeness consent not checked: no consent registry was given (store=)")
        return replace(report, notes=tuple(notes))
    status = _layer(
        notes,
        "consent registry",
        consent.assess,
        report.likeness,
        report.provenance.signing_time,
        registries,
    )
    return replace(report, consent=status, notes=tuple(notes))


_P = ParamSpec("_P")
_T = TypeVar("_T")


def _layer(
    notes: list[str], what: str, read: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
) -> _T | None:
    """Run one layer's reader; a layer that cannot read this image becomes a note."""
    try:
        return read(*args, **kwargs)
    except KeyFileError:
        raise  # unreadable trust anchors are the caller's mistake, not the image's
    except AiWatermarkError as exc:
        notes.append(f"{what} not read: {exc}")
        return None


__all__ = ["MarkResult", "mark", "verify"]
