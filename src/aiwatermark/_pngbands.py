"""Decode a large PNG a band of rows at a time, shrinking each band as soon as it is decoded.

Pillow decodes a PNG whole: 600 MB for a 150-megapixel RGB picture, when the layers that
read it need a copy a tenth of its side. Here the image data is inflated band by band, and
each band is handed to Pillow as a small PNG of its own, so Pillow still does the
unfiltering. A filtered row depends on the decoded row above it (Up, Average and Paeth
filters), so every band but the first starts with the previous band's last decoded row,
written unfiltered (filter type 0); that row is left out of the reduction. The small PNGs
hold their rows in zlib's stored (uncompressed) blocks: Pillow only copies them out.

Only the common layouts take this path: non-interlaced, 8 bits per sample, grey, RGB,
palette, grey + alpha or RGBA, with intact header and palette checksums (Pillow checks
those, and skips the image data's, as this does). :func:`decode_reduced` returns None for
anything else, and the caller decodes the file whole as before, so an unusual or damaged
file gives exactly the result or the error it always gave.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Iterator

from PIL import Image

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
_BAND_BYTES = 8 << 20  # filtered bytes inflated per band; Pillow's copy of a band is ~1.3×
_STORED_BLOCK = 65535  # the most a stored deflate block holds
# A chunk Pillow reads EXIF from besides eXIf; its rare files take the whole-file path.
_EXIF_TEXT = b"Raw profile type exif\x00"
_Buffer = bytes | memoryview


class _Layout:
    def __init__(self) -> None:
        self.header = b""
        self.palette: list[bytes] = []  # PLTE and tRNS chunks, copied into every band
        self.data: list[memoryview] = []
        self.exif: bytes | None = None


def _chunks(data: bytes) -> Iterator[tuple[bytes, memoryview, int]]:
    """(type, body, stored checksum) of every chunk up to IEND."""
    view = memoryview(data)
    pos = len(_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        kind = bytes(view[pos + 4 : pos + 8])
        end = pos + 12 + length
        if end > len(data):
            return
        (crc,) = struct.unpack_from(">I", data, pos + 8 + length)
        yield kind, view[pos + 8 : pos + 8 + length], crc
        if kind == b"IEND":
            return
        pos = end


def _layout(data: bytes) -> _Layout | None:
    if not data.startswith(_SIGNATURE):
        return None
    found = _Layout()
    for kind, body, crc in _chunks(data):
        if kind in (b"IHDR", b"PLTE", b"tRNS") and zlib.crc32(body, zlib.crc32(kind)) != crc:
            return None
        if kind == b"IHDR":
            found.header = bytes(body)
        elif kind in (b"PLTE", b"tRNS"):
            found.palette.append(_chunk(kind, [body]))
        elif kind == b"IDAT":
            found.data.append(body)
        elif kind == b"eXIf":
            found.exif = b"Exif\x00\x00" + bytes(body)
        elif kind in (b"tEXt", b"zTXt", b"iTXt") and bytes(body[: len(_EXIF_TEXT)]) == _EXIF_TEXT:
            return None
        elif kind in (b"acTL", b"fcTL", b"fdAT"):
            return None  # animated PNG: the whole-file path reads it as Pillow always did
    if len(found.header) != 13 or not found.data:
        return None
    return found


def _chunk(kind: bytes, body: list[_Buffer]) -> bytes:
    crc = zlib.crc32(kind)
    for part in body:
        crc = zlib.crc32(part, crc)
    length = sum(len(part) for part in body)
    return b"".join([struct.pack(">I", length), kind, *body, struct.pack(">I", crc)])


def _stored(pieces: list[_Buffer]) -> list[_Buffer]:
    """A zlib stream holding ``pieces`` in stored blocks, as buffers to join."""
    total = sum(len(piece) for piece in pieces)
    stream: list[_Buffer] = [b"\x78\x01"]  # deflate, 32 KB window, no preset dictionary
    adler, done = 1, 0
    for piece in pieces:
        view = memoryview(piece)
        adler = zlib.adler32(view, adler)
        for start in range(0, len(view), _STORED_BLOCK):
            block = view[start : start + _STORED_BLOCK]
            done += len(block)
            stream.append(struct.pack("<BHH", done == total, len(block), len(block) ^ 0xFFFF))
            stream.append(block)
    stream.append(struct.pack(">I", adler))
    return stream


def decode_reduced(
    data: bytes, factor: int, convert: Callable[[Image.Image], Image.Image]
) -> Image.Image | None:
    """The PNG in ``data`` shrunk by the whole ``factor`` (box average, as ``Image.reduce``).

    ``convert`` turns each decoded band into the mode the caller wants (it must not change
    the size). None when the file is not one this decoder takes (see the module docstring).
    """
    layout = _layout(data)
    if layout is None:
        return None
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", layout.header
    )
    if depth != 8 or colour not in _CHANNELS or (compression, filtering, interlace) != (0, 0, 0):
        return None
    if width == 0 or height == 0:
        return None
    row_bytes = 1 + width * _CHANNELS[colour]
    band = max(1, _BAND_BYTES // (row_bytes * factor)) * factor
    inflate = zlib.decompressobj()
    parts = iter(layout.data)

    def take(count: int) -> list[_Buffer] | None:
        """The next ``count`` bytes of filtered rows, in pieces; None if the data ends."""
        pieces: list[_Buffer] = []
        while count > 0:
            source = inflate.unconsumed_tail or next(parts, b"")
            try:
                more = inflate.decompress(source, count)
            except zlib.error:
                return None
            if not more and not source:
                return None
            pieces.append(more)
            count -= len(more)
        return pieces

    out: Image.Image | None = None
    previous: bytes | None = None
    for top in range(0, height, band):
        rows = min(band, height - top)
        pieces = take(rows * row_bytes)
        if pieces is None:
            return None  # truncated or damaged: the whole-file decoder reports it
        skip = 0 if previous is None else 1
        if previous is not None:
            pieces.insert(0, b"\x00" + previous)
        header = bytearray(layout.header)
        struct.pack_into(">I", header, 4, rows + skip)
        small = b"".join(
            [
                _SIGNATURE,
                _chunk(b"IHDR", [bytes(header)]),
                *layout.palette,
                _chunk(b"IDAT", _stored(pieces)),
                _chunk(b"IEND", []),
            ]
        )
        del pieces
        try:
            decoded: Image.Image = Image.open(io.BytesIO(small))
            decoded.load()
        except (OSError, SyntaxError, ValueError):
            return None  # e.g. an unknown filter type: the whole-file decoder reports it
        del small
        lines = rows + skip
        previous = decoded.crop((0, lines - 1, width, lines)).tobytes()
        shrunk = convert(decoded).reduce(factor, box=(0, skip, width, lines))
        if out is None:
            out = Image.new(shrunk.mode, (-(-width // factor), -(-height // factor)))
        out.paste(shrunk, (0, top // factor))
    if out is not None and layout.exif is not None:
        out.info["exif"] = layout.exif
    return out
