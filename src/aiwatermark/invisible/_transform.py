"""Signal transforms: luma, the working resolution, box filters and the whitened spectrum.

The watermark lives at a *working resolution* whose short side is at most ``WORK_SIZE``
pixels: large images carry a proportionally larger pattern, so downscaling, blur and JPEG
(all of which remove fine detail) leave it intact, and embedding an 8K image costs about
the same as a 512-pixel one.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

WORK_SIZE = 512

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Orthogonal both to luma (the eye's brightness) and to grey (R = G = B): the pattern's chroma
# part neither shows up in luma nor adds to the luma part's squared error.
_ORTHOGONAL = np.cross(np.ones(3), np.array([0.299, 0.587, 0.114]))
CHROMA_DIRECTION = (_ORTHOGONAL / np.sqrt(np.mean(_ORTHOGONAL**2))).astype(np.float32)
"""RGB change with unit RMS per channel that leaves luma and the grey level unchanged."""
_CHROMA = (CHROMA_DIRECTION / np.sum(CHROMA_DIRECTION**2)).astype(np.float32)


def luma(pixels: np.ndarray) -> np.ndarray:
    """Rec. 601 luma (float32) of an H×W or H×W×3 uint8 array."""
    if pixels.ndim == 2:
        return pixels.astype(np.float32)
    return pixels[..., :3].astype(np.float32) @ _LUMA


def is_grey(colour: Image.Image) -> bool:
    """True for one channel, or R = G = B up to rounding (a black-and-white photo in RGB)."""
    if colour.mode == "L":
        return True
    width, height = colour.size
    # About 128×128 pixels, picked (not averaged, which would hide chroma noise) by one
    # resize: the image is never converted to one full-size array.
    size = (min(width, 128), min(height, 128))
    sample = np.asarray(colour.resize(size, Image.Resampling.NEAREST))[..., :3]
    spread = sample.max(axis=2).astype(np.int16) - sample.min(axis=2)
    return bool(np.mean(spread) < 2.0)


def planes(pixels: np.ndarray) -> list[np.ndarray]:
    """The planes the watermark lives in: luma, plus a chroma plane for RGB images.

    Chroma carries a share of the energy because photos have far less chroma detail than
    luma detail (none at all in a black-and-white photo stored as RGB), so the same
    distortion is many times easier to detect there — which is what survives heavy crops,
    rotation and aspect changes. JPEG discards most of it, so luma carries the rest.
    Single-channel (L) images have luma only.
    """
    if pixels.ndim == 2:
        return [luma(pixels)]
    rgb = pixels[..., :3].astype(np.float32)
    return [rgb @ _LUMA, rgb @ _CHROMA]


def work_planes(colour: Image.Image, height: int, width: int) -> list[np.ndarray]:
    """:func:`planes` at the working resolution, shrinking the 8-bit image first.

    Shrinking before converting to float keeps an 8K image's working set to one small
    array instead of several full-size float copies.
    """
    if colour.size != (width, height):
        colour = colour.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return planes(np.asarray(colour))


def normalise(residual: np.ndarray, radius: int = 8) -> np.ndarray:
    """Divide by the local RMS so busy regions do not drown the quiet ones."""
    energy = box_mean(residual**2, radius)
    return residual / np.sqrt(energy + 1e-3 * float(np.mean(energy)) + 1e-12)


def working_scale(height: int, width: int) -> float:
    return min(1.0, WORK_SIZE / min(height, width))


def resize(plane: np.ndarray, height: int, width: int, *, smooth: bool = True) -> np.ndarray:
    """Resample a float plane with Pillow (antialiased when shrinking)."""
    if plane.shape == (height, width):
        return plane
    method = Image.Resampling.BILINEAR if smooth else Image.Resampling.BICUBIC
    image = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32), "F")
    return np.asarray(image.resize((width, height), method), dtype=np.float32)


def resize_rows(plane: np.ndarray, height: int, width: int, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of ``resize(plane, height, width, smooth=False)``, computed alone.

    Pillow maps each output row to the same source position whether the whole image or a
    box of it is resized, so bands computed this way tile the full resize.
    """
    if plane.shape == (height, width):
        return plane[start:stop]
    scale = plane.shape[0] / height
    image = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32), "F")
    box = (0.0, start * scale, float(plane.shape[1]), stop * scale)
    band = image.resize((width, stop - start), Image.Resampling.BICUBIC, box=box)
    return np.asarray(band, dtype=np.float32)


def box_mean(plane: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)² window with edge replication (float32)."""
    if radius <= 0:
        return plane
    padded = np.pad(plane.astype(np.float32, copy=False), radius, mode="edge")
    out = _window_sum(_window_sum(padded, radius, 0), radius, 1)
    out *= np.float32(1.0 / (2 * radius + 1) ** 2)
    return out


def _window_sum(a: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Sums of 2r+1 consecutive values along ``axis`` (the result is 2r shorter there).

    Added slice by slice rather than as a difference of running sums: for the radii used
    here that is several times faster (a running sum is a serial loop in numpy; sums of
    1, 2, 4... values cost more in allocations than they save in additions), and every
    value is a sum of its own window only, so single precision is exact enough even where
    neighbouring values differ by orders of magnitude, as in a power spectrum.
    """
    n = a.shape[axis] - 2 * radius
    out: np.ndarray = (a[:n] if axis == 0 else a[:, :n]).astype(np.float32)
    for k in range(1, 2 * radius + 1):
        out += a[k : k + n] if axis == 0 else a[:, k : k + n]
    return out


def fast_length(n: int) -> int:
    """Smallest 2^a·3^b·5^c >= n (quick FFT sizes)."""
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < 2 * n:
        p35 = p5
        while p35 < 2 * n:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def _tukey(n: int, alpha: float = 0.2) -> np.ndarray:
    w = np.ones(n, dtype=np.float32)
    edge = max(1, int(alpha * n / 2))
    ramp = 0.5 * (1 - np.cos(np.pi * np.arange(edge) / edge))
    w[:edge] = ramp
    w[n - edge :] = ramp[::-1]
    return w


def _smooth_axis(a: np.ndarray, radius: int, axis: int, wrap: bool) -> np.ndarray:
    pad = [(0, 0), (0, 0)]
    pad[axis] = (radius, radius)
    padded = np.pad(a, pad, mode="wrap" if wrap else "reflect")
    out = _window_sum(padded, radius, axis)
    out *= np.float32(1.0 / (2 * radius + 1))
    return out


@lru_cache(maxsize=4)
def _window(shape: tuple[int, int]) -> np.ndarray:
    """The analysis window (float32, read-only): tapering the edges keeps the image's
    borders from adding a cross of spectral lines."""
    window: np.ndarray = np.outer(_tukey(shape[0]), _tukey(shape[1]))
    window.flags.writeable = False
    return window


@lru_cache(maxsize=4)
def _window_overlap(shape: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Autocorrelation of the analysis window (floored at 5 % of its peak, where too few
    pixels overlap to be worth rescaling), in single precision: the same for every plane."""
    overlap = np.fft.irfft2(np.abs(np.fft.rfft2(_window(shape), s=size)) ** 2, s=size)
    floored: np.ndarray = np.maximum(overlap, 0.05 * overlap[0, 0]).astype(np.float32)
    floored.flags.writeable = False
    return floored


@lru_cache(maxsize=4)
def _passband(size: tuple[int, int]) -> np.ndarray:
    """1.0 on the rfft2 bins the whitened spectrum keeps, 0.0 elsewhere (float32, read-only)."""
    fy = np.abs(np.fft.fftfreq(size[0]))[:, None]
    fx = np.fft.rfftfreq(size[1])[None, :]
    radius = np.hypot(fx, fy)
    band: np.ndarray = ((radius > 0.008) & (radius < 0.45)).astype(np.float32)
    band.flags.writeable = False
    return band


class Spectrum:
    """Whitened spectrum of a luma plane, zero-padded so its autocorrelation is linear.

    Whitening divides by a smooth envelope of the power spectrum: the photo's own 1/f
    spectrum flattens out, while the watermark's periodic tile — a lattice of sharp spectral
    lines — stands out. (Notching JPEG's 8-pixel grid was tried and cost more watermark than
    it removed grid.)
    """

    def __init__(self, plane: np.ndarray, max_lag: int) -> None:
        h, w = plane.shape
        self.shape = (h, w)
        self.max_lag = max_lag
        self.size = (fast_length(h + max_lag), fast_length(w + max_lag))
        spectrum = np.fft.rfft2((plane - plane.mean()) * _window(self.shape), s=self.size)
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
        envelope = power
        for _ in range(2):  # two box passes ≈ a smooth bump of ~±0.03 cycles/pixel
            envelope = _smooth_axis(envelope, max(2, self.size[0] // 64), 0, wrap=True)
            envelope = _smooth_axis(envelope, max(2, self.size[1] // 64), 1, wrap=False)
        # A real gain on the complex spectrum: cheaper than dividing and selecting.
        envelope += np.float32(1e-3)
        gain = np.sqrt(envelope, out=envelope)
        np.divide(_passband(self.size), gain, out=gain)
        self.white = spectrum * gain

    def residual(self) -> np.ndarray:
        """The whitened, windowed image (what the tile is folded from)."""
        full = np.fft.irfft2(self.white, s=self.size)
        return full[: self.shape[0], : self.shape[1]].astype(np.float32)

    def autocorrelation(self) -> np.ndarray:
        """Normalised linear autocorrelation, lag (0, 0) at index [0, 0] (circular indexing)."""
        power = self.white.real**2 + self.white.imag**2
        acf: np.ndarray = np.fft.irfft2(power, s=self.size)
        acf /= _window_overlap(self.shape, self.size)
        acf /= acf[0, 0]
        return acf
