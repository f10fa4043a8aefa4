"""Attacks on the invisible watermark that use only its public API and the published design.

Plain functions for tests and benchmarks (``benchmarks/collusion.py``); nothing here is a
test. Each one is an attack a real adversary can mount, tuned on 512×512 photographs, where
the watermark's 128-pixel tile is exactly 128 image pixels (a 512-pixel working image):

- copy, public key: read the content ID and embed it into another photo
  (:func:`copy_watermark_public`);
- copy, secret key: from one (original, marked) pair, fold the difference into one tile and
  add it to another photo (:func:`estimate_pattern`, :func:`add_pattern`);
- removal, public key: embed the same ID again and subtract (:func:`remove_by_reembed`);
- collusion, any key: average the folded, band-passed tiles of several marked images and
  subtract the average (:func:`collusion_estimate`, :func:`subtract_pattern`).

Images go in as ``PIL.Image`` or ``uint8`` arrays and come out as ``uint8`` RGB arrays.
docs/threat-model.md reports what these attacks achieve.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image

from aiwatermark import invisible

Pixels = npt.NDArray[np.uint8]
Floats = npt.NDArray[np.float64]
ImageLike = Image.Image | npt.NDArray[np.generic]

TILE = 128
"""The watermark's tile period in image pixels for images whose short side is 512."""

BAND = (2.0, 28.0)
"""Radial band of the pattern in cycles per tile, as docs/watermark.md publishes it."""


def as_pixels(image: ImageLike) -> Pixels:
    """``image`` as an H×W×3 ``uint8`` RGB array (a copy; alpha dropped)."""
    if isinstance(image, Image.Image):
        return np.array(image.convert("RGB"), dtype=np.uint8)
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    return np.array(array[:, :, :3], dtype=np.uint8)


def square_photo(image: ImageLike, size: int = 512) -> Pixels:
    """Centre-crop ``image`` to a square and resize it to ``size``×``size`` RGB (Lanczos)."""
    pixels = as_pixels(image)
    h, w = pixels.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = Image.fromarray(pixels[top : top + side, left : left + side], "RGB")
    if side != size:
        square = square.resize((size, size), Image.Resampling.LANCZOS)
    return as_pixels(square)


def psnr(a: ImageLike, b: ImageLike) -> float:
    """Peak signal-to-noise ratio (dB, peak 255) between two same-sized RGB images."""
    x, y = as_pixels(a).astype(np.float64), as_pixels(b).astype(np.float64)
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {x.shape} vs {y.shape}")
    mse = float(np.mean((x - y) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def fold(image: ImageLike | Floats, tile: int = TILE) -> Floats:
    """Mean of ``image`` modulo a ``tile``-pixel period: a tile×tile×C float array.

    Pixels beyond the last whole period count too (each tile cell averages the pixels that
    fall on it). A float array is folded as is, so differences of images can be folded.
    """
    values = (
        np.asarray(image, dtype=np.float64)
        if isinstance(image, np.ndarray) and image.dtype.kind == "f"
        else as_pixels(image).astype(np.float64)
    )
    if values.ndim == 2:
        values = values[:, :, None]
    h, w, c = values.shape
    rows, cols = -(-h // tile) * tile, -(-w // tile) * tile
    padded = np.zeros((rows, cols, c))
    padded[:h, :w] = values
    counts = np.zeros((rows, cols))
    counts[:h, :w] = 1.0
    total = padded.reshape(rows // tile, tile, cols // tile, tile, c).sum(axis=(0, 2))
    count = counts.reshape(rows // tile, tile, cols // tile, tile).sum(axis=(0, 2))
    result: Floats = total / np.maximum(count, 1.0)[:, :, None]
    return result


def bandpass(pattern: Floats, band: tuple[float, float] = BAND) -> Floats:
    """Keep only the spatial frequencies of a periodic tile within ``band`` cycles per tile."""
    t = pattern.shape[0]
    f = np.fft.fftfreq(t, 1.0 / t)
    radius = np.hypot(f[:, None], f[None, :])
    keep = (radius >= band[0]) & (radius <= band[1])
    spectrum = np.fft.fft2(pattern, axes=(0, 1)) * keep[:, :, None]
    result: Floats = np.fft.ifft2(spectrum, axes=(0, 1)).real
    return result


def tile_over(pattern: Floats, height: int, width: int) -> Floats:
    """Repeat a tile×tile×C pattern from the top-left corner to cover height×width."""
    t = pattern.shape[0]
    reps = (-(-height // t), -(-width // t), 1)
    result: Floats = np.tile(pattern, reps)[:height, :width]
    return result


# --- copy attacks -----------------------------------------------------------------------


def copy_watermark_public(marked: ImageLike, target: ImageLike, key: str | None = None) -> Pixels:
    """Attack (a): read the content ID from ``marked`` and embed it into ``target``.

    Works whenever the attacker holds the key, i.e. always for the public key. Raises
    ``ValueError`` when ``marked`` carries no readable mark under ``key``.
    """
    found = invisible.detect(as_pixels(marked), key=key)
    if not found.detected or found.payload is None:
        raise ValueError("no watermark readable with this key")
    return as_pixels(invisible.embed(as_pixels(target), found.payload, key=key))


def estimate_pattern(marked: ImageLike, original: ImageLike, tile: int = TILE) -> Floats:
    """Attack (b), step 1: the mark's tile from one (original, marked) pair, any key.

    ``marked − original`` is the perceptually masked pattern; folding it modulo the tile
    averages the mask away and leaves the keyed tile, sync template and content ID alike.
    """
    difference = as_pixels(marked).astype(np.float64) - as_pixels(original).astype(np.float64)
    pattern = fold(difference, tile)
    result: Floats = pattern - pattern.mean(axis=(0, 1))
    return result


def add_pattern(target: ImageLike, pattern: Floats, psnr_db: float) -> Pixels:
    """Attack (b), step 2: tile ``pattern`` over ``target`` at a chosen PSNR and round.

    The pattern is scaled so the added signal's RMS over all channels is
    ``255 / 10**(psnr_db / 20)``; rounding and clipping move the final PSNR by a few
    hundredths of a dB.
    """
    pixels = as_pixels(target)
    signal = tile_over(pattern, *pixels.shape[:2])
    rms = float(np.sqrt(np.mean(signal**2)))
    if rms == 0:
        return pixels
    signal *= (255.0 / 10.0 ** (psnr_db / 20.0)) / rms
    return _round(pixels + signal)


# --- removal ------------------------------------------------------------------------------


def remove_by_reembed(
    marked: ImageLike, key: str | None = None, payload: bytes | None = None
) -> Pixels:
    """Attack (c): ``2·marked − embed(marked, payload, key)``, i.e. subtract a second copy.

    Embedding the same content ID into the marked image adds (almost) the same masked
    pattern again; subtracting that from the marked image takes the first copy away. The ID is
    read with ``key`` unless given; when it cannot be read (a wrong guess of a secret key)
    the attack falls back to an all-zero ID and only adds noise under the guessed key.
    """
    pixels = as_pixels(marked)
    if payload is None:
        found = invisible.detect(pixels, key=key)
        payload = found.payload if found.detected and found.payload else bytes(8)
    again = as_pixels(invisible.embed(pixels, payload, key=key)).astype(np.float64)
    return _round(2.0 * pixels - again)


def collusion_estimate(
    marked_images: Sequence[ImageLike], tile: int = TILE, band: tuple[float, float] = BAND
) -> Floats:
    """Attack (d), step 1: the shared part of the mark from several images marked with one key.

    Each image is folded into one tile and band-passed to the pattern's band (the photo's
    own content is mostly below it); the folds are weighted by the inverse of their
    in-band energy, so busy photos, whose content leaks more into the fold, count less. The
    content IDs differ from image to image, so what survives the average is mainly the
    keyed sync template, which every image shares.
    """
    if not marked_images:
        raise ValueError("need at least one marked image")
    total = np.zeros((tile, tile, 3))
    weights = 0.0
    for image in marked_images:
        folded = bandpass(fold(image, tile), band)
        energy = float(np.mean(folded**2)) + 1e-12
        total += folded / energy
        weights += 1.0 / energy
    result: Floats = total / weights
    return result


def subtract_pattern(marked: ImageLike, estimate: Floats, gain: float) -> Pixels:
    """Attack (d), step 2: ``marked − gain · estimate`` tiled from the top-left corner."""
    pixels = as_pixels(marked)
    return _round(pixels - gain * tile_over(estimate, *pixels.shape[:2]))


def _round(values: Floats) -> Pixels:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)
