"""WebP at RIFF-chunk level: EXIF and XMP chunks are replaced, image chunks are kept.

A simple (VP8 or VP8L only) file becomes an extended one: a VP8X header is added with the
canvas size read from the bitstream, since only VP8X files may carry metadata.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._raw import ContainerError, RawMetadata, strip_exif_header

_ALPHA, _EXIF, _XMP = 0x10, 0x08, 0x04  # VP8X flag bits we set
_IMAGE_CHUNKS = {b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L"}
_MAX_CANVAS = 1 << 24


@dataclass
class WebpFile:
    chunks: list[tuple[bytes, bytes]]  # (fourcc, payload without padding)
    tail: bytes  # bytes after the RIFF container, kept verbatim


def parse(data: bytes, problems: list[str] | None = None) -> WebpFile:
    """Split ``data`` into RIFF chunks.

    A broken structure raises :class:`ContainerError`, or, when a ``problems`` list is given,
    is noted there and ends the walk.
    """
    chunks: list[tuple[bytes, bytes]] = []
    tail = b""
    try:
        if len(data) < 12:
            raise ContainerError("the RIFF header is truncated", len(data))
        end = 8 + int.from_bytes(data[4:8], "little")
        if end > len(data):
            truncated = ContainerError(
                f"the RIFF header declares {end:,} bytes but the file has {len(data):,}", 4
            )
            if problems is None:
                raise truncated
            problems.append(str(truncated))  # read on: the metadata may still be all there
            end = len(data)
        tail = data[end:]
        pos = 12
        while pos < end:
            if pos + 8 > end:
                raise ContainerError("a chunk header is cut off", pos)
            fourcc = data[pos : pos + 4]
            length = int.from_bytes(data[pos + 4 : pos + 8], "little")
            if pos + 8 + length > end:
                raise ContainerError(
                    f"chunk {fourcc!r} declares {length:,} bytes but {end - pos - 8:,} remain", pos
                )
            if not chunks and fourcc not in (b"VP8 ", b"VP8L", b"VP8X"):
                raise ContainerError(f"the first chunk is {fourcc!r}, not VP8/VP8L/VP8X", pos)
            chunks.append((fourcc, data[pos + 8 : pos + 8 + length]))
            pos += 8 + length + (length & 1)
        if not chunks:
            raise ContainerError("the file has no image chunk", 12)
    except ContainerError as exc:
        if problems is None:
            raise
        problems.append(str(exc))
    return WebpFile(chunks, tail)


def metadata(webp: WebpFile) -> RawMetadata:
    """The first EXIF and XMP chunks."""
    found = RawMetadata()
    for fourcc, payload in webp.chunks:
        if fourcc == b"EXIF" and found.exif is None:
            found.exif = strip_exif_header(payload)
        elif fourcc == b"XMP " and found.xmp is None:
            found.xmp = payload
    return found


def _canvas(fourcc: bytes, payload: bytes) -> tuple[int, int, bool]:
    """(width, height, has_alpha) from a VP8 or VP8L bitstream header."""
    if fourcc == b"VP8 ":
        if len(payload) < 10 or payload[3:6] != b"\x9d\x01\x2a" or payload[0] & 1:
            raise ContainerError("the VP8 bitstream has no key-frame header", 20)
        width = int.from_bytes(payload[6:8], "little") & 0x3FFF
        height = int.from_bytes(payload[8:10], "little") & 0x3FFF
        return width, height, False
    if len(payload) < 5 or payload[0] != 0x2F:
        raise ContainerError("the VP8L bitstream has no signature", 20)
    bits = int.from_bytes(payload[1:5], "little")
    if bits >> 29:
        raise ContainerError("unknown VP8L version", 21)
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool(bits >> 28 & 1)


def _vp8x(flags: int, width: int, height: int) -> bytes:
    return (
        bytes((flags, 0, 0, 0))
        + (width - 1).to_bytes(3, "little")
        + (height - 1).to_bytes(3, "little")
    )


def rebuild(webp: WebpFile, *, exif: bytes, xmp: bytes) -> bytes:
    """The file with its EXIF and XMP chunks replaced and the VP8X flags set to match."""
    chunks = [(f, p) for f, p in webp.chunks if f not in (b"EXIF", b"XMP ")]
    first, payload = chunks[0]
    if first == b"VP8X":
        if len(payload) < 10:
            raise ContainerError("the VP8X chunk is truncated", 20)
        chunks[0] = (first, bytes((payload[0] | _EXIF | _XMP,)) + payload[1:])
    else:
        width, height, alpha = _canvas(first, payload)
        if not (0 < width <= _MAX_CANVAS and 0 < height <= _MAX_CANVAS):
            raise ContainerError("the bitstream declares an impossible canvas size", 20)
        flags = _EXIF | _XMP | (_ALPHA if alpha else 0)
        chunks.insert(0, (b"VP8X", _vp8x(flags, width, height)))
    # EXIF and XMP follow the image data, before any unknown chunks (WebP container spec).
    at = max(i for i, (fourcc, _) in enumerate(chunks) if fourcc in _IMAGE_CHUNKS) + 1
    chunks[at:at] = [(b"EXIF", exif), (b"XMP ", xmp)]
    body = bytearray(b"WEBP")
    for fourcc, data in chunks:
        body += fourcc + len(data).to_bytes(4, "little") + data
        if len(data) & 1:
            body += b"\x00"
    if len(body) > 0xFFFFFFFF:
        raise ContainerError("the result would exceed the 4 GiB RIFF limit", 4)
    return b"RIFF" + len(body).to_bytes(4, "little") + bytes(body) + webp.tail
