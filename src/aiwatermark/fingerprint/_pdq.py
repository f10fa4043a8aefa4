"""PDQ, Meta's 256-bit perceptual hash, computed by the ``pdqhash`` wrapper of the C++ reference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pdqhash
from PIL import Image

from .. import imageio
from ..errors import InvalidArgumentError

FINGERPRINT_ALG = "io.github.aiwatermark.pdq.1"
"""``alg`` of the fingerprint ``c2pa.soft-binding``: PDQ as computed by :func:`compute`.

PDQ has no entry in the C2PA soft-binding algorithm list (checked 2026-12-02), so the name is
reverse-domain, as for the watermark. The ``value`` is the base64 of the 32 hash bytes, in
the bit order of the reference implementation's hex form.
"""

BITS = 256

MATCH_THRESHOLD = 31
"""Largest Hamming distance at which two fingerprints count as the same picture.

Chosen from ``benchmarks/fingerprint.py`` (docs/fingerprint.md): every share the watermark
benchmark makes of an image stays below it, while distinct photographs sit near 128.
"""

MIN_QUALITY = 50
"""PDQ quality below which an image is too flat for its fingerprint to identify it; such
fingerprints are never looked up (PDQ's own recommendation)."""

HASH_SIZE = 512
"""Every image is resized to 512×512 before hashing. The reference file hasher reduces
larger images to this size (the hash reads a 64×64 summary, and its filter is slow on big
images); smaller ones are enlarged to it too, so that a thumbnail and its full-size original
hash alike (measured in docs/fingerprint.md: a half-size copy moves 12 bits instead of up to
58). For images under 512 px the hash differs from the reference file hasher's: by 12 bits
(median) on 256-px photo crops, more on soft ones — an outside PDQ of a small file may not
match."""


@dataclass(frozen=True)
class Fingerprint:
    """A PDQ perceptual fingerprint: 32 bytes and the hash's own quality score (0–100).

    Example:
        >>> from aiwatermark import fingerprint
        >>> a = fingerprint.compute("fixtures/astronaut.jpg")
        >>> len(a.value), a.quality >= fingerprint.MIN_QUALITY
        (32, True)
        >>> a.distance(a)
        0
    """

    value: bytes
    quality: int

    def __post_init__(self) -> None:
        if not isinstance(self.value, bytes) or len(self.value) != BITS // 8:
            raise InvalidArgumentError(
                f"a PDQ fingerprint is {BITS // 8} bytes, not {self.value!r:.40}"
            )

    @classmethod
    def from_hex(cls, text: str, quality: int = 100) -> Fingerprint:
        """A fingerprint from its 64-digit hex form (the form platforms exchange).

        Example:
            >>> from aiwatermark.fingerprint import Fingerprint
            >>> Fingerprint.from_hex("f" * 64).value[:2]
            b'\\xff\\xff'
        """
        try:
            return cls(bytes.fromhex(text), quality)
        except ValueError:
            raise InvalidArgumentError(f"not a 64-digit hex PDQ hash: {text!r:.80}") from None

    @property
    def hex(self) -> str:
        """The 64-digit hex form, as the reference implementation prints it."""
        return self.value.hex()

    @property
    def reliable(self) -> bool:
        """True when the image has enough structure for the fingerprint to identify it."""
        return self.quality >= MIN_QUALITY

    def distance(self, other: Fingerprint | bytes) -> int:
        """Hamming distance in bits (0 = identical, about 128 for unrelated images).

        Example:
            >>> from aiwatermark.fingerprint import Fingerprint
            >>> Fingerprint(bytes(32), 100).distance(b"\\x01" + bytes(31))
            1
        """
        return distance(self.value, other.value if isinstance(other, Fingerprint) else other)

    def matches(self, other: Fingerprint | bytes, threshold: int = MATCH_THRESHOLD) -> bool:
        """True when ``other`` is within ``threshold`` bits: the same picture, re-shared."""
        return self.distance(other) <= threshold

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict.

        Example:
            >>> from aiwatermark.fingerprint import Fingerprint
            >>> Fingerprint(bytes(32), 90).to_dict()["quality"]
            90
        """
        return {"alg": FINGERPRINT_ALG, "value": self.hex, "quality": self.quality}

    def __repr__(self) -> str:
        return f"Fingerprint({self.hex[:16]}…, quality={self.quality})"


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def distance(a: bytes, b: bytes) -> int:
    """Hamming distance between two 32-byte PDQ values.

    Example:
        >>> from aiwatermark.fingerprint import distance
        >>> distance(bytes(32), b"\\xff" * 32)
        256
    """
    if len(a) != BITS // 8 or len(b) != BITS // 8:
        raise InvalidArgumentError("PDQ values are 32 bytes each")
    x = np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)
    return int(_POPCOUNT[x].sum())


def compute(image: imageio.ImageSource) -> Fingerprint:
    """The PDQ fingerprint of an image's pixels (alpha is ignored, greyscale is fine).

    Example:
        >>> from aiwatermark import fingerprint
        >>> fingerprint.compute("fixtures/coffee.png").hex[:8]
        '88629e77'
    """
    # The reduced decode verify reads, so a file's fingerprint is the same bits here as
    # there, without decoding a large file at full size.
    opened, _ = imageio.open_reduced(image)
    colour, _ = imageio.split_alpha(opened)
    if colour.size != (HASH_SIZE, HASH_SIZE):
        size = (HASH_SIZE, HASH_SIZE)
        colour = colour.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    pixels = np.asarray(colour.convert("RGB"))
    bits, quality = pdqhash.compute(np.ascontiguousarray(pixels))
    return Fingerprint(np.packbits(bits.astype(np.uint8)).tobytes(), int(quality))
