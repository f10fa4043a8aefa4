"""AI-disclosure metadata: IPTC digital source type in XMP, EXIF and PNG text, no re-encode.

:func:`disclose` edits a JPEG, PNG or WebP file at the byte level (segments and chunks), so
the pixels, and any invisible watermark in them, stay exactly as they were; only metadata
blocks are added or replaced. AVIF metadata cannot be edited in place; :func:`encoder_params`
gives Pillow's AVIF encoder the same blocks to write as it makes the file.
:func:`read_disclosure` reads the result back (JPEG, PNG, WebP and AVIF), from files written
here or by other tools.

==================  =====================================================================
location            what is written
==================  =====================================================================
XMP (all formats)   ``Iptc4xmpExt:DigitalSourceType`` (IPTC URI), ``xmp:CreatorTool``
EXIF (JPEG, WebP,   ImageDescription (sentence), Software (generator), UserComment;
AVIF)               in a JPEG also the tags EXIF requires there, where missing
PNG text            ``DigitalSourceType`` (URI), ``Description`` (sentence), ``Software``
==================  =====================================================================

Example:
    >>> from importlib.resources import files
    >>> from aiwatermark import metadata
    >>> jpeg = files("aiwatermark").joinpath("data/sample.jpg").read_bytes()
    >>> marked = metadata.disclose(jpeg, generator="Example Diffusion 2")
    >>> metadata.read_disclosure(marked).digital_source_type
    'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia'
"""

from __future__ import annotations

from ._disclosure import (
    Disclosure,
    Finding,
    disclose,
    drop_thumbnail,
    encoder_params,
    read_disclosure,
    write_disclosure,
)
from ._vocabulary import (
    AI_SOURCE_TYPES,
    ALGORITHMIC_MEDIA,
    COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
    TRAINED_ALGORITHMIC_MEDIA,
    normalise_source_type,
)
from ._xmp import IPTC_EXT_NS

__all__ = [
    "AI_SOURCE_TYPES",
    "ALGORITHMIC_MEDIA",
    "COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA",
    "IPTC_EXT_NS",
    "TRAINED_ALGORITHMIC_MEDIA",
    "Disclosure",
    "Finding",
    "disclose",
    "drop_thumbnail",
    "encoder_params",
    "normalise_source_type",
    "read_disclosure",
    "write_disclosure",
]
