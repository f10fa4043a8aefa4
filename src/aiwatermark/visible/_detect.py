"""Find a label drawn by :func:`~aiwatermark.visible.add_label`, even after JPEG and resizing."""

from __future__ import annotations

import functools
import math
import os
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image

from .. import imageio
from ..errors import ImageTooSmallError, InvalidArgumentError
from ._label import Background, check_layout_options, check_position, check_text, parse_colour
from ._layout import (
    MIN_CAP_HEIGHT,
    POSITIONS,
    PRESETS,
    SIZE_FRACTION,
    Layout,
    cap_height,
    draw,
    min_font_px,
    plan,
)

THRESHOLD = 0.65
"""Scores at or above this mean "label found" (calibrated in benchmarks/label_detection.py)."""

BOXLESS_THRESHOLD = 0.42
"""The same for labels drawn with ``background=None``: their outlined text carries the
photo along its edges, so both labelled and unlabelled images score lower."""

ANYWHERE_THRESHOLD = 0.75
"""The bar for a label found away from its placements (after a crop) or at another size."""

BOXLESS_ANYWHERE_THRESHOLD = 0.6
"""The same for labels drawn with ``background=None``."""

ICON_THRESHOLD = 0.8
"""The bar for the ``"eu-ai"`` preset: the lone acronym in its frame is a short pattern that
textures match better by chance (unlabelled photos up to ~0.69; labelled >= 0.9 after JPEG
and a 0.5x resize)."""

ICON_ANYWHERE_THRESHOLD = 0.85
"""The same away from the placements."""

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


@dataclass(frozen=True, eq=False)
class _Template:
    values: _Array
    weights: _Array
    total: float
    norm: float
    kernel: _Array
    """``weights`` × the values' deviation from their weighted mean: what the image is
    correlated with."""


@functools.lru_cache(maxsize=256)
def _template(
    layout: Layout, text: str, boxed: bool, factor: float, phase: tuple[float, float]
) -> _Template:
    # Cached across calls: uploads come in a few common sizes, which need the same
    # templates, and drawing one costs more than matching it.
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
    values = rgba[:, :, 0]
    total = float(weights.sum())
    deviation = values - float((weights * values).sum()) / max(total, 1e-9)
    norm = float(np.sqrt((weights * deviation**2).sum()))
    kernel = weights * deviation
    for array in (values, weights, kernel):
        array.setflags(write=False)  # shared by every later call through the cache
    return _Template(values=values, weights=weights, total=total, norm=norm, kernel=kernel)


_Spectrum = np.ndarray[Any, np.dtype[np.complex128]]


class _KernelSpectra:
    """The conjugate spectra of templates' kernel and weights, per transform size, kept
    across calls up to a memory budget, least recently used dropped first.

    Images of one size need the same templates at the same transform sizes, and
    transforming the templates is two of every five transforms a comparison costs.
    """

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._used = 0
        self._items: OrderedDict[tuple[_Template, tuple[int, int]], tuple[_Spectrum, _Spectrum]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def get(self, template: _Template, shape: tuple[int, int]) -> tuple[_Spectrum, _Spectrum]:
        key = (template, shape)  # the template itself, never an id a new one could reuse
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        spectra = (
            np.conj(np.fft.rfft2(template.kernel, s=shape)),
            np.conj(np.fft.rfft2(template.weights, s=shape)),
        )
        size = spectra[0].nbytes + spectra[1].nbytes
        with self._lock:
            if key not in self._items and size <= self._budget:
                self._items[key] = spectra
                self._used += size
                while self._used > self._budget:
                    _, dropped = self._items.popitem(last=False)
                    self._used -= dropped[0].nbytes + dropped[1].nbytes
        return spectra


_KERNEL_SPECTRA = _KernelSpectra(48 << 20)  # a 1024-px image's search needs about 30 MB


def _fast_length(n: int) -> int:
    """The smallest 5-smooth size >= ``n``."""
    # pocketfft is several times slower on sizes with a large prime factor (a label's
    # region is often 59 or 241 px wide); padding to 2^a 3^b 5^c keeps every transform fast.
    while True:
        rest = n
        for prime in (2, 3, 5):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return n
        n += 1


class _Plane:
    """A grey image (or region) with the transforms every template compared with it shares."""

    def __init__(self, pixels: _Array) -> None:
        self.shape = (int(pixels.shape[0]), int(pixels.shape[1]))
        self.fft_shape = (_fast_length(self.shape[0]), _fast_length(self.shape[1]))
        centred = pixels - pixels.mean()  # keeps the FFT sums well conditioned
        self.spectrum = np.fft.rfft2(centred, s=self.fft_shape)
        self.squares = np.fft.rfft2(centred**2, s=self.fft_shape)

    def _correlate(self, spectrum: _Spectrum, kernel: _Spectrum, shape: tuple[int, ...]) -> _Array:
        """Sum of a kernel of ``shape`` (given by its conjugate spectrum) × the image under
        it, for every offset where it fits inside."""
        # Zero padding past the image never wraps into an offset where the kernel fits.
        out = np.fft.irfft2(spectrum * kernel, s=self.fft_shape)
        height, width = self.shape
        return np.asarray(out[: height - shape[0] + 1, : width - shape[1] + 1])

    def scores(self, template: _Template, min_slope: float) -> _Array | None:
        """|Weighted normalised cross-correlation| of ``template`` at every offset."""
        shape = template.values.shape
        if shape[0] > self.shape[0] or shape[1] > self.shape[1]:
            return None
        total, norm = template.total, template.norm
        if total < 1.0 or norm == 0.0:
            return None
        kernel, weights = _KERNEL_SPECTRA.get(template, self.fft_shape)
        numerator = self._correlate(self.spectrum, kernel, shape)
        sums = self._correlate(self.spectrum, weights, shape)
        squares = self._correlate(self.squares, weights, shape)
        spread = squares - sums**2 / total
        # The slope of pixels against the template is the text-to-box brightness difference
        # (as a fraction of 255): ours keep >= ~0.45 because of the contrast rule, while
        # textures that happen to correlate are mostly faint.
        slope = np.abs(numerator) / norm**2
        strong = (spread > _MIN_STD**2 * total) & (slope >= min_slope)
        return np.asarray(
            np.where(strong, np.abs(numerator) / (norm * np.sqrt(np.maximum(spread, 1e-9))), 0.0)
        )


def _best_match(region: _Array, template: _Template, min_slope: float) -> tuple[float, int, int]:
    """Best |weighted normalised cross-correlation| of ``template`` in ``region``."""
    score = _Plane(region).scores(template, min_slope)
    if score is None:
        return 0.0, 0, 0
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
    full_size: tuple[int, int] | None = None,
) -> LabelDetection:
    """Look for a label that :func:`add_label` drew with the same text and options.

    The expected label is laid out by the same rules as :func:`add_label` (for this image
    size and for the sizes it may have had before a downscale to 1/4) and compared, by
    normalised cross-correlation of the text's shape, with every placement in
    :data:`POSITIONS` (or only ``position``), a few pixels around each. When it is not
    there and no ``position`` is given, the whole image is searched, coarse to fine, at
    every size a crop keeping at least half the short side (and any resize after it) can
    leave the label at. It survives JPEG compression, resizing and crops that keep the
    label; it does not look for labels cut, rotated or restyled. ``found`` is
    ``score >= 0.65`` at a placement (0.42 without a box) and ``>= 0.75`` elsewhere (0.6
    without a box; 0.8 and 0.85 for the ``"eu-ai"`` icon alone); unlabelled photos score
    below that. ``text`` is the label's text or a name in :data:`PRESETS`. Pass the options
    the label was drawn with (``size``, ``margin``, ``font``, ``logo``;
    ``background=None`` for a label without a box). ``full_size`` is the (width, height)
    of the image when ``image`` is a reduced copy of it, such as
    :func:`aiwatermark.imageio.open_reduced` gives, with a short side of at least 1024
    pixels (or the full image's); the label is then looked for as drawn on the full image,
    and ``box`` is in its pixels.

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
    width, height = colour.size if full_size is None else _check_full_size(full_size, colour)
    work = min(1.0, _WORK_SIDE / min(width, height))
    grey = _shrunk_grey(colour, (max(1, round(width * work)), max(1, round(height * work))))
    pixels = np.asarray(grey, dtype=np.float64)
    search = _Search(pixels, text, boxed=background is not None)
    candidates = _candidates(
        (width, height),
        work,
        text,
        positions,
        size=size,
        margin=margin,
        font=None if font is None else os.fspath(font),
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
    boxed = background is not None
    icon = PRESETS.get(text) == ("AI", "")
    threshold = ICON_THRESHOLD if icon else THRESHOLD if boxed else BOXLESS_THRESHOLD
    if score < threshold and position is None:
        # Not where add_label puts it: a crop may have moved it and changed the image size
        # (so the size it was laid out for), a resize its scale. Look everywhere.
        # Many more places and sizes compared: a stricter bar keeps the chance of a chance
        # match where it was (a crop leaves the label intact, and it scores > 0.85).
        strict = (
            ICON_ANYWHERE_THRESHOLD
            if icon
            else ANYWHERE_THRESHOLD
            if boxed
            else BOXLESS_ANYWHERE_THRESHOLD
        )
        anywhere = search.anywhere(
            grey,
            min(width, height),
            work,
            size=size,
            font=font,
            logo_aspect=logo_aspect,
            enough=strict + 0.1,
        )
        if anywhere[0] >= strict or anywhere[0] < threshold:
            score, box, where = max((score, box, where), anywhere, key=lambda m: m[0])
    score = round(min(score, 1.0), 4)
    if score < threshold or box is None:
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


def _shrunk_grey(colour: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``colour`` in grey, shrunk to ``size`` with a box filter, a band of rows at a time.

    The same pixels as converting the whole image and then shrinking it, without the
    full-size grey copy (150 MB at 150 megapixels): Pillow maps each output row to the
    same source rows whether it resizes the whole image or a box of it.
    """
    if size == colour.size:
        return colour.convert("L")
    width, height = colour.size
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


def _check_full_size(full_size: object, reduced: Image.Image) -> tuple[int, int]:
    """``full_size`` as (width, height), once it is one ``reduced`` can be a copy of."""
    if (
        not isinstance(full_size, tuple)
        or len(full_size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in full_size)
    ):
        raise InvalidArgumentError(f"full_size must be (width, height), not {full_size!r}")
    width, height = full_size
    needed = min(_WORK_SIDE, width, height)
    if width < reduced.width or height < reduced.height or min(reduced.size) < needed:
        raise InvalidArgumentError(
            f"full_size={full_size!r} does not fit a {reduced.width}×{reduced.height} copy: "
            f"the copy must be no larger than the image and keep a short side of {needed} px"
        )
    return width, height


def _close(a: _Candidate, b: _Candidate) -> bool:
    # Within the search radius and 1.5 % in size: the search for one covers the other.
    return (
        a.position == b.position
        and abs(a.origin[0] - b.origin[0]) <= 2
        and abs(a.origin[1] - b.origin[1]) <= 2
        and all(abs(p - q) <= max(1.0, 0.015 * p) for p, q in zip(a.size, b.size, strict=True))
    )


@functools.lru_cache(maxsize=64)
def _candidates(
    image_size: tuple[int, int],
    work: float,
    text: str,
    positions: tuple[str, ...],
    *,
    size: int | None,
    margin: int | None,
    font: str | None,
    logo_aspect: float | None,
) -> tuple[_Candidate, ...]:
    """The label as drawn on this image, or on a larger original later scaled down to it."""
    # Cached like the templates: laying the label out ~100 times costs more than
    # matching most of the candidates.
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
    return tuple(found)


_Match = tuple[float, tuple[int, int, int, int] | None, str | None]


class _Search:
    """Matches candidates against one (working-size, grey) image."""

    def __init__(self, pixels: _Array, text: str, *, boxed: bool) -> None:
        self.pixels = pixels
        self.text = text
        self.boxed = boxed

    def template(self, layout: Layout, factor: float, phase: tuple[float, float]) -> _Template:
        return _template(layout, self.text, self.boxed, factor, phase)

    def match(
        self, candidate: _Candidate, phase: tuple[float, float], radius: int = _RADIUS
    ) -> _Match:
        """(score, box in working pixels, position) of the best fit near ``candidate``."""
        template = self.template(candidate.layout, candidate.factor, phase)
        th, tw = template.values.shape
        x0, y0 = candidate.origin
        top, left = max(0, y0 - radius), max(0, x0 - radius)
        region = self.pixels[top : y0 + th + radius, left : x0 + tw + radius]
        if region.shape[0] < th or region.shape[1] < tw:
            return 0.0, None, None
        score, dx, dy = _best_match(
            region, template, _MIN_SLOPE if self.boxed else _BOXLESS_MIN_SLOPE
        )
        box = (left + dx, top + dy, left + dx + tw, top + dy + th)
        return score, box, candidate.position

    def anywhere(
        self,
        grey: Image.Image,
        short_side: int,
        work: float,
        *,
        size: int | None,
        font: str | os.PathLike[str] | None,
        logo_aspect: float | None,
        enough: float,
    ) -> _Match:
        """The best fit at any position and at any size a crop (and resize) can give.

        Coarse to fine: every apparent size is compared with the whole image at a reduced
        resolution, where the text is still a few pixels tall, and the few best places are
        then matched at full resolution with the label drawn at the sizes near that one.
        """
        min_slope = _MIN_SLOPE if self.boxed else _BOXLESS_MIN_SLOPE
        coarse_min = _COARSE_MIN_SCORE if self.boxed else _BOXLESS_COARSE_MIN_SCORE
        floor = min_font_px(font)
        font = None if font is None else os.fspath(font)  # hashable, for the layout cache
        planes: dict[int, _Plane] = {}
        hits: list[tuple[float, float, float, float]] = []  # score, font px, centre x, y
        for apparent in _apparent_sizes(short_side, work, size, floor):
            step = 1
            while step < _MAX_COARSE_STEP and apparent / (2 * step) >= _COARSE_FONT_PX:
                step *= 2
            if step not in planes:
                reduced = grey.reduce(step) if step > 1 else grey
                planes[step] = _Plane(np.asarray(reduced, dtype=np.float64))
            drawn = max(floor, round(apparent))
            layout = _free_layout(text=self.text, px=drawn, font=font, logo_aspect=logo_aspect)
            template = self.template(layout, apparent / drawn / step, (0.0, 0.0))
            score = planes[step].scores(template, _COARSE_SLOPE * min_slope)
            if score is None:
                continue
            y, x = np.unravel_index(int(np.argmax(score)), score.shape)
            th, tw = template.values.shape
            hits.append((float(score[y, x]), apparent, (x + tw / 2) * step, (y + th / 2) * step))
        best: _Match = (0.0, None, None)
        kept: list[tuple[float, float, float, float]] = []
        for hit in sorted(hits, reverse=True):
            if hit[0] < coarse_min or len(kept) == _COARSE_KEEP:
                break
            # Neighbouring sizes peak on the same spot: one fine search covers them all.
            if any(abs(hit[2] - k[2]) < 2 * k[1] and abs(hit[3] - k[3]) < k[1] for k in kept):
                continue
            kept.append(hit)
            best = max(best, self._fine(hit, work, size, floor, font, logo_aspect), key=_first)
            if best[0] >= enough:
                break
        if best[1] is None:
            return best
        return best[0], best[1], _nearest_position(best[1], self.pixels.shape)

    def _fine(
        self,
        hit: tuple[float, float, float, float],
        work: float,
        size: int | None,
        floor: int,
        font: str | None,
        logo_aspect: float | None,
    ) -> _Match:
        """The best full-resolution fit of the label at the sizes near a coarse hit's."""
        _, apparent, cx, cy = hit
        drawn = apparent / work

        def match(px: int, factor: float) -> _Match:
            layout = _free_layout(text=self.text, px=px, font=font, logo_aspect=logo_aspect)
            width, height = (round(v * factor) for v in layout.size)
            candidate = _Candidate(
                position="",  # named once found, by where it is
                layout=layout,
                factor=factor,
                origin=(round(cx - width / 2), round(cy - height / 2)),
                size=(width, height),
            )
            return self.match(candidate, _PHASES[0], radius=_FINE_RADIUS)

        # Cropped and resized: drawn larger, then scaled to the size seen here. The coarse
        # match favours sizes a little small (a template smaller than the box stays on
        # it), so the sizes tried reach further up than down.
        source = size if size is not None else max(floor, round(2 * drawn))
        scored = [(match(source, apparent * step / source), step) for step in _FINE_STEPS]
        best, step = max(scored, key=lambda pair: pair[0][0])
        half = (_FINE_STEPS[1] - _FINE_STEPS[0]) / 2
        for finer in (step - half, step + half):
            best = max(best, match(source, apparent * finer / source), key=_first)
        # Cropped only: the label is exactly as add_label drew it, at a whole font size.
        if size is not None:
            natives = [size]
        elif work == 1.0:
            natives = [round(drawn * step) + k for k in (-1, 0, 1)]
        else:
            natives = []  # our own downscale resamples it like a resize would
        for px in natives:
            if px >= floor:
                best = max(best, match(px, work), key=_first)
        return best


def _first(match: _Match) -> float:
    return match[0]


_CROP_KEEPS = 0.5
"""The smallest share of the short side a crop may keep for the label to be searched for."""

_SIZE_STEP = 1.04  # between sizes compared coarsely; the fine search covers the gaps
_COARSE_FONT_PX = 7.0  # the text is still a few pixels tall at the coarse resolution
_MAX_COARSE_STEP = 8
_COARSE_SLOPE = 0.7  # the reduced image blurs text and box into each other
_COARSE_MIN_SCORE = 0.5  # labels score >= 0.6 here; chance matches mostly below
_BOXLESS_COARSE_MIN_SCORE = 0.3  # outlined text carries the photo along its edges
_COARSE_KEEP = 3  # places matched at full resolution
_FINE_RADIUS = 10  # the coarse place is off by up to half a coarse pixel and the size step
_FINE_STEPS = (0.97, 1.0, 1.03, 1.06, 1.09, 1.12)  # then halfway to each neighbour


def _apparent_sizes(short_side: int, work: float, size: int | None, floor: int) -> list[float]:
    """Font sizes (working pixels) a label can show at after a crop and a resize."""
    if size is None:
        # add_label sizes the font by the short side it was drawn on: a crop keeping a
        # share c of it leaves the font at 1/c times the size this image would get, and a
        # later resize changes both alike. Small originals had the legible minimum.
        low = SIZE_FRACTION * short_side
        high = max(SIZE_FRACTION * short_side / _CROP_KEEPS, float(floor))
    else:
        low, high = _CROP_KEEPS * size, float(size)
    low = max(low, _MIN_CAP_SCALE * floor) * work
    high = high * work
    sizes = []
    apparent = low / 1.02
    while apparent <= high * 1.02:
        sizes.append(apparent)
        apparent *= _SIZE_STEP
    return sizes


@functools.lru_cache(maxsize=256)
def _free_layout(*, text: str, px: int, font: str | None, logo_aspect: float | None) -> Layout:
    """The label at font size ``px`` with its box at the origin."""
    roomy = (1 << 20, 1 << 20)
    return plan(
        roomy, text, position="top-left", size=px, margin=0, font=font, logo_aspect=logo_aspect
    )


def _nearest_position(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> str:
    """The placement in :data:`POSITIONS` whose third of the image holds the box's centre."""
    x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    column = ("left", "center", "right")[min(2, int(3 * x / shape[1]))]
    row = ("top", "center", "bottom")[min(2, int(3 * y / shape[0]))]
    if row == "center":
        return column
    return row if column == "center" else f"{row}-{column}"
