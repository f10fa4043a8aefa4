"""EXIF: a bounds-checked reader for our three tags, and a piexif-based merge.

piexif trusts declared value counts (``struct.unpack("B" * count)`` with a count taken from
the file), so a hostile 4-billion count would exhaust memory. Every EXIF block is walked
and bounds-checked here before piexif sees it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import piexif
import piexif.helper

from ..errors import MetadataError
from . import _vocabulary

IMAGE_DESCRIPTION = 0x010E
SOFTWARE = 0x0131
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
INTEROP_IFD = 0xA005
USER_COMMENT = 0x9286

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
_LONG, _UNDEFINED = 4, 7

_COMMENT_CODECS = {
    b"ASCII\x00\x00\x00": "ascii",
    b"JIS\x00\x00\x00\x00\x00": "shift_jis",
    b"\x00\x00\x00\x00\x00\x00\x00\x00": "utf-8",
}


class ExifError(Exception):
    """The EXIF block is not a sound TIFF structure."""


@dataclass(frozen=True)
class ExifFields:
    description: str | None
    software: str | None
    user_comment: str | None


@dataclass(frozen=True)
class _Entry:
    type: int
    count: int
    offset: int  # where the value bytes start
    size: int


class _Tiff:
    def __init__(self, data: bytes) -> None:
        if data[:4] == b"II*\x00":
            self.endian = "<"
        elif data[:4] == b"MM\x00*":
            self.endian = ">"
        else:
            raise ExifError("EXIF does not start with a TIFF header")
        self.data = data

    def _unpack(self, fmt: str, offset: int) -> int:
        size = struct.calcsize(fmt)
        if offset < 0 or offset + size > len(self.data):
            raise ExifError(f"EXIF offset {offset} points outside the {len(self.data)}-byte block")
        value: int = struct.unpack_from(self.endian + fmt, self.data, offset)[0]
        return value

    def ifd(self, offset: int) -> tuple[dict[int, _Entry], int]:
        """The entries of the IFD at ``offset`` and the offset of the next IFD (0: none)."""
        count = self._unpack("H", offset)
        entries: dict[int, _Entry] = {}
        for index in range(count):
            at = offset + 2 + 12 * index
            tag, kind, number = (
                self._unpack("H", at),
                self._unpack("H", at + 2),
                self._unpack("L", at + 4),
            )
            width = _TYPE_SIZES.get(kind)
            if width is None:
                continue  # unknown type: skipped by every reader, piexif included
            size = width * number
            start = at + 8 if size <= 4 else self._unpack("L", at + 8)
            if start + size > len(self.data) or at + 12 > len(self.data):
                raise ExifError(f"EXIF tag 0x{tag:04x} claims {size:,} bytes past the block's end")
            entries.setdefault(tag, _Entry(kind, number, start, size))
        return entries, self._unpack("L", offset + 2 + 12 * count)

    def pointer(self, entries: dict[int, _Entry], tag: int) -> int | None:
        entry = entries.get(tag)
        if entry is None:
            return None
        if entry.type != _LONG or entry.count != 1:
            raise ExifError(f"EXIF sub-IFD pointer 0x{tag:04x} is not a single LONG")
        return self._unpack("L", entry.offset)

    def value(self, entry: _Entry) -> bytes:
        return self.data[entry.offset : entry.offset + entry.size]


def _ascii(raw: bytes) -> str | None:
    text = raw.split(b"\x00", 1)[0].decode("utf-8", errors="replace").strip()
    return text or None


def _comment(raw: bytes, endian: str) -> str | None:
    prefix, body = raw[:8], raw[8:]
    if prefix == b"UNICODE\x00":
        codec = "utf-16-le" if endian == "<" else "utf-16-be"
    else:
        codec = _COMMENT_CODECS.get(prefix, "utf-8")
    return _ascii(body.decode(codec, errors="replace").encode("utf-8"))


def read(block: bytes) -> ExifFields:
    """ImageDescription, Software and UserComment; raises :class:`ExifError` if unreadable."""
    tiff = _Tiff(block)
    zeroth, _ = tiff.ifd(tiff._unpack("L", 4))
    description = zeroth.get(IMAGE_DESCRIPTION)
    software = zeroth.get(SOFTWARE)
    comment = None
    exif_offset = tiff.pointer(zeroth, EXIF_IFD)
    if exif_offset is not None:
        exif, _ = tiff.ifd(exif_offset)
        entry = exif.get(USER_COMMENT)
        if entry is not None and entry.type == _UNDEFINED:
            comment = _comment(tiff.value(entry), tiff.endian)
    return ExifFields(
        _ascii(tiff.value(description)) if description else None,
        _ascii(tiff.value(software)) if software else None,
        comment,
    )


def _validate(block: bytes) -> None:
    """Bounds-check every IFD piexif will visit."""
    tiff = _Tiff(block)
    zeroth, first = tiff.ifd(tiff._unpack("L", 4))
    for tag in (EXIF_IFD, GPS_IFD):
        offset = tiff.pointer(zeroth, tag)
        if offset is not None:
            entries, _ = tiff.ifd(offset)
            if tag == EXIF_IFD and (interop := tiff.pointer(entries, INTEROP_IFD)) is not None:
                tiff.ifd(interop)
    if first:
        tiff.ifd(first)


def _load(block: bytes | None) -> dict[str, Any] | None:
    if block is None:
        return None
    try:
        _validate(block)
        loaded: dict[str, Any] = piexif.load(b"Exif\x00\x00" + block)
    # piexif raises an assortment (struct.error, ValueError, KeyError, TypeError...) on
    # bounded but odd data; a block it cannot load is treated like no block.
    except Exception:
        return None
    return loaded


def _dump(exif: dict[str, Any]) -> bytes:
    """piexif.dump, dropping what piexif cannot write back (odd thumbnails, mistyped tags)."""
    try:
        return bytes(piexif.dump(exif))
    except Exception:
        pass
    kept: dict[str, Any] = {"thumbnail": None, "1st": {}}
    for ifd in ("0th", "Exif", "GPS", "Interop"):
        kept[ifd] = {}
        for tag, value in exif.get(ifd, {}).items():
            try:
                piexif.dump({"Exif": {}, ifd: {tag: value}})
            except Exception:
                continue
            kept[ifd][tag] = value
    return bytes(piexif.dump(kept))


def merge(
    block: bytes | None,
    source_type: str,
    generator: str | None,
    *,
    max_size: int | None = None,
) -> bytes:
    """``block`` (a TIFF structure, or None) with our tags set; returns a TIFF structure.

    ImageDescription gets the disclosure sentence in front of any existing caption,
    Software the generator (kept when ``generator`` is None), UserComment the long sentence.
    """
    exif = _load(block) or {
        "0th": {},
        "Exif": {piexif.ExifIFD.ExifVersion: b"0232"},
        "GPS": {},
        "Interop": {},
        "1st": {},
    }
    exif.setdefault("thumbnail", None)
    zeroth = exif.setdefault("0th", {})
    old = zeroth.get(IMAGE_DESCRIPTION)
    old_text = _ascii(old) if isinstance(old, bytes) else None
    zeroth[IMAGE_DESCRIPTION] = _vocabulary.merge_description(old_text, source_type).encode()
    if generator is not None:
        zeroth[SOFTWARE] = generator.encode()
    comment = _vocabulary.user_comment(source_type, generator)
    encoding = "ascii" if comment.isascii() else "unicode"
    exif.setdefault("Exif", {})[USER_COMMENT] = piexif.helper.UserComment.dump(comment, encoding)
    out = _dump(exif)[6:]
    if max_size is not None and len(out) > max_size and exif.get("thumbnail") is not None:
        out = _dump({**exif, "1st": {}, "thumbnail": None})[6:]
    if max_size is not None and len(out) > max_size:
        raise MetadataError(
            f"the EXIF block would be {len(out):,} bytes, over the {max_size:,} a JPEG "
            "segment holds; strip large EXIF fields (maker notes) first"
        )
    return out
