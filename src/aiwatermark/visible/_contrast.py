"""WCAG 2.x relative luminance and contrast ratio, and the label colours chosen from them."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

RGB = tuple[int, int, int]

TEXT_CONTRAST = 4.5
"""WCAG 2.x success criterion 1.4.3 (AA): contrast of normal-size text with its background."""

BOX_CONTRAST = 3.0
"""WCAG 2.x success criterion 1.4.11: contrast of a non-text element with what is next to it."""

DARK: RGB = (17, 17, 17)
LIGHT: RGB = (250, 250, 250)
BLACK: RGB = (0, 0, 0)
WHITE: RGB = (255, 255, 255)


def relative_luminance(rgb: ArrayLike) -> NDArray[np.float64]:
    """WCAG relative luminance of sRGB values 0..255 (last axis = R, G, B; or grey)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    if linear.ndim and linear.shape[-1] == 3:
        return np.asarray(linear @ np.array([0.2126, 0.7152, 0.0722]), dtype=np.float64)
    return np.asarray(linear, dtype=np.float64)


def contrast_ratio(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """WCAG contrast ratio (1..21) between two colours (or arrays of colours)."""
    la, lb = relative_luminance(a), relative_luminance(b)
    return np.asarray((np.maximum(la, lb) + 0.05) / (np.minimum(la, lb) + 0.05), dtype=np.float64)


def best_text_colour(background: ArrayLike) -> RGB:
    """Black or white, whichever contrasts more with ``background`` (always >= 4.58:1)."""
    if float(contrast_ratio(BLACK, background)) >= float(contrast_ratio(WHITE, background)):
        return BLACK
    return WHITE


def _blend(box: RGB, under: NDArray[np.float64], opacity: float) -> NDArray[np.float64]:
    # Pillow composites in sRGB values, so the eye sees this mix, not a linear-light one.
    return opacity * np.asarray(box, dtype=np.float64) + (1.0 - opacity) * under


def auto_colours(under: NDArray[np.uint8], opacity: float) -> tuple[RGB, RGB, float]:
    """Pick (box colour, text colour, box opacity) for the pixels ``under`` the label.

    The box is dark on light surroundings and light on dark ones, so it stands out from
    what is underneath (>= 3:1 against their average where the opacity allows it). The
    opacity is raised above the requested one only as far as needed for the text to keep
    >= 4.5:1 against the box even where the brightest (or darkest) pixel shows through,
    and for the box to keep 3:1 against the average of the pixels underneath.
    """
    pixels = under.reshape(-1, 3).astype(np.float64)
    mean = pixels.mean(axis=0)
    luminance = relative_luminance(pixels)
    # The text competes with the pixels that show through the box most: the brightest
    # ones behind a dark box, the darkest behind a light one.
    brightest = pixels[int(np.argmax(luminance))]
    darkest = pixels[int(np.argmin(luminance))]
    dark_box = float(contrast_ratio(_blend(DARK, mean, opacity), mean))
    light_box = float(contrast_ratio(_blend(LIGHT, mean, opacity), mean))
    box, text, worst = (
        (DARK, WHITE, brightest) if dark_box >= light_box else (LIGHT, BLACK, darkest)
    )
    for step in range(101):
        alpha = opacity + (1.0 - opacity) * step / 100
        text_ok = float(contrast_ratio(text, _blend(box, worst, alpha))) >= TEXT_CONTRAST
        box_ok = float(contrast_ratio(_blend(box, mean, alpha), mean)) >= BOX_CONTRAST
        if text_ok and box_ok:
            return box, text, alpha
    return box, text, 1.0
