"""A binary BCH code over GF(2^8): n = 255, designed distance 2t + 1.

Pure Python/numpy (bchlib is GPL). Systematic encoding by polynomial division; hard-decision
decoding by syndromes, Berlekamp–Massey and a vectorised Chien search; soft-decision
decoding by ordered statistics (:meth:`BCH.ordered_statistics`).
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from itertools import combinations

import numpy as np

N = 255
_PRIMITIVE = 0x11D  # x^8 + x^4 + x^3 + x^2 + 1


def _tables() -> tuple[np.ndarray, np.ndarray]:
    exp = np.zeros(2 * N, dtype=np.int64)
    log = np.zeros(N + 1, dtype=np.int64)
    value = 1
    for i in range(N):
        exp[i] = value
        log[value] = i
        value <<= 1
        if value & 0x100:
            value ^= _PRIMITIVE
    exp[N:] = exp[:N]
    return exp, log


EXP, LOG = _tables()


def _multiplication_table() -> list[list[int]]:
    exp, log = EXP.tolist(), LOG.tolist()
    return [
        [0 if a == 0 or b == 0 else exp[log[a] + log[b]] for b in range(256)] for a in range(256)
    ]


_MUL = _multiplication_table()
_INV = [0] + [int(EXP[(N - LOG[a]) % N]) for a in range(1, 256)]


def _mul(a: int, b: int) -> int:
    return _MUL[a][b]


def _poly_mul_gf2(a: int, b: int) -> int:
    out = 0
    while b:
        if b & 1:
            out ^= a
        a <<= 1
        b >>= 1
    return out


def _minimal_polynomial(i: int) -> int:
    """Binary minimal polynomial of alpha^i, as an int whose bit k is the x^k coefficient."""
    coset = []
    j = i % N
    while j not in coset:
        coset.append(j)
        j = (2 * j) % N
    poly = [1]  # GF(256) coefficients, lowest degree first
    for root in coset:
        r = int(EXP[root])
        shifted = [0, *poly]
        for k, c in enumerate(poly):
            shifted[k] ^= _mul(c, r)
        poly = shifted
    assert all(c in (0, 1) for c in poly)
    return sum(c << k for k, c in enumerate(poly))


class BCH:
    """BCH(255, k) correcting up to ``t`` bit errors.

    Example:
        >>> code = BCH(25)
        >>> code.k
        91
    """

    def __init__(self, t: int) -> None:
        self.t = t
        generator = 1
        seen: set[int] = set()
        for i in range(1, 2 * t, 2):
            poly = _minimal_polynomial(i)
            if poly not in seen:
                seen.add(poly)
                generator = _poly_mul_gf2(generator, poly)
        self.generator = generator
        self.parity_bits = generator.bit_length() - 1
        self.k = N - self.parity_bits

    def encode(self, message: np.ndarray) -> np.ndarray:
        """Systematic codeword (255 bits): parity in bits [0, n-k), message in [n-k, n)."""
        if message.shape != (self.k,):
            raise ValueError(f"message must have {self.k} bits")
        m = 0
        for bit in message[::-1]:
            m = (m << 1) | int(bit)
        shifted = m << self.parity_bits
        remainder = shifted
        g = self.generator
        glen = g.bit_length()
        while remainder.bit_length() >= glen:
            remainder ^= g << (remainder.bit_length() - glen)
        word = shifted | remainder
        return np.array([(word >> i) & 1 for i in range(N)], dtype=np.uint8)

    def message(self, codeword: np.ndarray) -> np.ndarray:
        return codeword[self.parity_bits :]

    @cached_property
    def generator_matrix(self) -> np.ndarray:
        """k × n boolean matrix whose rows are the codewords of the unit messages."""
        rows = [self.encode(np.eye(self.k, dtype=np.uint8)[i]) for i in range(self.k)]
        return np.array(rows, dtype=bool)

    def ordered_statistics(
        self, soft: np.ndarray, order: int = 2, max_distance: int = N
    ) -> np.ndarray:
        """Candidate codewords (bool, best first) from ordered-statistics decoding.

        The k most reliable independent positions (largest ``|soft|``) decide a codeword;
        re-encoding after flipping up to ``order`` of those decisions gives
        1 + k + ... candidates, of which those within ``max_distance`` bits of the hard
        decisions are returned, ranked by the total reliability of the received bits each
        one contradicts. This reaches well past ``t`` errors whenever the unreliable bits
        hold most of them, which is how noise after JPEG spreads.

        Example:
            >>> import numpy as np
            >>> code = BCH(29)
            >>> word = code.encode(np.zeros(code.k, dtype=np.uint8))
            >>> soft = np.where(word == 1, -1.0, 1.0)
            >>> soft[:35] *= -0.1  # 35 errors, each on a weak bit: beyond t = 29
            >>> found = code.ordered_statistics(soft, 2)
            >>> bool((found[0] == word.astype(bool)).all())
            True
        """
        hard = soft < 0
        reliability = np.abs(soft)
        by_reliability = np.argsort(-reliability, kind="stable")
        g = self.generator_matrix[:, by_reliability].copy()
        pivots: list[int] = []
        row = 0
        for col in range(N):
            ones = np.flatnonzero(g[row:, col])
            if ones.size == 0:
                continue
            pick = row + int(ones[0])
            if pick != row:
                g[[row, pick]] = g[[pick, row]]
            others = np.flatnonzero(g[:, col])
            others = others[others != row]
            g[others] ^= g[row]
            pivots.append(col)
            row += 1
            if row == self.k:
                break
        # Rows of g are now a systematic basis on the pivot columns (in reliability order).
        base = np.bitwise_xor.reduce(g[hard[by_reliability][pivots]], axis=0)
        # Bit-packed, 32 bytes a word: order 3 alone is 57,155 re-encodings, and only the
        # few within reach of the hard decisions are worth unpacking and ranking.
        rows = np.packbits(g, axis=1)
        target = np.packbits(base ^ hard[by_reliability])  # a candidate's flips ^ this = errors
        near = [np.zeros((0, rows.shape[1]), dtype=np.uint8)]
        if np.count_nonzero(np.unpackbits(target)) <= max_distance:
            near.append(np.zeros((1, rows.shape[1]), dtype=np.uint8))  # no flips: the base
        for size in range(1, order + 1):
            subsets = _subsets(self.k, size)
            # In chunks: order 4 is nearly a million candidates, 31 MB packed at once.
            for start in range(0, len(subsets), _CHUNK):
                chunk = subsets[start : start + _CHUNK]
                flips = rows[chunk[:, 0]]
                for column in range(1, size):
                    flips ^= rows[chunk[:, column]]
                distance = _POPCOUNT[(flips ^ target).view(np.uint16)].sum(axis=1, dtype=np.int64)
                near.append(flips[distance <= max_distance])
        packed = np.concatenate(near) ^ np.packbits(base)
        candidates = np.unpackbits(packed, axis=1, count=N).astype(bool)
        codewords = np.empty_like(candidates)
        codewords[:, by_reliability] = candidates
        cost = (codewords != hard) @ reliability
        result: np.ndarray = codewords[np.argsort(cost, kind="stable")]
        return result

    def decode(self, received: np.ndarray) -> tuple[np.ndarray, int] | None:
        """Correct up to t errors: (codeword, number corrected), or None if uncorrectable."""
        positions = np.flatnonzero(received)
        j = np.arange(1, 2 * self.t + 1)
        if positions.size == 0:
            return received.copy(), 0
        powers = EXP[(np.outer(j, positions)) % N]
        syndromes = np.bitwise_xor.reduce(powers, axis=1)
        if not syndromes.any():
            return received.copy(), 0
        locator = _berlekamp_massey([int(s) for s in syndromes])
        degree = len(locator) - 1
        if degree > self.t:
            return None
        # Chien search: error at position p iff locator(alpha^-p) == 0.
        p = np.arange(N)
        total = np.zeros(N, dtype=np.int64)
        for k, coeff in enumerate(locator):
            if coeff:
                total ^= EXP[(LOG[coeff] - k * p) % N]
        errors = np.flatnonzero(total == 0)
        if errors.size != degree:
            return None
        corrected = received.copy()
        corrected[errors] ^= 1
        return corrected, int(degree)


def _berlekamp_massey(syndromes: list[int]) -> list[int]:
    """Error-locator polynomial (lowest degree first) from the syndromes S_1..S_2t."""
    c = [1]
    b = [1]
    length = 0
    m = 1
    last = 1
    for n, s in enumerate(syndromes):
        d = s
        for i in range(1, min(length + 1, len(c))):
            d ^= _MUL[c[i]][syndromes[n - i]]
        if d == 0:
            m += 1
            continue
        coef = _MUL[d][_INV[last]]
        t_poly = list(c)
        needed = len(b) + m
        if len(c) < needed:
            c = c + [0] * (needed - len(c))
        row = _MUL[coef]
        for i, bi in enumerate(b):
            c[i + m] ^= row[bi]
        if 2 * length <= n:
            length = n + 1 - length
            b = t_poly
            last = d
            m = 1
        else:
            m += 1
    while len(c) > 1 and c[-1] == 0:
        c.pop()
    return c[: length + 1] if len(c) > length + 1 else c


_POPCOUNT = (
    np.unpackbits(np.arange(1 << 16, dtype=np.uint16).view(np.uint8)).reshape(-1, 16).sum(axis=1)
).astype(np.uint8)
"""Set bits of every 16-bit value."""


_CHUNK = 1 << 16
"""Candidates re-encoded at a time."""


@lru_cache(maxsize=8)
def _subsets(k: int, size: int) -> np.ndarray:
    """Every ``size``-subset of range(k), one per row (uint8: k < 256; read-only)."""
    subsets = np.array(list(combinations(range(k), size)), dtype=np.uint8).reshape(-1, size)
    subsets.flags.writeable = False
    return subsets


@lru_cache(maxsize=4)
def code(t: int) -> BCH:
    return BCH(t)
