"""Perceptual model: how many grey levels of watermark each pixel can take unseen.

Strength is set in absolute grey levels, not relative to the image's average: a relative
map gave an image that is mostly smooth backdrop the full average strength on its backdrop,
where the pattern showed as grain (1.4–2.1 grey levels RMS, docs/watermark.md). Three
effects decide the allowance:

- contrast sensitivity: where nothing masks the pattern (flat sky, a studio backdrop) it
  gets a fixed small allowance, ``FLAT``, below what the eye resolves at 2× zoom;
- texture masking: texture of similar contrast hides a pattern, so the allowance grows
  with local activity, sub-linearly (``EXPONENT``, as in Watson's masking model). Activity
  is pooled as a geometric mean, which a window full of texture keeps but a window crossed
  by one edge does not, and the texture term is eroded before it is smoothed: the smooth
  side of an edge stays smooth instead of getting a halo of grain;
- luminance: the same step is plainer in dark tones, so the allowance eases off below ~40.

The map is then fitted to the image's distortion budget (its PSNR): texture takes what flat
areas cannot, up to ``SPEND_MOST`` times its nominal share and ``CEILING`` grey levels, so a
busy photo keeps its full-strength mark and a mostly smooth one carries a fainter one.
"""

from __future__ import annotations

import math

import numpy as np

from ._transform import box_mean

FLAT = 0.55
"""RMS change per RGB channel (grey levels) where nothing masks the pattern."""
NOISE = 1.0
"""Activity (mean absolute deviation from the 3×3 mean, grey levels) that masks nothing:
sensor noise and the gentle gradients of a smooth backdrop stay below it."""
MASKING = 2.0
"""Activity above ``NOISE`` at which texture doubles the allowance."""
EXPONENT = 0.3
"""Growth of the allowance with activity: sub-linear, so moderate texture (where the
detector, which weighs regions by their inverse local contrast, gains most) gets a share
and the busiest texture does not take everything."""
MASKED_MOST = 8.0
"""Activity term cap (before ``EXPONENT``), in units of ``MASKING``."""
SPEND_MOST = 12.0
"""Most the texture term is scaled up to spend the budget of a mostly smooth image."""
CEILING = 10.0
"""Largest RMS change per RGB channel (grey levels) anywhere, at strength 1."""
_EPSILON = 0.25


def amplitude_map(luma: np.ndarray, budget: float, scale: float = 1.0) -> np.ndarray:
    """Per-pixel RMS change per RGB channel (float32 grey levels, shape of ``luma``).

    ``scale`` multiplies every allowance (the caller's strength); ``budget`` is the
    image-wide RMS the map should reach and never exceeds.
    """
    detail = np.abs(luma - box_mean(luma, 1))
    activity = np.exp(box_mean(np.log(detail + _EPSILON), 3)) - _EPSILON
    masked = np.clip((activity - NOISE) / MASKING, 0.0, MASKED_MOST) ** EXPONENT
    tone = np.clip((luma + 20.0) / 60.0, 0.4, 1.0)
    flat = box_mean(tone.astype(np.float32), 2)
    texture = box_mean(_erode((tone * masked).astype(np.float32), 2), 2)
    # The texture factor g with mean((flat + g·texture)²) = target: a quadratic in g.
    target = (budget / (FLAT * scale)) ** 2
    ff, ft, tt = (
        float(np.mean(a * b)) for a, b in ((flat, flat), (flat, texture), (texture, texture))
    )
    gain = 1.0
    if tt > 0 and ff + 2 * ft + tt < target:
        gain = min((-ft + math.sqrt(ft * ft - tt * (ff - target))) / tt, SPEND_MOST)
    allowance: np.ndarray = (flat + np.float32(gain) * texture) * np.float32(FLAT * scale)
    np.minimum(allowance, np.float32(CEILING * scale), out=allowance)
    rms = float(np.sqrt(np.mean(allowance**2)))
    if rms > budget:
        allowance *= np.float32(budget / rms)
    return allowance


def _erode(plane: np.ndarray, radius: int) -> np.ndarray:
    """Minimum over a (2r+1)² window, edges replicated."""
    out = plane
    for axis in (0, 1):
        n = out.shape[axis]
        pad = [(radius, radius) if a == axis else (0, 0) for a in (0, 1)]
        padded = np.pad(out, pad, mode="edge")
        out = padded.take(np.arange(n), axis=axis)
        for k in range(1, 2 * radius + 1):
            out = np.minimum(out, padded.take(np.arange(k, k + n), axis=axis))
    return out
