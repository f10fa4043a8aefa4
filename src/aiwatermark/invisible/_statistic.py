"""The detection statistic's null distribution: how often noise passes as a watermark.

On an unmarked image (or one read with the wrong key) the 255 recovered bits are independent
fair coins. A decoding attempt succeeds only if that random word lies within ``e`` bits of one
of the 2^71 BCH codewords *and* the decoded message carries version 0 and a matching CRC-5.
So for one attempt

    P(success with <= e corrections) = 2^71 * V(255, e) / 2^255 * 2^-(2 + 5)

where V(n, e) is the volume of a Hamming ball: a union over the 2^64 valid messages, so it
holds for any decoder that accepts only such codewords (algebraic or ordered-statistics).
Multiplying by the number of received words decoded (geometry candidates) gives a union
bound on the false-positive probability.
"""

from __future__ import annotations

from math import comb, log2

from ._bch import N, code
from ._codec import CRC_BITS, VERSION_BITS, T


def _ball(n: int, radius: int) -> int:
    return sum(comb(n, i) for i in range(radius + 1))


def attempt_false_positive(bit_errors: int) -> float:
    """P(one decoding attempt on random bits succeeds with at most ``bit_errors`` errors)."""
    k = code(T).k
    exponent = k - N - VERSION_BITS - CRC_BITS
    return float(2.0 ** (log2(_ball(N, bit_errors)) + exponent))


def false_positive_bound(bit_errors: int, attempts: int) -> float:
    """Union bound over ``attempts`` decoding attempts (capped at 1)."""
    return min(1.0, attempts * attempt_false_positive(bit_errors))
