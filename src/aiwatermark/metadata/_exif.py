"""EXIF: a bounds-checked TIFF reader, and a writer that lays every IFD out as the spec asks.

Both are our own. piexif trusts declared value counts (``struct.unpack("B" * count)`` with a
count taken from the file), so a hostile 4-billion count would exhaust memory; and
``piexif.dump`` leaves out the Exif IFD's next-IFD link, so its first value overlaps the IFD
("UserComment overlaps IFD" in ``exiftool -validate``). Entries are copied as raw bytes in
the block's own byte order, so tags we do not know survive unchanged.
"""

from __future__ import annotations

import contextlib
import struct
from dataclasses import dataclass

from ..errors import MetadataError
from . import _vocabulary

IMAGE_DESCRIPTION = 0x010E
SOFTWARE = 0x0131
X_RESOLUTION = 0x011A
Y_RESOLUTION = 0x011B
RESOLUTION_UNIT = 0x0128
YCBCR_POSITIONING = 0x0213
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
INTEROP_IFD = 0xA005
EXIF_VERSION = 0x9000
COMPONENTS_CONFIGURATION = 0x9101
USER_COMMENT = 0x9286
FLASHPIX_VERSION = 0xA000
COLOR_SPACE = 0xA001
PIXEL_X_DIMENSION = 0xA002
PIXEL_Y_DIMENSION = 0xA003
GPS_VERSION_ID = 0x0000
THUMBNAIL_OFFSET = 0x0201
THUMBNAIL_LENGTH = 0x0202

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
_BYTE, _ASCII, _SHORT, _LONG, _RATIONAL, _UNDEFINED = 1, 2, 3, 4, 5, 7

# Tags whose values are offsets into the block. The sub-IFDs and the JPEG thumbnail are
# followed and re-pointed; strips, tiles and SubIFDs are not copied, so their offsets would
# point at nothing after the block is laid out anew.
_POINTERS = {EXIF_IFD, GPS_IFD, INTEROP_IFD, THUMBNAIL_OFFSET, THUMBNAIL_LENGTH}
_UNFOLLOWED = {0x0111, 0x0117, 0x0144, 0x0145, 0x014A}
_SKIPPED = _POINTERS | _UNFOLLOWED
_IFD0, _EXIF, _INTEROP, _GPS, _IFD1 = "IFD0", "Exif", "Interop", "GPS", "IFD1"
_ORDER = (_IFD0, _EXIF, _INTEROP, _GPS, _IFD1)

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
        size = struct.calcsize(self.endian + fmt)  # native "L" would be 8 bytes
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


@dataclass(frozen=True)
class JpegFrame:
    """What the EXIF tags a JPEG must carry say about its image, taken from the JPEG itself."""

    width: int
    height: int
    components: int
    has_icc: bool
    resolution: tuple[int, int, int] | None  # (x, y, unit: 2 inch, 3 cm) from JFIF, if given


@dataclass(frozen=True)
class _Value:
    type: int
    count: int
    data: bytes  # in the block's byte order


@dataclass
class _Exif:
    endian: str
    ifds: dict[str, dict[int, _Value]]
    thumbnail: bytes | None


def _values(tiff: _Tiff, entries: dict[int, _Entry]) -> dict[int, _Value]:
    return {tag: _Value(e.type, e.count, tiff.value(e)) for tag, e in entries.items()}


def _parse(block: bytes) -> _Exif:
    """Every IFD of ``block`` as raw entries; raises :class:`ExifError` if it is unsound."""
    tiff = _Tiff(block)
    zeroth, first = tiff.ifd(tiff._unpack("L", 4))
    found = {_IFD0: zeroth}
    if (offset := tiff.pointer(zeroth, EXIF_IFD)) is not None:
        found[_EXIF], _ = tiff.ifd(offset)
        if (offset := tiff.pointer(found[_EXIF], INTEROP_IFD)) is not None:
            found[_INTEROP], _ = tiff.ifd(offset)
    if (offset := tiff.pointer(zeroth, GPS_IFD)) is not None:
        found[_GPS], _ = tiff.ifd(offset)
    thumbnail = None
    if first:
        entries, _ = tiff.ifd(first)
        start = tiff.pointer(entries, THUMBNAIL_OFFSET)
        length = tiff.pointer(entries, THUMBNAIL_LENGTH)
        # An uncompressed (strip) thumbnail is not copied, and its IFD is useless without it.
        if start is not None and length is not None and not entries.keys() & _UNFOLLOWED:
            if start + length > len(block):
                raise ExifError(f"the EXIF thumbnail claims {length:,} bytes past the block's end")
            thumbnail = block[start : start + length]
            found[_IFD1] = entries
    # Real writers never share value bytes between entries; a block that does could make
    # the copy many times its own size.
    if sum(e.size for entries in found.values() for e in entries.values()) > len(block):
        raise ExifError("EXIF values overlap one another")
    ifds = {
        name: {tag: value for tag, value in _values(tiff, entries).items() if tag not in _SKIPPED}
        for name, entries in found.items()
    }
    return _Exif(tiff.endian, ifds, thumbnail)


def _padded(data: bytes) -> int:
    return len(data) + (len(data) & 1)


def _ifd_size(entries: dict[int, _Value]) -> int:
    return (
        2
        + 12 * len(entries)
        + 4
        + sum(_padded(v.data) for v in entries.values() if len(v.data) > 4)
    )


def _serialise(exif: _Exif) -> bytes:
    """A TIFF structure: IFDs in a fixed order, values word-aligned after their own IFD."""
    e = exif.endian
    written = {
        _IFD0: True,
        _EXIF: bool(exif.ifds.get(_EXIF) or exif.ifds.get(_INTEROP)),
        _INTEROP: bool(exif.ifds.get(_INTEROP)),
        _GPS: bool(exif.ifds.get(_GPS)),
        _IFD1: exif.thumbnail is not None,
    }
    ifds = {name: dict(exif.ifds.get(name, {})) for name in _ORDER if written[name]}
    links = {_EXIF: (_IFD0, EXIF_IFD), _GPS: (_IFD0, GPS_IFD), _INTEROP: (_EXIF, INTEROP_IFD)}
    for name, (parent, tag) in links.items():
        if name in ifds and parent in ifds:
            ifds[parent][tag] = _Value(_LONG, 1, b"\0\0\0\0")  # the size is what counts here
    if _IFD1 in ifds:
        ifds[_IFD1][THUMBNAIL_OFFSET] = _Value(_LONG, 1, b"\0\0\0\0")
        ifds[_IFD1][THUMBNAIL_LENGTH] = _long(e, len(exif.thumbnail or b""))
    offsets: dict[str, int] = {}
    at = 8
    for name, entries in ifds.items():
        offsets[name] = at
        at += _ifd_size(entries)
    for name, (parent, tag) in links.items():
        if name in ifds and parent in ifds:
            ifds[parent][tag] = _long(e, offsets[name])
    if _IFD1 in ifds:
        ifds[_IFD1][THUMBNAIL_OFFSET] = _long(e, at)
    out = bytearray(b"II*\x00" if e == "<" else b"MM\x00*")
    out += struct.pack(e + "L", 8)
    for name, entries in ifds.items():
        following = offsets[_IFD1] if name == _IFD0 and _IFD1 in ifds else 0
        values = bytearray()
        values_at = offsets[name] + 2 + 12 * len(entries) + 4
        out += struct.pack(e + "H", len(entries))
        for tag in sorted(entries):
            value = entries[tag]
            out += struct.pack(e + "HHL", tag, value.type, value.count)
            if len(value.data) <= 4:
                out += value.data.ljust(4, b"\0")
            else:
                out += struct.pack(e + "L", values_at + len(values))
                values += value.data + b"\0" * (len(value.data) & 1)
        out += struct.pack(e + "L", following) + values
    if _IFD1 in ifds:
        out += exif.thumbnail or b""
    return bytes(out)


def _long(endian: str, number: int) -> _Value:
    return _Value(_LONG, 1, struct.pack(endian + "L", number))


def _short(endian: str, number: int) -> _Value:
    return _Value(_SHORT, 1, struct.pack(endian + "H", number))


def _dimension(endian: str, number: int) -> _Value:
    return _short(endian, number) if number <= 0xFFFF else _long(endian, number)


def _text(value: str) -> _Value:
    data = value.encode() + b"\0"
    return _Value(_ASCII, len(data), data)


def _undefined(data: bytes) -> _Value:
    return _Value(_UNDEFINED, len(data), data)


def _user_comment(endian: str, text: str) -> _Value:
    if text.isascii():
        return _undefined(b"ASCII\0\0\0" + text.encode("ascii"))
    # EXIF's UNICODE is UCS-2 in the byte order of the block it sits in.
    codec = "utf-16-le" if endian == "<" else "utf-16-be"
    return _undefined(b"UNICODE\0" + text.encode(codec))


def _require_for_jpeg(exif: _Exif, frame: JpegFrame) -> None:
    """Add the tags EXIF 2.3 requires in a JPEG (``exiftool -validate`` checks them)."""
    e = exif.endian
    x, y, unit = frame.resolution or (72, 72, 2)
    # IFD1 describes the thumbnail, which needs its own resolution; its true one is unknown.
    for ifd in (exif.ifds[_IFD0], exif.ifds.get(_IFD1)):
        if ifd is not None:
            ifd.setdefault(X_RESOLUTION, _Value(_RATIONAL, 1, struct.pack(e + "LL", x, 1)))
            ifd.setdefault(Y_RESOLUTION, _Value(_RATIONAL, 1, struct.pack(e + "LL", y, 1)))
            ifd.setdefault(RESOLUTION_UNIT, _short(e, unit))
    exif.ifds[_IFD0].setdefault(YCBCR_POSITIONING, _short(e, 1))  # centred, as libjpeg samples
    sub = exif.ifds.setdefault(_EXIF, {})
    sub.setdefault(EXIF_VERSION, _undefined(b"0232"))
    components = b"\x01\0\0\0" if frame.components == 1 else b"\x01\x02\x03\0"
    sub.setdefault(COMPONENTS_CONFIGURATION, _undefined(components))
    sub.setdefault(FLASHPIX_VERSION, _undefined(b"0100"))
    # With an embedded ICC profile the colours are not necessarily sRGB: "uncalibrated".
    sub.setdefault(COLOR_SPACE, _short(e, 0xFFFF if frame.has_icc else 1))
    # The real size always: a copied camera value is stale once the picture was resized.
    sub[PIXEL_X_DIMENSION] = _dimension(e, frame.width)
    sub[PIXEL_Y_DIMENSION] = _dimension(e, frame.height)
    if gps := exif.ifds.get(_GPS):
        gps.setdefault(GPS_VERSION_ID, _Value(_BYTE, 4, b"\x02\x03\x00\x00"))


def without_thumbnail(block: bytes) -> bytes | None:
    """``block`` laid out anew without its IFD1 thumbnail; None when it cannot be read."""
    try:
        exif = _parse(block)
    except ExifError:
        return None
    exif.thumbnail = None
    return _serialise(exif)


def merge(
    block: bytes | None,
    source_type: str,
    generator: str | None,
    *,
    jpeg: JpegFrame | None = None,
    max_size: int | None = None,
) -> bytes:
    """``block`` (a TIFF structure, or None) with our tags set; returns a TIFF structure.

    ImageDescription gets the disclosure sentence in front of any existing caption,
    Software the generator (kept when ``generator`` is None), UserComment the long sentence.
    For a JPEG (``jpeg`` given) the tags EXIF requires there are added where missing. A
    block that cannot be read is replaced: nobody could have read what it held.
    """
    exif = _Exif(">", {_IFD0: {}, _EXIF: {EXIF_VERSION: _undefined(b"0232")}}, None)
    if block is not None:
        with contextlib.suppress(ExifError):
            exif = _parse(block)
    zeroth = exif.ifds[_IFD0]
    old = zeroth.get(IMAGE_DESCRIPTION)
    old_text = _ascii(old.data) if old is not None and old.type == _ASCII else None
    zeroth[IMAGE_DESCRIPTION] = _text(_vocabulary.merge_description(old_text, source_type))
    if generator is not None:
        zeroth[SOFTWARE] = _text(generator)
    comment = _vocabulary.user_comment(source_type, generator)
    exif.ifds.setdefault(_EXIF, {})[USER_COMMENT] = _user_comment(exif.endian, comment)
    if jpeg is not None:
        _require_for_jpeg(exif, jpeg)
    out = _serialise(exif)
    if max_size is not None and len(out) > max_size and exif.thumbnail is not None:
        exif.thumbnail = None
        out = _serialise(exif)
    if max_size is not None and len(out) > max_size:
        raise MetadataError(
            f"the EXIF block would be {len(out):,} bytes, over the {max_size:,} a JPEG "
            "segment holds; strip large EXIF fields (maker notes) first"
        )
    return out
