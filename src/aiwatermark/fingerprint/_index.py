"""An exact Hamming-distance index over PDQ fingerprints: multi-index hashing.

The 256 bits are cut into 16 words of 16 bits. Two fingerprints within ``r`` bits differ in
at most ``r // 16`` bits in at least one word (pigeonhole), so probing every word with all
values within that radius finds every match, and a full comparison of the few candidates
makes the answer exact. With ``r ≤ 31`` that is 17 probes per word; each probe is a binary
search in that word's sorted column.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import numpy as np

from ..errors import InvalidArgumentError
from ._pdq import _POPCOUNT, BITS, MATCH_THRESHOLD

_WORDS = 16
_WORD_BITS = BITS // _WORDS


def _probes(value: int, radius: int) -> np.ndarray:
    """Every 16-bit value within ``radius`` bits of ``value``."""
    out = [value]
    for flips in range(1, radius + 1):
        for bits in itertools.combinations(range(_WORD_BITS), flips):
            mask = 0
            for bit in bits:
                mask |= 1 << bit
            out.append(value ^ mask)
    return np.array(out, dtype=np.uint16)


class FingerprintIndex:
    """Fingerprints with integer keys, searchable by Hamming distance.

    Adding is cheap; the first search after adds re-sorts the word columns (about a second
    at a million entries). A search for ``max_distance ≤ 31`` at a million entries takes a
    few milliseconds (``benchmarks/fingerprint.py``).

    Example:
        >>> from aiwatermark.fingerprint import FingerprintIndex
        >>> index = FingerprintIndex()
        >>> index.add(7, bytes(32))
        >>> index.add(8, b"\\xff" * 32)
        >>> index.search(b"\\x01" + bytes(31))
        [(7, 1)]
    """

    def __init__(self) -> None:
        self._values = np.zeros((0, BITS // 8), dtype=np.uint8)
        self._keys = np.zeros(0, dtype=np.int64)
        self._pending_values: list[np.ndarray] = []
        self._pending_keys: list[np.ndarray] = []
        self._order: np.ndarray | None = None
        self._sorted: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._keys) + sum(len(k) for k in self._pending_keys)

    def add(self, key: int, value: bytes) -> None:
        """Add one fingerprint (32 bytes) under ``key``."""
        self.add_many([key], [value])

    def add_many(self, keys: Iterable[int], values: Iterable[bytes] | np.ndarray) -> None:
        """Add fingerprints in bulk: ``values`` as 32-byte strings or an N×32 uint8 array."""
        key_array = np.fromiter(keys, dtype=np.int64)
        if isinstance(values, np.ndarray):
            value_array = np.ascontiguousarray(values, dtype=np.uint8)
        else:
            value_array = np.frombuffer(b"".join(values), dtype=np.uint8)
        value_array = value_array.reshape(-1, BITS // 8)
        if len(value_array) != len(key_array):
            raise InvalidArgumentError("add_many needs one 32-byte value per key")
        if len(key_array):
            self._pending_values.append(value_array)
            self._pending_keys.append(key_array)

    def _build(self) -> None:
        if self._pending_keys:
            self._values = np.concatenate([self._values, *self._pending_values])
            self._keys = np.concatenate([self._keys, *self._pending_keys])
            self._pending_values, self._pending_keys = [], []
            self._order = None
        if self._order is None:
            words = self._words(self._values)
            self._order = np.argsort(words, axis=0, kind="stable").astype(np.int64)
            self._sorted = np.take_along_axis(words, self._order, axis=0)

    @staticmethod
    def _words(values: np.ndarray) -> np.ndarray:
        """N×32 bytes → N×16 big-endian 16-bit words."""
        return values.reshape(-1, _WORDS, 2).astype(np.uint16) @ np.array([256, 1], np.uint16)

    def search(self, value: bytes, max_distance: int = MATCH_THRESHOLD) -> list[tuple[int, int]]:
        """Every ``(key, distance)`` within ``max_distance`` bits of ``value``, nearest first.

        Example:
            >>> from aiwatermark.fingerprint import FingerprintIndex
            >>> FingerprintIndex().search(bytes(32))
            []
        """
        if not isinstance(value, (bytes, bytearray)) or len(value) != BITS // 8:
            raise InvalidArgumentError("search needs a 32-byte PDQ value")
        if not isinstance(max_distance, int) or not 0 <= max_distance < BITS:
            raise InvalidArgumentError(f"max_distance must be 0..{BITS - 1}, not {max_distance!r}")
        self._build()
        if not len(self._keys):
            return []
        query = np.frombuffer(bytes(value), dtype=np.uint8)
        radius = max_distance // _WORDS
        if radius > 2:  # probes would outnumber a full scan
            candidates = np.arange(len(self._keys))
        else:
            assert self._order is not None and self._sorted is not None
            words = self._words(query[None, :])[0]
            found = []
            for w in range(_WORDS):
                probes = _probes(int(words[w]), radius)
                column = self._sorted[:, w]
                lo = np.searchsorted(column, probes, side="left")
                hi = np.searchsorted(column, probes, side="right")
                for a, b in zip(lo[hi > lo], hi[hi > lo], strict=True):
                    found.append(self._order[a:b, w])
            if not found:
                return []
            candidates = np.unique(np.concatenate(found))
        distances = _POPCOUNT[self._values[candidates] ^ query].sum(axis=1, dtype=np.int64)
        keep = distances <= max_distance
        hits = sorted(
            zip(self._keys[candidates[keep]].tolist(), distances[keep].tolist(), strict=True),
            key=lambda kd: (kd[1], kd[0]),
        )
        return [(int(k), int(d)) for k, d in hits]
