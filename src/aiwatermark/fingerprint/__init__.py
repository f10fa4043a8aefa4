"""Perceptual fingerprints: recognise a picture after re-encoding, resizing and metadata loss.

The invisible watermark says *which* registration an image claims; the fingerprint says
whether the pixels are really that image. :func:`compute` gives a PDQ hash (Meta's open
256-bit perceptual hash, what platforms exchange for matching); two images whose
fingerprints are within :data:`MATCH_THRESHOLD` bits are the same picture.
:class:`FingerprintIndex` finds registered fingerprints near a query without scanning them
all. docs/fingerprint.md has the measurements the threshold is chosen from.

Example:
    >>> from aiwatermark import fingerprint
    >>> original = fingerprint.compute("fixtures/astronaut.jpg")
    >>> other = fingerprint.compute("fixtures/coffee.png")
    >>> original.matches(original), original.matches(other)
    (True, False)
"""

from ._index import FingerprintIndex
from ._pdq import (
    BITS,
    FINGERPRINT_ALG,
    MATCH_THRESHOLD,
    MIN_QUALITY,
    Fingerprint,
    compute,
    distance,
)

__all__ = [
    "BITS",
    "FINGERPRINT_ALG",
    "MATCH_THRESHOLD",
    "MIN_QUALITY",
    "Fingerprint",
    "FingerprintIndex",
    "compute",
    "distance",
]
