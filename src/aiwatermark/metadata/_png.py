"""PNG at chunk level: XMP and text chunks are replaced, every other chunk is copied as is."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from ._raw import ContainerError, RawMetadata, inflate, strip_exif_header

SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_KEYWORD = "XML:com.adobe.xmp"
DESCRIPTION = "Description"
SOFTWARE = "Software"
DIGITAL_SOURCE_TYPE = "DigitalSourceType"
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
_MAX_CHUNK = 2**31 - 1


@dataclass
class PngFile:
    chunks: list[tuple[bytes, bytes, bytes]]  # (type, data, crc as stored)
    tail: bytes  # anything after IEND, kept verbatim


def parse(data: bytes, problems: list[str] | None = None) -> PngFile:
    """Split ``data`` into chunks (CRCs are kept, not checked: we copy what we do not edit).

    A broken structure raises :class:`ContainerError`, or, when a ``problems`` list is given,
    is noted there and ends the walk.
    """
    chunks: list[tuple[bytes, bytes, bytes]] = []
    pos, size = len(SIGNATURE), len(data)
    try:
        while True:
            if pos + 8 > size:
                raise ContainerError("the file ends before the IEND chunk", pos)
            length = int.from_bytes(data[pos : pos + 4], "big")
            kind = data[pos + 4 : pos + 8]
            if not kind.isalpha() or not kind.isascii():
                raise ContainerError(f"invalid chunk type {kind!r}", pos + 4)
            if not chunks and kind != b"IHDR":
                raise ContainerError("the first chunk is not IHDR", pos + 4)
            end = pos + 8 + length
            if length > _MAX_CHUNK or end + 4 > size:
                raise ContainerError(
                    f"chunk {kind.decode()} declares {length:,} bytes, "
                    f"{max(size - pos - 12, 0):,} remain",
                    pos,
                )
            chunks.append((kind, data[pos + 8 : end], data[end : end + 4]))
            pos = end + 4
            if kind == b"IEND":
                return PngFile(chunks, data[pos:])
    except ContainerError as exc:
        if problems is None:
            raise
        problems.append(str(exc))
        return PngFile(chunks, b"")


def _decode_text(kind: bytes, body: bytes) -> tuple[str, bytes | None]:
    """(keyword, text as UTF-8 bytes); the text is None when it cannot be decoded."""
    keyword_raw, sep, rest = body.partition(b"\x00")
    keyword = keyword_raw.decode("latin-1")
    if not sep:
        return keyword, None
    if kind == b"tEXt":
        return keyword, rest.decode("latin-1").encode("utf-8")
    if kind == b"zTXt":
        text = inflate(rest[1:]) if rest[:1] == b"\x00" else None
        return keyword, None if text is None else text.decode("latin-1").encode("utf-8")
    # iTXt: compression flag, method, language\0, translated keyword\0, UTF-8 text
    if len(rest) < 2:
        return keyword, None
    flag, method, rest = rest[0], rest[1], rest[2:]
    parts = rest.split(b"\x00", 2)
    if len(parts) != 3:
        return keyword, None
    text_bytes: bytes | None = parts[2]
    if flag == 1:
        text_bytes = inflate(parts[2]) if method == 0 else None
    elif flag != 0:
        text_bytes = None
    return keyword, text_bytes


def metadata(png: PngFile) -> RawMetadata:
    """The XMP packet, the eXIf block and the first text chunk of each keyword."""
    found = RawMetadata()
    for kind, body, _ in png.chunks:
        if kind == b"eXIf" and found.exif is None:
            found.exif = strip_exif_header(body)
        if kind not in _TEXT_CHUNKS:
            continue
        keyword, text = _decode_text(kind, body)
        if text is None:
            found.problems.append(f"unreadable {kind.decode()} chunk {keyword!r}")
        elif keyword == XMP_KEYWORD:
            if found.xmp is None:
                found.xmp = text
        else:
            found.texts.setdefault(keyword, text.decode("utf-8", errors="replace"))
    return found


def _chunk(kind: bytes, body: bytes) -> tuple[bytes, bytes, bytes]:
    return kind, body, zlib.crc32(kind + body).to_bytes(4, "big")


def text_chunk(keyword: str, text: str) -> tuple[bytes, bytes, bytes]:
    """tEXt when the text is Latin-1, else an uncompressed iTXt (UTF-8)."""
    try:
        return _chunk(b"tEXt", keyword.encode("latin-1") + b"\x00" + text.encode("latin-1"))
    except UnicodeEncodeError:
        return itxt_chunk(keyword, text.encode("utf-8"))


def itxt_chunk(keyword: str, text: bytes) -> tuple[bytes, bytes, bytes]:
    return _chunk(b"iTXt", keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text)


def rebuild(png: PngFile, replaced: set[str], new: list[tuple[bytes, bytes, bytes]]) -> bytes:
    """The file without text chunks whose keyword is in ``replaced``; ``new`` after IHDR."""
    kept: list[tuple[bytes, bytes, bytes]] = []
    for chunk in png.chunks:
        kind, body, _ = chunk
        if kind in _TEXT_CHUNKS and body.partition(b"\x00")[0].decode("latin-1") in replaced:
            continue
        kept.append(chunk)
    kept[1:1] = new
    out = bytearray(SIGNATURE)
    for kind, body, crc in kept:
        out += len(body).to_bytes(4, "big") + kind + body + crc
    out += png.tail
    return bytes(out)
