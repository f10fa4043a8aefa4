"""The keyed watermark tile: a T×T periodic pattern defined by its 2-D spectrum.

Every frequency bin in a mid band belongs either to the synchronisation template (known
phases: it locates the tile's offset and orientation) or to exactly one of the 255 coded bits
(BPSK: the bit flips the bin's keyed phase by 180°). Disjoint bins make the template and the
bits exactly orthogonal at every shift, so neither interferes with the other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ._codec import CODE_BITS

TILE = 128
"""Tile period in watermark-resolution pixels."""

BAND = (2.0, 28.0)
"""Radial band of the pattern, in cycles per tile (0.016–0.22 cycles per pixel)."""

SYNC_FRACTION = 0.25

TILT = 0.5
"""Bin amplitude grows as radius**TILT: photos have far less energy at higher frequencies,
so the same embedding energy buys more detection SNR there (up to what JPEG and blur keep)."""

PUBLIC_KEY = "aiwatermark-public-disclosure-v1"
"""The documented key used when ``key=None``: anyone can detect (and therefore read) the mark."""


@dataclass(frozen=True)
class Pattern:
    """Per-key constants: bin coordinates, phases, bit assignment and the sync template."""

    ky: np.ndarray  # frequency-bin rows (0..T-1) of the half-plane band bins
    kx: np.ndarray
    phase: np.ndarray  # unit complex keyed phase per bin
    is_sync: np.ndarray  # bool per bin
    bit_of: np.ndarray  # coded-bit index per bin (-1 for sync bins)
    scramble: np.ndarray  # keyed 0/1 mask XORed onto the coded bits


def key_bytes(key: str | bytes | None) -> bytes:
    if key is None:
        return PUBLIC_KEY.encode()
    if isinstance(key, str):
        return key.encode("utf-8")
    return bytes(key)


def _band_bins() -> tuple[np.ndarray, np.ndarray]:
    f = np.fft.fftfreq(TILE, 1.0 / TILE)  # signed integer frequencies
    fy, fx = np.meshgrid(f, f, indexing="ij")
    radius = np.hypot(fx, fy)
    # Half plane so each real sinusoid is counted once: fy > 0, or fy == 0 and fx > 0.
    half = (fy > 0) | ((fy == 0) & (fx > 0))
    inside = (radius >= BAND[0]) & (radius <= BAND[1]) & half
    # Nyquist rows/cols have no distinct conjugate partner; the band never reaches them.
    rows, cols = np.nonzero(inside)
    return rows, cols


@lru_cache(maxsize=16)
def pattern(key: bytes) -> Pattern:
    seed = int.from_bytes(hashlib.sha256(b"aiwatermark/tile/v1\x00" + key).digest(), "big")
    rng = np.random.default_rng(seed)
    rows, cols = _band_bins()
    count = rows.size
    radius = np.hypot(
        np.where(rows > TILE // 2, rows - TILE, rows), cols - TILE * (cols > TILE // 2)
    )
    phase = np.exp(2j * np.pi * rng.random(count)) * radius**TILT
    order = rng.permutation(count)
    n_sync = round(SYNC_FRACTION * count)
    is_sync = np.zeros(count, dtype=bool)
    is_sync[order[:n_sync]] = True
    bit_of = np.full(count, -1, dtype=np.int64)
    bit_of[order[n_sync:]] = np.arange(count - n_sync) % CODE_BITS
    scramble = rng.integers(0, 2, CODE_BITS).astype(np.uint8)
    return Pattern(rows, cols, phase, is_sync, bit_of, scramble)


def signs(pat: Pattern, coded_bits: np.ndarray) -> np.ndarray:
    """±1 per coded bit as transmitted (after the keyed scramble)."""
    result: np.ndarray = 1.0 - 2.0 * (coded_bits ^ pat.scramble).astype(np.float64)
    return result


def tile(pat: Pattern, coded_bits: np.ndarray, gains: np.ndarray | None = None) -> np.ndarray:
    """The spatial T×T tile (float32, unit RMS) carrying ``coded_bits``.

    ``gains`` (one per coded bit) lets informed embedding spend more energy on the bits the
    host image works against and less on those it already favours.
    """
    signs_ = signs(pat, coded_bits)
    if gains is not None:
        signs_ = signs_ * gains
    values = pat.phase.copy()
    message = ~pat.is_sync
    values[message] *= signs_[pat.bit_of[message]]
    if gains is not None:
        values[pat.is_sync] *= float(np.sqrt(np.mean(gains**2)))
    spectrum = np.zeros((TILE, TILE), dtype=np.complex128)
    spectrum[pat.ky, pat.kx] = values
    spectrum[(-pat.ky) % TILE, (-pat.kx) % TILE] = np.conj(values)
    spatial = np.fft.ifft2(spectrum).real
    spatial /= np.sqrt(np.mean(spatial**2))
    return spatial.astype(np.float32)
