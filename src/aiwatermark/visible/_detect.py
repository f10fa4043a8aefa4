"""Find a label drawn by :func:`~aiwatermark.visible.add_label`, even after JPEG and resizing."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image

from .. import imageio
from ..errors import ImageTooSmallError
from ._label import Background, check_layout_options, check_position, check_text, parse_colour
from ._layout import MIN_CAP_HEIGHT, POSITIONS, Layout, cap_height, draw, plan

THRESHOLD = 0.65
"""Scores at or above this mean "label found" (calibrated in benchmarks/label_detection.py)."""

BOXLESS_THRESHOLD = 0.42
"""The same for labels drawn with ``background=None``: their outlined text carries the
photo along its edges, so both labelled and unlabelled images score lower."""

_SCALES = (1.0, 0.9, 0.8, 0.75, 0.7, 2 / 3, 0.6, 0.5, 0.4, 1 / 3, 0.25)
# Labels on images bigger than ~570 px scale exactly with the image, so one template fits
# every resize of them; below that the legible-size floor makes the label relatively larger,
# and a resized copy is matched by laying the label out for the size it was drawn at.

_WORK_SIDE = 1024  # larger images are compared at this short side: same answer, bounded time
_RADIUS = 6  # pixels searched around each expected position (rounding, resampling shifts)
_MIN_STD = 4.0  # flatter patches have no text on them and would give a meaningless score
_MIN_SLOPE = 0.4  # the faintest text-to-box difference a 4.5:1 label can have is 0.45
_BOXLESS_MIN_SLOPE = 0.25  # text-to-outline differs by 1.0, blurred with the photo at its rim
_PHASES = ((0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5))
_PHASED_FONT_PX = 16  # larger text loses little to a half-pixel offset
_REFINE = 3  # candidates re-matched at sub-pixel offsets
_MIN_CAP_SCALE = 0.5  # labels shrunk below half the legible cap height no longer count

_Array = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class LabelDetection:
    """What :func:`detect_label` found.

    ``score`` is the best normalised cross-correlation (0..1) between the expected label and
    the image; ``box`` is (left, top, right, bottom) of the best match in image pixels, and
    ``position`` the placement it was searched at. ``box`` and ``position`` are ``None``
    when nothing was found.
    """

    found: bool
    score: float
    box: tuple[int, int, int, int] | None
    position: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict.

        Example:
            >>> from aiwatermark.visible import LabelDetection
            >>> LabelDetection(found=False, score=0.12, box=None).to_dict()["found"]
            False
        """
        data = asdict(self)
        data["box"] = None if self.box is None else list(self.box)
        return data


@dataclass(frozen=True)
class _Template:
    values: _Array
    weights: _Array


def _template(
    layout: Layout, text: str, boxed: bool, factor: float, phase: tuple[float, float]
) -> _Template:
    label = draw(
        layout,
        text,
        box=(0, 0, 0, 255) if boxed else None,
        ink=(255, 255, 255, 255),
        halo=None if boxed else (0, 0, 0, 255),
        logo=None,  # the logo's area gets zero weight: only the text's shape is compared
    )
    if factor != 1.0:
        size = (max(1, round(label.width * factor)), max(1, round(label.height * factor)))
        # Bilinear blurs like the usual downscalers; ``phase`` places the label between
        # pixels, where a downscale by a factor like 0.5 usually puts it.
        dx, dy = phase[0] / factor, phase[1] / factor
        pad = int(np.ceil(max(dx, dy)))
        padded = Image.new("RGBA", (label.width + 2 * pad, label.height + 2 * pad), (0, 0, 0, 0))
        padded.paste(label, (pad, pad))
        source = (pad - dx, pad - dy, pad - dx + label.width, pad - dy + label.height)
        label = padded.resize(size, Image.Resampling.BILINEAR, box=source)
    rgba = np.asarray(label, dtype=np.float64)
    alpha = rgba[:, :, 3] / 255.0
    # Only pixels wholly inside a box count: its anti-aliased rim mixes in the photo. A
    # boxless label is all rim, so there every pixel counts as much as it is covered.
    weights = (alpha >= 0.995).astype(np.float64) if boxed else alpha
    return _Template(values=rgba[:, :, 0], weights=weights)


def _correlate(
    spectrum: np.ndarray[Any, np.dtype[np.complex128]], kernel: _Array, shape: tuple[int, int]
) -> _Array:
    """Sum of ``kernel`` × the image under it, for every offset where it fits inside."""
    out = np.fft.irfft2(spectrum * np.conj(np.fft.rfft2(kernel, s=shape)), s=shape)
    return np.asarray(out[: shape[0] - kernel.shape[0] + 1, : shape[1] - kernel.shape[1] + 1])


def _best_match(region: _Array, template: _Template, min_slope: float) -> tuple[float, int, int]:
    """Best |weighted normalised cross-correlation| of ``template`` in ``region``."""
    weights, values = template.weights, template.values
    total = float(weights.sum())
    deviation = values - float((weights * values).sum()) / total
    norm = float(np.sqrt((weights * deviation**2).sum()))
    if total < 1.0 or norm == 0.0:
        return 0.0, 0, 0
    shape = (region.shape[0], region.shape[1])
    centred = region - region.mean()  # keeps the FFT sums well conditioned
    spectrum = np.fft.rfft2(centred)
    numerator = _correlate(spectrum, weights * deviation, shape)
    sums = _correlate(spectrum, weights, shape)
    squares = _correlate(np.fft.rfft2(centred**2), weights, shape)
    spread = squares - sums**2 / total
    # The slope of pixels against the template is the text-to-box brightness difference
    # (as a fraction of 255): ours keep >= ~0.45 because of the contrast rule, while
    # textures that happen to correlate are mostly faint.
    slope = np.abs(numerator) / norm**2
    strong = (spread > _MIN_STD**2 * total) & (slope >= min_slope)
    score = np.where(strong, np.abs(numerator) / (norm * np.sqrt(np.maximum(spread, 1e-9))), 0.0)
    y, x = np.unravel_index(int(np.argmax(score)), score.shape)
    return float(score[y, x]), int(x), int(y)


def detect_label(
    image: imageio.ImageSource,
    text: str = "AI-generated",
    *,
    position: str | None = None,
    size: int | None = None,
    margin: int | None = None,
    background: Background = "auto",
    font: str | os.PathLike[str] | None = None,
    logo: imageio.ImageSource | None = None,
) -> LabelDetection:
    """Look for a label that :func:`add_label` drew with the same text and options.

    The expected label is laid out by the same rules as :func:`add_label` (for this image
    size and for the sizes it may have had before a downscale to 1/4) and compared, by
    normalised cross-correlation of the text's shape, with every placement in
    :data:`POSITIONS` (or only ``position``), a few pixels around each. It survives JPEG
    compression and resizing; it does not look for labels moved, cropped, rotated or
    restyled. ``found`` is ``score >= 0.65`` (0.42 without a box); unlabelled photos score
    well below that.
    Pass the options the label was drawn with (``size``, ``margin``, ``font``, ``logo``;
    ``background=None`` for a label without a box).

    Raises:
        InvalidArgumentError: a bad argument, as in :func:`add_label`.
        aiwatermark.AiWatermarkError: ``image`` or ``logo`` cannot be read.

    Example:
        >>> from PIL import Image
        >>> from aiwatermark.visible import add_label, detect_label
        >>> plain = Image.new("RGB", (640, 480), "skyblue")
        >>> detect_label(add_label(plain)).found, detect_label(plain).found
        (True, False)
    """
    text = check_text(text)
    positions = POSITIONS if position is None else (check_position(position),)
    if background not in ("auto", None):
        parse_colour(background)
    check_layout_options(size, margin, font, text)
    logo_aspect = None
    if logo is not None:
        opened_logo = imageio.open(logo)
        logo_aspect = opened_logo.width / opened_logo.height
    colour, _ = imageio.split_alpha(imageio.open_for_reading(image))
    width, height = colour.size
    work = min(1.0, _WORK_SIDE / min(width, height))
    pixels = np.asarray(_shrunk_grey(colour, work), dtype=np.float64)
    search = _Search(pixels, text, boxed=background is not None)
    candidates = _candidates(
        (width, height),
        work,
        text,
        positions,
        size=size,
        margin=margin,
        font=font,
        logo_aspect=logo_aspect,
    )
    # A coarse pass on whole pixels, then sub-pixel phases for the few best: a downscaled
    # label usually sits between pixels, which costs its small text a lot of score.
    coarse = sorted(((search.match(c, _PHASES[0]), c) for c in candidates), key=lambda m: -m[0][0])
    matches = [match for match, _ in coarse]
    for _, candidate in coarse[:_REFINE]:
        if candidate.factor < 1.0 and candidate.layout.font_px * candidate.factor < _PHASED_FONT_PX:
            matches.extend(search.match(candidate, phase) for phase in _PHASES[1:])
    score, box, where = max(matches, default=(0.0, None, None), key=lambda m: m[0])
    score = round(min(score, 1.0), 4)
    if score < (THRESHOLD if background is not None else BOXLESS_THRESHOLD) or box is None:
        return LabelDetection(found=False, score=score, box=None)
    x0, y0, x1, y1 = box
    full = (
        round(x0 / work),
        round(y0 / work),
        min(width, round(x1 / work)),
        min(height, round(y1 / work)),
    )
    return LabelDetection(found=True, score=score, box=full, position=where)


@dataclass(frozen=True)
class _Candidate:
    """One place and size the label may have, in working pixels."""

    position: str
    layout: Layout
    factor: float
    """Working pixels per pixel of the image the label was drawn on."""
    origin: tuple[int, int]
    size: tuple[int, int]


_GREY_BAND = 256  # output rows converted at a time


def _shrunk_grey(colour: Image.Image, work: float) -> Image.Image:
    """``colour`` in grey, shrunk by ``work`` with a box filter, a band of rows at a time.

    The same pixels as converting the whole image and then shrinking it, without the
    full-size grey copy (150 MB at 150 megapixels): Pillow maps each output row to the
    same source rows whether it resizes the whole image or a box of it.
    """
    if work >= 1.0:
        return colour.convert("L")
    width, height = colour.size
    size = (max(1, round(width * work)), max(1, round(height * work)))
    scale = height / size[1]
    out = Image.new("L", size)
    for top in range(0, size[1], _GREY_BAND):
        bottom = min(size[1], top + _GREY_BAND)
        y0, y1 = top * scale, bottom * scale
        first, last = max(0, int(y0) - 2), min(height, math.ceil(y1) + 2)
        band = colour.crop((0, first, width, last)).convert("L")
        box = (0.0, y0 - first, float(width), y1 - first)
        out.paste(band.resize((size[0], bottom - top), Image.Resampling.BOX, box=box), (0, top))
    return out


def _close(a: _Candidate, b: _Candidate) -> bool:
    # Within the search radius and 1.5 % in size: the search for one covers the other.
    return (
        a.position == b.position
        and abs(a.origin[0] - b.origin[0]) <= 2
        and abs(a.origin[1] - b.origin[1]) <= 2
        and all(abs(p - q) <= max(1.0, 0.015 * p) for p, q in zip(a.size, b.size, strict=True))
    )


def _candidates(
    image_size: tuple[int, int],
    work: float,
    text: str,
    positions: tuple[str, ...],
    *,
    size: int | None,
    margin: int | None,
    font: str | os.PathLike[str] | None,
    logo_aspect: float | None,
) -> list[_Candidate]:
    """The label as drawn on this image, or on a larger original later scaled down to it."""
    width, height = image_size
    found: list[_Candidate] = []
    for scale in _SCALES:
        original = (round(width / scale), round(height / scale))
        factor = work * scale
        for where in positions:
            try:
                layout = plan(
                    original,
                    text,
                    position=where,
                    size=size,
                    margin=margin,
                    font=font,
                    logo_aspect=logo_aspect,
                )
            except ImageTooSmallError:
                break  # no label fits an image of that size, wherever it goes
            if cap_height(layout.font) * factor < _MIN_CAP_SCALE * MIN_CAP_HEIGHT:
                break  # the font size is the same at every position
            x0, y0, x1, y1 = layout.box
            candidate = _Candidate(
                position=where,
                layout=layout,
                factor=factor,
                origin=(round(x0 * factor), round(y0 * factor)),
                size=(round((x1 - x0) * factor), round((y1 - y0) * factor)),
            )
            if not any(_close(candidate, other) for other in found):
                found.append(candidate)
    return found


_Match = tuple[float, tuple[int, int, int, int] | None, str | None]


class _Search:
    """Matches candidates against one (working-size, grey) image, caching the templates."""

    def __init__(self, pixels: _Array, text: str, *, boxed: bool) -> None:
        self.pixels = pixels
        self.text = text
        self.boxed = boxed
        self.templates: dict[tuple[int, int, int, float, float, float], _Template] = {}

    def match(self, candidate: _Candidate, phase: tuple[float, float]) -> _Match:
        """(score, box in working pixels, position) of the best fit near ``candidate``."""
        layout, factor = candidate.layout, candidate.factor
        key = (layout.font_px, *layout.size, factor, *phase)
        if key not in self.templates:
            self.templates[key] = _template(layout, self.text, self.boxed, factor, phase)
        template = self.templates[key]
        th, tw = template.values.shape
        x0, y0 = candidate.origin
        top, left = max(0, y0 - _RADIUS), max(0, x0 - _RADIUS)
        region = self.pixels[top : y0 + th + _RADIUS, left : x0 + tw + _RADIUS]
        if region.shape[0] < th or region.shape[1] < tw:
            return 0.0, None, None
        score, dx, dy = _best_match(
            region, template, _MIN_SLOPE if self.boxed else _BOXLESS_MIN_SLOPE
        )
        box = (left + dx, top + dy, left + dx + tw, top + dy + th)
        return score, box, candidate.position
