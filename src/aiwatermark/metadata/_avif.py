"""AVIF: the EXIF and XMP items, read through Pillow's AVIF plugin (libavif).

An AVIF file is an ISOBMFF container whose metadata items are located through the ``meta``
box's item tables; libavif already walks those tables defensively, so this module does not
walk them again. Writing happens when the file is encoded (:func:`encoder_params` in
``_disclosure``): inserting items afterwards would move every absolute offset in ``iloc``.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, features

from ._raw import RawMetadata, strip_exif_header

_BRANDS = (b"avif", b"avis")


def supported() -> bool:
    """Whether this Pillow reads and writes AVIF (Pillow 11.2+ built with libavif)."""
    return bool(features.check("avif"))


def sniff(data: bytes) -> bool:
    """An ISOBMFF file whose major or a compatible brand is AVIF."""
    if data[4:8] != b"ftyp" or len(data) < 16:
        return False
    size = min(int.from_bytes(data[:4], "big"), len(data), 256)
    brands = [data[8:12]] + [data[at : at + 4] for at in range(16, size - 3, 4)]
    return any(brand in _BRANDS for brand in brands)


def metadata(data: bytes, problems: list[str]) -> tuple[RawMetadata, bool]:
    """The EXIF and XMP items, and whether the container could be read at all."""
    found = RawMetadata()
    if not supported():
        problems.append("this Pillow has no AVIF support (pip install 'pillow>=11.2')")
        return found, False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data), formats=["AVIF"]) as image:
                info = dict(image.info)
    # libavif's refusals arrive as whatever Pillow maps them to (OSError, ValueError,
    # SyntaxError, a decompression-bomb error...): all of them mean "unreadable container".
    except Exception as exc:
        problems.append(f"the AVIF container cannot be read ({exc})")
        return found, False
    exif, xmp = info.get("exif"), info.get("xmp")
    if isinstance(exif, bytes) and exif:
        found.exif = strip_exif_header(exif)
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    if isinstance(xmp, bytes) and xmp:
        found.xmp = xmp
    return found, True
