"""Payload codec: 64-bit payload + 2-bit version + CRC-5, protected by BCH(255, 71, t=29).

The BCH code itself does most of the work of rejecting noise (a random word lies within 29
bits of a codeword with probability ~2^-57); the CRC catches the rare mis-correction.

A received word is first decoded hard; if that fails, the least reliable bits (smallest
|soft value|) are flipped in turn (Chase-II decoding) to reach a few errors beyond t. Every
attempt is counted so the false-positive bound stays honest (see ``_statistic``).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ._bch import N, code

PAYLOAD_BITS = 64
"""User payload carried by the watermark, in bits."""

VERSION = 0
VERSION_BITS = 2
CRC_BITS = 5
T = 29
CODE_BITS = N
CHASE_BITS = 4
"""Flip every subset of the 4 least reliable bits when plain decoding fails (16 attempts)."""

_CRC5_POLY = 0x15  # CRC-5/USB: x^5 + x^2 + 1
_CRC5_INIT = 0x1F


def crc5(bits: np.ndarray) -> int:
    """CRC-5 over a bit sequence (most significant first)."""
    crc = _CRC5_INIT
    for bit in bits:
        top = (crc >> 4) & 1
        crc = (crc << 1) & 0x1F
        if top ^ int(bit):
            crc ^= _CRC5_POLY
    return crc


def _int_to_bits(value: int, width: int) -> np.ndarray:
    return np.array([(value >> (width - 1 - i)) & 1 for i in range(width)], dtype=np.uint8)


def _bits_to_int(bits: np.ndarray) -> int:
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value


def encode(payload: bytes) -> np.ndarray:
    """The 255 coded bits (0/1) that carry ``payload`` (exactly PAYLOAD_BITS // 8 bytes)."""
    body = np.concatenate(
        [
            _int_to_bits(VERSION, VERSION_BITS),
            np.unpackbits(np.frombuffer(payload, dtype=np.uint8)),
        ]
    )
    message = np.concatenate([body, _int_to_bits(crc5(body), CRC_BITS)])
    bch = code(T)
    assert message.size == bch.k
    return bch.encode(message)


@dataclass(frozen=True)
class Decoded:
    payload: bytes | None
    bit_errors: int | None  # against the hard decisions, Chase flips included


def _check(word: np.ndarray) -> tuple[bytes, np.ndarray] | None:
    """(payload, corrected codeword) if ``word`` decodes to a valid message, else None."""
    bch = code(T)
    result = bch.decode(word)
    if result is None:
        return None
    codeword, _ = result
    message = bch.message(codeword)
    body, crc = message[: VERSION_BITS + PAYLOAD_BITS], message[VERSION_BITS + PAYLOAD_BITS :]
    if _bits_to_int(body[:VERSION_BITS]) != VERSION or _bits_to_int(crc) != crc5(body):
        return None
    return np.packbits(body[VERSION_BITS:]).tobytes(), codeword


def decode(soft: np.ndarray, chase: bool = True) -> Decoded:
    """Decode soft values (positive means bit 0) into the payload, or payload=None.

    ``chase=False`` tries the hard decision only (for reads that are probably noise).
    """
    hard = (soft < 0).astype(np.uint8)
    least_reliable = np.argsort(np.abs(soft))[:CHASE_BITS]
    for size in range(CHASE_BITS + 1 if chase else 1):
        for flips in combinations(least_reliable, size):
            word = hard.copy()
            word[list(flips)] ^= 1
            checked = _check(word)
            if checked is not None:
                payload, codeword = checked
                return Decoded(payload, int(np.count_nonzero(codeword != hard)))
    return Decoded(None, None)
