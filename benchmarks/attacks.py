"""Named image attacks for the invisible-watermark robustness benchmark.

Every attack takes an RGB ``PIL.Image`` and a seeded ``numpy.random.Generator`` and returns a
new RGB image; the same generator state always gives the same output, so a benchmark run is
reproducible from its ``--seed``.

Resampling is ``Image.LANCZOS`` for every resize (what Pillow-based upload pipelines use for
downscaling) and ``Image.BICUBIC`` for rotations and perspective warps (Pillow's ``rotate``
and ``transform`` support nothing sharper). JPEG is saved with Pillow's defaults apart from
quality, which means 4:2:0 chroma subsampling, as a social site re-encodes.

Example:
    >>> import numpy as np
    >>> from PIL import Image
    >>> from attacks import ATTACKS, by_name
    >>> im = Image.new("RGB", (64, 48), (120, 80, 40))
    >>> by_name("resize x0.5").apply(im, np.random.default_rng(0)).size
    (32, 24)
    >>> len(ATTACKS)
    29
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

AttackFn = Callable[[Image.Image, np.random.Generator], Image.Image]

RESAMPLE = Image.Resampling.LANCZOS
ROTATE_RESAMPLE = Image.Resampling.BICUBIC
ROTATE_FILL = (0, 0, 0)


@dataclass(frozen=True)
class Attack:
    """One named attack and the exact-recovery rate the watermark must reach under it."""

    name: str
    target: float
    apply: AttackFn

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "target": self.target}


def _encode(im: Image.Image, fmt: str, quality: int, **options: object) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, fmt, quality=quality, **options)
    buf.seek(0)
    with Image.open(buf) as decoded:
        rgb: Image.Image = decoded.convert("RGB")
    return rgb


def _scale(im: Image.Image, sx: float, sy: float | None = None) -> Image.Image:
    sy = sx if sy is None else sy
    size = (max(1, round(im.width * sx)), max(1, round(im.height * sy)))
    return im.resize(size, RESAMPLE)


def _random_crop(im: Image.Image, area: float, rng: np.random.Generator) -> Image.Image:
    side = math.sqrt(area)
    w, h = max(1, round(im.width * side)), max(1, round(im.height * side))
    x = int(rng.integers(0, im.width - w + 1))
    y = int(rng.integers(0, im.height - h + 1))
    return im.crop((x, y, x + w, y + h))


def jpeg(quality: int) -> AttackFn:
    return lambda im, rng: _encode(im, "JPEG", quality)


def webp(quality: int) -> AttackFn:
    return lambda im, rng: _encode(im, "WEBP", quality)


def resize(factor: float) -> AttackFn:
    return lambda im, rng: _scale(im, factor)


def aspect(width_factor: float) -> AttackFn:
    return lambda im, rng: _scale(im, width_factor, 1.0)


def enhance(kind: Callable[[Image.Image], ImageEnhance._Enhance], factor: float) -> AttackFn:
    return lambda im, rng: kind(im).enhance(factor)


def image_filter(make: Callable[[], ImageFilter.Filter]) -> AttackFn:
    return lambda im, rng: im.filter(make())


def gaussian_noise(sigma: float) -> AttackFn:
    def apply(im: Image.Image, rng: np.random.Generator) -> Image.Image:
        arr = np.asarray(im, dtype=np.float32)
        noisy = arr + rng.normal(0.0, sigma, arr.shape).astype(np.float32)
        return Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8), "RGB")

    return apply


def text_box(area: float) -> AttackFn:
    """A filled caption box with text, covering ``area`` of the image at a random place."""

    def apply(im: Image.Image, rng: np.random.Generator) -> Image.Image:
        side = math.sqrt(area)
        w, h = max(1, round(im.width * side)), max(1, round(im.height * side))
        x = int(rng.integers(0, im.width - w + 1))
        y = int(rng.integers(0, im.height - h + 1))
        out = im.copy()
        draw = ImageDraw.Draw(out)
        fill = tuple(int(c) for c in rng.integers(0, 256, 3))
        ink = (255, 255, 255) if sum(fill) < 384 else (0, 0, 0)
        draw.rectangle((x, y, x + w - 1, y + h - 1), fill=fill)
        # Sized so the caption stays inside the box: ~0.55 em per glyph, 13 glyphs.
        font = ImageFont.load_default(size=max(6, min(h // 4, w // 8)))
        draw.text((x + w // 20, y + h // 3), "Breaking news", fill=ink, font=font)
        return out

    return apply


def upload_path(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Fit within 1080 px (downscale only), shrink ×0.8, re-encode as JPEG 75."""
    fit = min(1.0, 1080 / max(im.size))
    if fit < 1.0:
        im = _scale(im, fit)
    return _encode(_scale(im, 0.8), "JPEG", 75)


def crop(area: float) -> AttackFn:
    return lambda im, rng: _random_crop(im, area, rng)


def rotate(degrees: float) -> AttackFn:
    return lambda im, rng: im.rotate(
        degrees, resample=ROTATE_RESAMPLE, expand=False, fillcolor=ROTATE_FILL
    )


def perspective_coefficients(
    source: Sequence[tuple[float, float]], target: Sequence[tuple[float, float]]
) -> tuple[float, ...]:
    """Pillow ``PERSPECTIVE`` coefficients that put each ``source`` corner at ``target``.

    ``Image.transform`` maps every output pixel back to the input, so the 8 coefficients
    solve ``x_in = (a x + b y + c) / (g x + h y + 1)`` (and ``y_in`` with ``d e f``) for
    the output points ``target`` and the input points ``source``.
    """
    rows = []
    rhs = []
    for (xs, ys), (x, y) in zip(source, target, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -x * xs, -y * xs])
        rows.append([0, 0, 0, x, y, 1, -x * ys, -y * ys])
        rhs += [xs, ys]
    solved = np.linalg.solve(np.asarray(rows, dtype=np.float64), np.asarray(rhs))
    return tuple(float(c) for c in solved)


def _perspective(im: Image.Image, displacement: float, rng: np.random.Generator) -> Image.Image:
    w, h = im.size
    corners = [(0.0, 0.0), (float(w), 0.0), (float(w), float(h)), (0.0, float(h))]
    moves = rng.uniform(-displacement, displacement, (4, 2)) * (w, h)
    moved = [(x + dx, y + dy) for (x, y), (dx, dy) in zip(corners, moves, strict=True)]
    return im.transform(
        im.size,
        Image.Transform.PERSPECTIVE,
        perspective_coefficients(corners, moved),
        resample=ROTATE_RESAMPLE,
        fillcolor=ROTATE_FILL,
    )


def perspective(displacement: float) -> AttackFn:
    """Each corner moves by up to ``displacement`` × width (x) and × height (y), uniformly at
    random and independently; the output keeps the input's size, uncovered parts black."""
    return lambda im, rng: _perspective(im, displacement, rng)


def rotate_jpeg(degrees: float, quality: int) -> AttackFn:
    """A rotation (as :func:`rotate`) re-encoded as JPEG with explicit 4:2:0 subsampling."""
    turn = rotate(degrees)
    return lambda im, rng: _encode(turn(im, rng), "JPEG", quality, subsampling="4:2:0")


def _gamma(im: Image.Image, gamma: float) -> Image.Image:
    lut = [round(255 * (v / 255) ** gamma) for v in range(256)]
    return im.point(lut * len(im.getbands()))


def camera_recapture(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A phone photo of a screen or print: perspective 5 %, Gaussian blur σ 1, Gaussian
    noise σ 4, gamma 0.8 (brightens mid-tones), then JPEG 80."""
    warped = _perspective(im, 0.05, rng).filter(ImageFilter.GaussianBlur(1))
    noisy = gaussian_noise(4.0)(warped, rng)
    return _encode(_gamma(noisy, 0.8), "JPEG", 80)


def hflip(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    return im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def screenshot(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Display scaling ×0.9, a crop keeping 80% of the area, then JPEG 85."""
    return _encode(_random_crop(_scale(im, 0.9), 0.8, rng), "JPEG", 85)


ATTACKS: tuple[Attack, ...] = (
    Attack("none", 0.95, lambda im, rng: im.copy()),
    Attack("jpeg q90", 0.95, jpeg(90)),
    Attack("jpeg q75", 0.95, jpeg(75)),
    Attack("jpeg q50", 0.95, jpeg(50)),
    Attack("webp q75", 0.95, webp(75)),
    Attack("resize x0.75", 0.95, resize(0.75)),
    Attack("resize x0.5", 0.95, resize(0.5)),
    Attack("resize x1.5", 0.95, resize(1.5)),
    Attack("aspect w x0.8", 0.95, aspect(0.8)),
    Attack("brightness x1.3", 0.95, enhance(ImageEnhance.Brightness, 1.3)),
    Attack("contrast x1.5", 0.95, enhance(ImageEnhance.Contrast, 1.5)),
    Attack("saturation x1.5", 0.95, enhance(ImageEnhance.Color, 1.5)),
    Attack("blur r1", 0.95, image_filter(lambda: ImageFilter.GaussianBlur(1))),
    Attack("median 3x3", 0.95, image_filter(lambda: ImageFilter.MedianFilter(3))),
    Attack("noise sigma8", 0.95, gaussian_noise(8.0)),
    Attack("text box 10%", 0.95, text_box(0.10)),
    Attack("upload path", 0.95, upload_path),
    Attack("crop 50%", 0.95, crop(0.50)),
    Attack("jpeg q30", 0.95, jpeg(30)),
    Attack("crop 25%", 0.90, crop(0.25)),
    Attack("rotate 2deg", 0.90, rotate(2.0)),
    Attack("rotate 10deg", 0.90, rotate(10.0)),
    Attack("hflip", 0.90, hflip),
    Attack("blur r2", 0.90, image_filter(lambda: ImageFilter.GaussianBlur(2))),
    Attack("screenshot", 0.90, screenshot),
    # Issue 15. jpeg q30 above moved from 0.90 to the 0.95.
    Attack("perspective 3%", 0.95, perspective(0.03)),
    Attack("perspective 5%", 0.90, perspective(0.05)),
    Attack("rotate 5deg + jpeg q90", 0.95, rotate_jpeg(5.0, 90)),
    Attack("camera recapture", 0.80, camera_recapture),
)


def by_name(name: str) -> Attack:
    """The attack called ``name``; raises ``KeyError`` listing the known names otherwise."""
    for attack in ATTACKS:
        if attack.name == name:
            return attack
    known = ", ".join(a.name for a in ATTACKS)
    raise KeyError(f"unknown attack {name!r}; known attacks: {known}")


def index_of(attack: Attack) -> int:
    """The attack's place in :data:`ATTACKS`: what seeds its generator, so a run of a few
    attacks sees the same geometry as a run of all of them."""
    return ATTACKS.index(attack)


def select(names: Iterable[str] | None) -> tuple[Attack, ...]:
    """The attacks called ``names`` in benchmark order, or all of them for ``None``."""
    if names is None:
        return ATTACKS
    wanted = {by_name(n).name for n in names}
    return tuple(a for a in ATTACKS if a.name in wanted)
