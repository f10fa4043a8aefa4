"""Perceptual masking: put the watermark's energy where texture hides it.

The eye sees a faint pattern on flat sky or skin but not on foliage, hair or fabric. The
strength map follows local activity (mean absolute deviation from a 3×3 mean, pooled over
7×7), keeps a floor so flat areas still carry a little signal, and is normalised to unit RMS
so the overall distortion (PSNR) does not depend on the image.
"""

from __future__ import annotations

import numpy as np

from ._transform import box_mean

FLOOR = 2.0
"""Activity (grey levels) added everywhere, so flat regions get a small, non-zero share."""

RANGE = (0.25, 2.5)
EXPONENT = 1.0


def strength_map(luma: np.ndarray) -> np.ndarray:
    """Unit-RMS strength factors (float32, same shape as ``luma``)."""
    detail = np.abs(luma - box_mean(luma, 1))
    activity = box_mean(detail, 3) + FLOOR
    strength = np.clip((activity / float(activity.mean())) ** EXPONENT, *RANGE)
    # Dark tones show a given step more than mid tones (Weber's law); ease off below ~40.
    strength *= np.clip((luma + 20.0) / 60.0, 0.4, 1.0)
    strength = box_mean(strength, 2)
    result: np.ndarray = (strength / np.sqrt(np.mean(strength**2))).astype(np.float32)
    return result
