"""Invisible watermark: a keyed, blind, robust mark carrying a 64-bit payload.

The payload (plus a version and a CRC-5, BCH-coded to 255 bits) is spread over the mid-band
spectrum of a 128-pixel periodic tile added to luma and chroma, scaled by a perceptual mask.
Detection re-synchronises (untouched geometry, then the tile's autocorrelation lattice, then
a coherent scale search), so resizing, aspect changes, rotation, flips and crops are undone;
it folds the image into one tile and decodes. See docs/watermark.md. Modules:
``_codec`` (payload and BCH), ``_pattern`` (keyed tile), ``_transform`` (luma, resampling,
whitened spectrum), ``_sync`` (lattice, folding, orientation), ``_mask`` (perceptual
strength), ``_statistic`` (false-positive bound).

Example:
    >>> from aiwatermark import invisible
    >>> invisible.PAYLOAD_BITS
    64
"""

from ._pattern import PUBLIC_KEY
from ._watermark import FALSE_POSITIVE_RATE, MIN_SIZE, PAYLOAD_BITS, Detection, detect, embed

__all__ = [
    "FALSE_POSITIVE_RATE",
    "MIN_SIZE",
    "PAYLOAD_BITS",
    "PUBLIC_KEY",
    "Detection",
    "detect",
    "embed",
]
