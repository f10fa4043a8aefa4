"""What a container walk found, before any of it is interpreted."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

MAX_INFLATED = 16 * 1024 * 1024
"""Cap on decompressed PNG text, so a zip bomb in a zTXt/iTXt chunk cannot eat memory."""


@dataclass
class RawMetadata:
    """Undecoded metadata blocks of one file, plus what went wrong while walking it."""

    xmp: bytes | None = None
    exif: bytes | None = None  # TIFF structure, without the JPEG "Exif\0\0" header
    texts: dict[str, str] = field(default_factory=dict)  # PNG text chunks, first of each key
    problems: list[str] = field(default_factory=list)


class ContainerError(Exception):
    """The file's segment/chunk structure is broken at ``offset``."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at byte {offset})")
        self.offset = offset


def inflate(data: bytes) -> bytes | None:
    """zlib-decompress at most :data:`MAX_INFLATED` bytes; None when damaged or too large."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_INFLATED)
    except zlib.error:
        return None
    if inflater.unconsumed_tail:
        return None
    return out


def strip_exif_header(block: bytes) -> bytes:
    """EXIF as a bare TIFF structure: some writers keep the JPEG ``Exif\\0\\0`` prefix."""
    return block[6:] if block.startswith(b"Exif\x00\x00") else block
