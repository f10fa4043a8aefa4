"""disclose / write_disclosure / read_disclosure: the public operations."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import imageio
from ..errors import CorruptImageError, UnsupportedImageError
from . import _avif, _exif, _jpeg, _png, _vocabulary, _webp, _xmp
from ._raw import ContainerError, RawMetadata, strip_exif_header

_PNG_REPLACED = (_png.XMP_KEYWORD, _png.DESCRIPTION, _png.DIGITAL_SOURCE_TYPE)


@dataclass(frozen=True)
class Finding:
    """What one metadata location of a file says.

    ``location`` is ``"xmp"``, ``"exif"`` or ``"png-text"``.
    """

    location: str
    digital_source_type: str | None
    generator: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict.

        Example:
            >>> from aiwatermark.metadata import Finding
            >>> Finding("xmp", None, "Example Diffusion").to_dict()["generator"]
            'Example Diffusion'
        """
        return {
            "location": self.location,
            "digital_source_type": self.digital_source_type,
            "generator": self.generator,
        }


@dataclass(frozen=True)
class Disclosure:
    """The AI disclosure a file's metadata carries (result of :func:`read_disclosure`).

    ``ai_generated`` is true when any location names a source type in
    :data:`AI_SOURCE_TYPES`. ``digital_source_type`` is the first AI source type found
    (XMP first, then EXIF, then PNG text), else the first source type of any kind.
    ``generator`` is XMP CreatorTool, else EXIF Software, else the PNG Software text.
    ``found_in`` lists the locations that state a source type; ``findings`` has the detail
    of every location that said anything; ``warnings`` lists metadata that could not be read.
    """

    ai_generated: bool
    digital_source_type: str | None
    generator: str | None
    found_in: tuple[str, ...]
    format: str
    findings: tuple[Finding, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict.

        Example:
            >>> from aiwatermark.metadata import Disclosure
            >>> Disclosure(False, None, None, (), "PNG").to_dict()["ai_generated"]
            False
        """
        return {
            "ai_generated": self.ai_generated,
            "digital_source_type": self.digital_source_type,
            "generator": self.generator,
            "found_in": list(self.found_in),
            "format": self.format,
            "findings": [finding.to_dict() for finding in self.findings],
            "warnings": list(self.warnings),
        }


def sniff(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(_png.SIGNATURE):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if _avif.sniff(data):
        return "AVIF"
    return None


def _format(data: bytes, name: str, *, editing: bool) -> str:
    fmt = sniff(data)
    if fmt is None:
        readable = "JPEG, PNG, WebP or AVIF" if not editing else "JPEG, PNG or WebP"
        raise UnsupportedImageError(
            f"{name}: not a {readable} file; AI-disclosure metadata is "
            f"{'read from' if not editing else 'written into'} those formats only "
            "(convert the image first)"
        )
    if fmt == "AVIF" and editing:
        raise UnsupportedImageError(
            f"{name}: AVIF metadata is not edited in place (its item offsets would all move); "
            "aiwatermark.mark writes AVIF with the disclosure, or disclose a JPEG, PNG or WebP"
        )
    return fmt


def _damaged(name: str, fmt: str, exc: ContainerError) -> CorruptImageError:
    return CorruptImageError(
        f"{name}: the {fmt} file structure is damaged ({exc}); re-export it from the original"
    )


def _disclose(data: bytes, name: str, generator: str | None, edited: bool) -> bytes:
    generator = _vocabulary.check_generator(generator)
    source = _vocabulary.source_type(edited)
    fmt = _format(data, name, editing=True)
    try:
        if fmt == "PNG":
            png = _png.parse(data)
            found = _png.metadata(png)
            new = [
                _png.itxt_chunk(_png.XMP_KEYWORD, _xmp.merge(found.xmp, source, generator)),
                _png.text_chunk(_png.DIGITAL_SOURCE_TYPE, source),
                _png.text_chunk(
                    _png.DESCRIPTION,
                    _vocabulary.merge_description(found.texts.get(_png.DESCRIPTION), source),
                ),
            ]
            replaced = set(_PNG_REPLACED)
            if generator is not None:
                new.append(_png.text_chunk(_png.SOFTWARE, generator))
                replaced.add(_png.SOFTWARE)
            return _png.rebuild(png, replaced, new)
        if fmt == "JPEG":
            jpeg = _jpeg.parse(data)
            found = _jpeg.metadata(jpeg)
            exif = _exif.merge(
                found.exif, source, generator, jpeg=_jpeg.frame(jpeg), max_size=_jpeg.MAX_EXIF
            )
            return _jpeg.rebuild(jpeg, exif=exif, xmp=_xmp.merge(found.xmp, source, generator))
        webp = _webp.parse(data)
        found = _webp.metadata(webp)
        exif = _exif.merge(found.exif, source, generator)
        return _webp.rebuild(webp, exif=exif, xmp=_xmp.merge(found.xmp, source, generator))
    except ContainerError as exc:
        raise _damaged(name, fmt, exc) from None


def disclose(data: bytes, *, generator: str | None = None, edited: bool = False) -> bytes:
    """Return ``data`` with AI-disclosure metadata written into it; pixels are not re-encoded.

    ``data`` is a whole JPEG, PNG or WebP file. The IPTC digital source type
    ``trainedAlgorithmicMedia`` (``compositeWithTrainedAlgorithmicMedia`` when ``edited``:
    a real photo altered with AI) goes into XMP, with ``generator`` as ``xmp:CreatorTool``;
    JPEG and WebP also get EXIF ImageDescription, Software and UserComment, PNG gets
    ``Description``, ``Software`` and ``DigitalSourceType`` text chunks. Existing XMP
    properties and EXIF tags are kept; only these fields are replaced (an existing caption
    stays in the description, after the disclosure sentence). Only the metadata segments
    change, so the image data bytes are identical. ``generator`` is written without
    surrounding whitespace.

    Raises :class:`UnsupportedImageError` for other formats, :class:`CorruptImageError`
    for a damaged file and :class:`MetadataError` for an unusable ``generator`` or
    metadata too large for the format.

    Example:
        >>> from importlib.resources import files
        >>> from aiwatermark import metadata
        >>> jpeg = files("aiwatermark").joinpath("data/sample.jpg").read_bytes()
        >>> marked = metadata.disclose(jpeg, generator="Example Diffusion 2")
        >>> info = metadata.read_disclosure(marked)
        >>> info.ai_generated, info.generator
        (True, 'Example Diffusion 2')
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise UnsupportedImageError(
            f"disclose() takes the file's bytes, not {type(data).__name__}; "
            "use write_disclosure() for paths and file objects"
        )
    return _disclose(bytes(data), "image bytes", generator, edited)


def write_disclosure(
    src: imageio.ImageSource,
    dst: str | os.PathLike[str],
    *,
    generator: str | None = None,
    edited: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write a copy of ``src`` with AI-disclosure metadata to ``dst`` (see :func:`disclose`).

    ``src`` is a path, bytes or a binary file object. ``dst`` is written atomically; an
    existing file, or ``src`` itself, is only replaced with ``overwrite=True``. ``dst`` must
    keep the format of ``src`` (nothing is re-encoded).

    Example:
        >>> import tempfile, pathlib
        >>> from importlib.resources import files
        >>> from aiwatermark import metadata
        >>> src = files("aiwatermark").joinpath("data/sample.jpg").read_bytes()
        >>> dst = pathlib.Path(tempfile.mkdtemp()) / "disclosed.jpg"
        >>> metadata.write_disclosure(src, dst, generator="Example Diffusion 2").name
        'disclosed.jpg'
        >>> metadata.read_disclosure(dst).found_in
        ('xmp', 'exif')
    """
    name = imageio.describe(src)
    data = imageio.read_bytes(src)
    fmt = _format(data, name, editing=True)
    wanted = imageio.SUFFIX_FORMATS.get(Path(os.fspath(dst)).suffix.lower())
    if wanted is not None and wanted != fmt:
        raise UnsupportedImageError(
            f"{imageio.describe(dst)}: the suffix says {wanted} but {name} is {fmt}; metadata "
            "is written without re-encoding, so give the output a matching suffix"
        )
    out = _disclose(data, name, generator, edited)
    return imageio.write_atomic(out, dst, overwrite=overwrite, protect=(src,))


def encoder_params(
    info: Mapping[Any, object], *, generator: str | None = None, edited: bool = False
) -> dict[str, bytes]:
    """The ``exif=`` and ``xmp=`` for Pillow's encoder, carrying the AI disclosure.

    For formats whose metadata :func:`disclose` does not edit in place (AVIF): the encoder
    writes the disclosure as the file is made. ``info`` is the image's ``PIL.Image.info``;
    its EXIF and XMP are merged exactly as :func:`disclose` merges a file's.

    Example:
        >>> from PIL import Image
        >>> from aiwatermark import metadata
        >>> params = metadata.encoder_params({}, generator="Example Diffusion 2")
        >>> sorted(params), params["exif"][:6]
        (['exif', 'xmp'], b'Exif\\x00\\x00')
    """
    generator = _vocabulary.check_generator(generator)
    source = _vocabulary.source_type(edited)
    exif, xmp = info.get("exif"), info.get("xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    old_exif = strip_exif_header(exif) if isinstance(exif, bytes) and exif else None
    old_xmp = xmp if isinstance(xmp, bytes) and xmp else None
    return {
        "exif": _jpeg.EXIF_ID + _exif.merge(old_exif, source, generator),
        "xmp": _xmp.merge(old_xmp, source, generator),
    }


def drop_thumbnail(info: Mapping[Any, object]) -> dict[Any, object]:
    """A copy of an image's ``info`` whose EXIF has no embedded thumbnail.

    For pixels that changed after the camera or editor made the thumbnail: viewers show it
    in place of the image, so a stale one would show the picture as it was before (for
    ``mark``: without the label). EXIF that cannot be read is dropped, since nothing could
    vouch for what it shows.

    Example:
        >>> from aiwatermark import metadata
        >>> metadata.drop_thumbnail({"exif": b"not a TIFF structure", "dpi": (72, 72)})
        {'dpi': (72, 72)}
    """
    out = dict(info)
    exif = out.pop("exif", None)
    if isinstance(exif, (bytes, bytearray)) and exif:
        prefix = _jpeg.EXIF_ID if bytes(exif).startswith(_jpeg.EXIF_ID) else b""
        kept = _exif.without_thumbnail(strip_exif_header(bytes(exif)))
        if kept is not None:
            out["exif"] = prefix + kept
    return out


def _walk(data: bytes, fmt: str, problems: list[str]) -> tuple[RawMetadata, bool]:
    """What the file's metadata blocks hold, and whether any structure could be read at all."""
    if fmt == "JPEG":
        jpeg = _jpeg.parse(data, problems)
        return _jpeg.metadata(jpeg), bool(jpeg.segments)
    if fmt == "PNG":
        png = _png.parse(data, problems)
        return _png.metadata(png), bool(png.chunks)
    if fmt == "AVIF":
        return _avif.metadata(data, problems)
    webp = _webp.parse(data, problems)
    return _webp.metadata(webp), bool(webp.chunks)


def _findings(found: RawMetadata, warnings: list[str]) -> list[Finding]:
    findings: list[Finding] = []
    if found.xmp is not None:
        try:
            fields = _xmp.read(found.xmp)
        except _xmp.XmpError as exc:
            warnings.append(f"XMP ignored: {exc}")
        else:
            source = _vocabulary.normalise_source_type(fields.digital_source_type)
            if source or fields.creator_tool:
                findings.append(Finding("xmp", source, fields.creator_tool))
    if found.exif is not None:
        try:
            tags = _exif.read(found.exif)
        except _exif.ExifError as exc:
            warnings.append(f"EXIF ignored: {exc}")
        else:
            source = _vocabulary.source_type_in_text(tags.user_comment) or (
                _vocabulary.source_type_in_text(tags.description)
            )
            if source or tags.software:
                findings.append(Finding("exif", source, tags.software))
    texts = found.texts
    source = _vocabulary.normalise_source_type(texts.get(_png.DIGITAL_SOURCE_TYPE)) or (
        _vocabulary.source_type_in_text(texts.get(_png.DESCRIPTION))
    )
    software = (texts.get(_png.SOFTWARE) or "").strip() or None
    if source or software:
        findings.append(Finding("png-text", source, software))
    return findings


def read_disclosure(src: imageio.ImageSource) -> Disclosure:
    """Read the AI disclosure from a JPEG, PNG, WebP or AVIF file's XMP, EXIF and PNG text.

    Unreadable metadata (malformed XMP, damaged EXIF, a truncated file) never raises: what
    could be read is reported, and the rest is described in ``warnings``. Raises
    :class:`UnsupportedImageError` for other formats and :class:`CorruptImageError` when
    not even the first segment of the file can be read.

    Example:
        >>> from importlib.resources import files
        >>> from aiwatermark import metadata
        >>> jpeg = files("aiwatermark").joinpath("data/sample.jpg").read_bytes()
        >>> metadata.read_disclosure(jpeg).ai_generated
        False
        >>> edited = metadata.read_disclosure(metadata.disclose(jpeg, edited=True))
        >>> edited.digital_source_type == metadata.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
        True
    """
    name = imageio.describe(src)
    data = imageio.read_bytes(src)
    fmt = _format(data, name, editing=False)
    problems: list[str] = []
    found, readable = _walk(data, fmt, problems)
    if not readable:
        raise CorruptImageError(
            f"{name}: the {fmt} file structure is damaged ({problems[0]}); no metadata "
            "could be read"
        )
    warnings = problems + found.problems
    findings = _findings(found, warnings)
    sources = [f.digital_source_type for f in findings if f.digital_source_type]
    ai_sources = [s for s in sources if s in _vocabulary.AI_SOURCE_TYPES]
    generators = [f.generator for f in findings if f.generator]
    return Disclosure(
        ai_generated=bool(ai_sources),
        digital_source_type=(ai_sources or sources)[0] if sources else None,
        generator=generators[0] if generators else None,
        found_in=tuple(f.location for f in findings if f.digital_source_type),
        format=fmt,
        findings=tuple(findings),
        warnings=tuple(warnings),
    )
