"""JPEG at segment level: APP1 EXIF and APP1 XMP are replaced, every other byte is kept."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import MetadataError
from ._exif import JpegFrame
from ._raw import ContainerError, RawMetadata

_SOI, _SOS, _EOI, _APP0, _APP1, _APP2 = 0xD8, 0xDA, 0xD9, 0xE0, 0xE1, 0xE2
# Start-of-frame markers: 0xC0-0xCF except DHT (C4), JPG (C8) and DAC (CC).
_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JFIF_ID = b"JFIF\x00"
_ICC_ID = b"ICC_PROFILE\x00"
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
EXIF_ID = b"Exif\x00\x00"
XMP_ID = b"http://ns.adobe.com/xap/1.0/\x00"
_MAX_PAYLOAD = 0xFFFF - 2
MAX_EXIF = _MAX_PAYLOAD - len(EXIF_ID)
MAX_XMP = _MAX_PAYLOAD - len(XMP_ID)


@dataclass
class JpegFile:
    segments: list[tuple[int, bytes | None]]  # (marker, payload); None: a standalone marker
    tail: bytes  # everything from the end of the first SOS header on, untouched


def parse(data: bytes, problems: list[str] | None = None) -> JpegFile:
    """Split ``data`` into header segments and the entropy-coded rest.

    A broken structure raises :class:`ContainerError`, or, when a ``problems`` list is given,
    is noted there and ends the walk.
    """
    segments: list[tuple[int, bytes | None]] = []
    pos, size = 2, len(data)
    try:
        while True:
            if pos >= size:
                raise ContainerError("the file ends before the image data (no SOS marker)", pos)
            if data[pos] != 0xFF:
                raise ContainerError(f"expected a marker, found byte 0x{data[pos]:02x}", pos)
            while pos < size and data[pos] == 0xFF:
                pos += 1  # fill bytes
            if pos >= size:
                raise ContainerError("the file ends inside a marker", pos)
            marker = data[pos]
            pos += 1
            if marker in _STANDALONE:
                segments.append((marker, None))
                continue
            if marker in (0x00, _SOI, _EOI):
                raise ContainerError(
                    f"unexpected marker 0xff{marker:02x} before the image data", pos
                )
            if pos + 2 > size:
                raise ContainerError("the file ends inside a segment length", pos)
            length = int.from_bytes(data[pos : pos + 2], "big")
            if length < 2 or pos + length > size:
                raise ContainerError(
                    f"segment 0xff{marker:02x} declares {length} bytes but {size - pos} remain",
                    pos,
                )
            segments.append((marker, data[pos + 2 : pos + length]))
            pos += length
            if marker == _SOS:
                return JpegFile(segments, data[pos:])
    except ContainerError as exc:
        if problems is None:
            raise
        problems.append(str(exc))
        return JpegFile(segments, b"")


def metadata(jpeg: JpegFile) -> RawMetadata:
    """The first EXIF and the first standard XMP block."""
    found = RawMetadata()
    for marker, payload in jpeg.segments:
        if marker != _APP1 or payload is None:
            continue
        if found.exif is None and payload.startswith(EXIF_ID):
            found.exif = payload[len(EXIF_ID) :]
        elif found.xmp is None and payload.startswith(XMP_ID):
            found.xmp = payload[len(XMP_ID) :]
    return found


def frame(jpeg: JpegFile) -> JpegFrame:
    """Size and components from the frame header, ICC and density from APP2 and JFIF."""
    header = next((p for m, p in jpeg.segments if m in _SOF and p is not None), None)
    if header is None or len(header) < 6:
        raise ContainerError("the JPEG has no frame header (SOF) before its image data", 2)
    height, width = int.from_bytes(header[1:3], "big"), int.from_bytes(header[3:5], "big")
    resolution = None
    for marker, payload in jpeg.segments:
        if marker == _APP0 and payload is not None and payload.startswith(_JFIF_ID):
            unit = payload[7] if len(payload) >= 12 else 0
            x, y = int.from_bytes(payload[8:10], "big"), int.from_bytes(payload[10:12], "big")
            # JFIF units 1 (dpi) and 2 (dots per cm) are EXIF's ResolutionUnit 2 and 3;
            # unit 0 is only an aspect ratio, no resolution.
            if unit in (1, 2) and x and y:
                resolution = (x, y, unit + 1)
            break
    has_icc = any(m == _APP2 and p is not None and p.startswith(_ICC_ID) for m, p in jpeg.segments)
    return JpegFrame(width, height, header[5], has_icc, resolution)


def _is_ours(marker: int, payload: bytes | None) -> bool:
    return (
        marker == _APP1
        and payload is not None
        and (payload.startswith(EXIF_ID) or payload.startswith(XMP_ID))
    )


def rebuild(jpeg: JpegFile, *, exif: bytes, xmp: bytes) -> bytes:
    """The file with its EXIF and XMP segments replaced, right after any JFIF APP0."""
    if len(xmp) > MAX_XMP:
        raise MetadataError(
            f"the XMP packet would be {len(xmp):,} bytes, over the {MAX_XMP:,} a JPEG segment "
            "holds; strip large XMP content (e.g. editing history) first"
        )
    kept = [(m, p) for m, p in jpeg.segments if not _is_ours(m, p)]
    at = 0
    while at < len(kept) and kept[at][0] == _APP0:
        at += 1
    kept[at:at] = [(_APP1, EXIF_ID + exif), (_APP1, XMP_ID + xmp)]
    out = bytearray(b"\xff\xd8")
    for marker, payload in kept:
        out += bytes((0xFF, marker))
        if payload is not None:
            out += (len(payload) + 2).to_bytes(2, "big") + payload
    out += jpeg.tail
    return bytes(out)
