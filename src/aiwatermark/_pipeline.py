"""The one-call API: :func:`mark` applies every layer in the right order, :func:`verify` reads
them all back and says what they mean together."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np
from PIL import Image

from . import imageio, invisible, keys, metadata, provenance, visible
from .errors import (
    AiWatermarkError,
    KeyFileError,
    PayloadError,
    UnsupportedImageError,
)
from .report import VerificationReport, build_report
from .store import StoreLike, open_store

# Formats whose files can carry the metadata disclosure and C2PA manifest we write.
MARKABLE_FORMATS = ("JPEG", "PNG", "WEBP")
"""Formats ``mark`` writes: those the metadata layer can edit without re-encoding."""


@dataclass(frozen=True, repr=False)
class MarkResult:
    """What :func:`mark` did: where the image went, its content ID and the layers applied.

    ``path`` is set when a file was written, ``data`` (the encoded image) when ``dst`` was
    None. ``payload`` is the watermark payload, also the key of the manifest in the store.

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
            ['content_id', 'data_bytes', 'format']
        """
        return {
            "path": None if self.path is None else str(self.path),
            "data_bytes": None if self.data is None else len(self.data),
            "content_id": self.content_id,
            "manifest_label": self.manifest_label,
            "layers": list(self.layers),
            "format": self.format,
            "stored": self.stored,
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
        raise UnsupportedImageError(
            f"{imageio.describe(dst if dst is not None else src)}: cannot mark as {fmt}; "
            f"the disclosure and Content Credentials need {', '.join(MARKABLE_FORMATS)}"
        )
    return fmt


def mark(
    src: imageio.ImageSource,
    dst: str | os.PathLike[str] | None = None,
    *,
    label: str | None = "AI-generated",
    watermark: bool = True,
    payload: bytes | None = None,
    key: str | bytes | None = None,
    signer: keys.Signer | bool | None = None,
    generator: str | None = None,
    likeness: provenance.Likeness | None = None,
    format: str | None = None,
    store: StoreLike = None,
    overwrite: bool = False,
) -> MarkResult:
    """Mark an AI-generated image with every disclosure layer and save (or return) it.

    Layers, in order: a visible ``label`` (``label=None`` for none), an invisible watermark
    carrying ``payload`` (a fresh random content ID unless given; ``watermark=False`` for
    none), IPTC/EXIF/PNG disclosure metadata, and signed C2PA Content Credentials
    (``signer=False`` for none; ``None`` uses the local development identity, created on
    first use). The manifest is saved in the manifest ``store`` under the payload, so it can
    be recovered after a platform strips the metadata (``store=False`` to skip).

    The output format is ``format=`` when given, else ``dst``'s suffix, else the input's
    format (JPEG for decoded inputs such as a ``PIL.Image`` from a diffusers pipeline; PNG
    for inputs such as BMP or TIFF that cannot carry the disclosure). With ``dst=None`` the
    encoded image is returned in ``MarkResult.data``. The input is never modified and never
    overwritten unless ``overwrite=True``.

    Raises:
        aiwatermark.AiWatermarkError: a subclass naming the file: the input cannot be read
            (``UnsupportedImageError``, ``CorruptImageError``, ``ImageTooLargeError``), is
            too small for the watermark (``ImageTooSmallError``), ``dst`` exists
            (``OutputExistsError``), or signing or the store failed (``SigningError``,
            ``KeyFileError``, ``StoreError``).
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
    image = imageio.open(src)
    fmt = _output_format(src, image, dst, format)
    layers: list[str] = []

    if label:
        image = visible.add_label(image, label)
        layers.append("label")
    if watermark:
        if payload is None:
            payload = os.urandom(invisible.PAYLOAD_BITS // 8)
        image = invisible.embed(image, payload, key)
        layers.append("watermark")
    else:
        payload = None

    data = imageio.encode(image, fmt)
    data = metadata.disclose(data, generator=generator)
    layers.append("disclosure")

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
            likeness=likeness,
        )
        data, manifest, manifest_label = signed.data, signed.manifest, signed.manifest_label
        layers.append("c2pa")

    stored = False
    if payload is not None and manifest is not None:
        manifest_store = open_store(store)
        if manifest_store is not None:
            # Saved before the image is written: an unused entry is harmless, a marked image
            # whose credentials were never stored is not.
            meta = {"format": fmt, "manifest_label": manifest_label or ""}
            if dst is not None:
                meta["file"] = Path(os.fspath(dst)).name
            manifest_store.put(payload, manifest, meta)
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
    )


def _decode(src: imageio.ImageSource) -> tuple[bytes | None, Image.Image]:
    """The file bytes (None for decoded inputs) and the pixels, each read only once."""
    if isinstance(src, (Image.Image, np.ndarray)):
        return None, imageio.open(src)
    if isinstance(src, (str, os.PathLike)):
        # Opening by path keeps the file name in decoding errors; the second read is cached.
        return imageio.read_bytes(src), imageio.open(src)
    data = imageio.read_bytes(src)
    return data, imageio.open(data)


def verify(
    src: imageio.ImageSource,
    *,
    key: str | bytes | None = None,
    trust_anchors: provenance.TrustAnchors | None = None,
    store: StoreLike = None,
    label: str = "AI-generated",
) -> VerificationReport:
    """Read every disclosure layer of an image and judge whether it is marked AI-generated.

    Reads the C2PA manifest, the invisible watermark (with ``key`` if one was used to mark),
    the visible label and the metadata disclosure. When the image has no embedded manifest
    but carries a watermark, the manifest is looked up in the manifest ``store`` by the
    watermark payload and reported as recovered (``store=False`` to skip the look-up).
    ``trust_anchors`` (PEM) decides which signers count as trusted. ``label`` is the text
    of the visible label to look for, if ``mark`` drew another one.

    Example:
        >>> import aiwatermark
        >>> report = aiwatermark.verify("fixtures/astronaut.jpg")
        >>> report.ai_generated is None, report.tampered
        (True, False)
    """
    name = os.fspath(src) if isinstance(src, (str, os.PathLike)) else imageio.describe(src)
    data, image = _decode(src)
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
    detection = _layer(notes, "watermark", invisible.detect, image, key)
    found_label = _layer(notes, "label", visible.detect_label, image, label)

    recovered: provenance.ProvenanceReport | None = None
    if (
        (embedded is None or not embedded.present or embedded.state == "Invalid")
        and detection is not None
        and detection.detected
        and detection.payload is not None
    ):
        manifest_store = open_store(store)
        # An unreachable store must not hide what the image itself says.
        manifest = (
            _layer(notes, "manifest store", manifest_store.get, detection.payload)
            if (manifest_store is not None)
            else None
        )
        if manifest is not None:
            # A recovered manifest is judged on its signature and claim; its hash of the
            # original bytes cannot match these pixels anyway, so decoded pixels need no
            # full re-encode: any small valid image stands in for them.
            asset = data if data is not None else imageio.encode(Image.new("RGB", (1, 1)), "PNG")
            recovered = _layer(
                notes,
                "recovered C2PA",
                provenance.read_provenance,
                asset,
                trust_anchors=trust_anchors,
                manifest=manifest,
            )
    return build_report(
        source=name,
        embedded=embedded,
        recovered=recovered,
        watermark=detection,
        label=found_label,
        disclosure=disclosure,
        notes=tuple(notes),
    )


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
