"""Test images for the watermark benchmarks, by class; nothing is downloaded.

Every image is either a file bundled with an installed package (scikit-image, and the
photos scikit-learn and matplotlib ship when those are installed) or drawn here from a
fixed seed, so a run is reproducible on any machine with the same packages.

Sets (``SETS``):

- ``classic``: the robustness benchmark's original 15 images (12 scikit-image photos, the
  three ``fixtures/``), in their original order, so its rows stay comparable across versions.
- ``classes``: the classes of issue 15: greyscale fine textures, studio shots (a subject on
  a smooth vignetted backdrop), thumbnails marked directly, a 12 MP image, generated-looking
  renders (smooth shading, gradients, soft shadows) and the photos scikit-learn and
  matplotlib ship. Of the thumbnails (128, 160, 192 and 256 px) only those ``embed``
  accepts (short side ≥ ``invisible.MIN_SIZE``, 256 px) are in the set; the smaller ones
  are dropped, not enlarged, and ``benchmarks/small_images.py`` measures those sizes.
- ``all``: both.

Example:
    >>> from image_sets import SETS, by_name
    >>> by_name("thumb-256").load().size
    (384, 256)
    >>> [spec.name for spec in SETS["classes"] if spec.image_class == "render"]
    ['render-1', 'render-2']
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

import aiwatermark
from aiwatermark import invisible

FloatArray = npt.NDArray[np.float64]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@dataclass(frozen=True)
class BenchImage:
    """One benchmark image: a unique name, its class, and how to make it (RGB)."""

    name: str
    image_class: str
    load: Callable[[], Image.Image]


def _rgb(arr: npt.ArrayLike) -> Image.Image:
    return Image.fromarray(np.asarray(arr, dtype=np.uint8)).convert("RGB")


def skimage_photo(name: str) -> Image.Image:
    """An RGB image from a scikit-image ``data`` name (grey images become RGB)."""
    import skimage.data
    import skimage.io

    if name == "motorcycle":
        arr = skimage.data.stereo_motorcycle()[0]
    elif name == "clock":
        # skimage.data has no clock() loader for the bundled, motion-blurred clock photo.
        arr = skimage.io.imread(Path(skimage.data.__file__).parent / "clock_motion.png")
    else:
        arr = getattr(skimage.data, name)()
    return _rgb(arr)


def open_file(path: Path) -> Image.Image:
    return aiwatermark.imageio.open(path).convert("RGB")


def _sklearn_photo(name: str) -> Image.Image:
    from sklearn.datasets import load_sample_image

    return _rgb(load_sample_image(f"{name}.jpg"))


def _matplotlib_photo(filename: str) -> Image.Image:
    from matplotlib import cbook

    with Image.open(cbook.get_sample_data(filename, asfileobj=False)) as im:
        rgb: Image.Image = im.convert("RGB")
    return rgb


def _has_module(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


# --- procedural images ----------------------------------------------------------------------


def _grid(width: int, height: int) -> tuple[FloatArray, FloatArray]:
    """Pixel centres in units of the image width (x in [0, 1], y in [0, height / width]), so
    circles stay round whatever the aspect ratio."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    return x / width, y / width


def _shift(arr: FloatArray, dx: int, dy: int) -> FloatArray:
    """``arr`` moved right by ``dx`` and down by ``dy`` pixels, zeros shifted in."""
    out = np.zeros_like(arr)
    out[dy:, dx:] = arr[: arr.shape[0] - dy, : arr.shape[1] - dx]
    return out


def _to_image(rgb: FloatArray) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8), "RGB")


def _vignette_backdrop(
    width: int, height: int, centre: tuple[float, float, float], edge: tuple[float, float, float]
) -> FloatArray:
    """A studio paper backdrop: bright behind the subject, falling off smoothly to the edges
    and a little towards the floor."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = np.hypot((x / width - 0.5) * 1.1, y / height - 0.42)
    t = np.clip(r / 0.75, 0, 1) ** 1.6
    t = t[..., None]
    backdrop: FloatArray = np.asarray(centre) * (1 - t) + np.asarray(edge) * t
    return backdrop


def _soft_disc(
    x: FloatArray, y: FloatArray, cx: float, cy: float, rx: float, ry: float
) -> FloatArray:
    """Coverage (0..1) of an ellipse with an edge one pixel wide (anti-aliased)."""
    d = np.hypot((x - cx) / rx, (y - cy) / ry)
    edge_width = 1.0 / (min(rx, ry) * x.shape[1])  # x is in units of the width
    coverage: FloatArray = np.clip((1 - d) / edge_width + 0.5, 0, 1)
    return coverage


def _blur(arr: npt.NDArray[np.floating[Any]], sigma: float) -> FloatArray:
    from scipy.ndimage import gaussian_filter

    return np.asarray(gaussian_filter(arr, sigma), dtype=np.float64)


def studio_person(width: int = 768, height: int = 1024) -> Image.Image:
    """A figure (head, neck, shoulders in a shirt) lit from the upper left, on a grey-blue
    vignetted backdrop with a soft shadow: the smooth areas of a portrait or fashion shot."""
    x, yy = _grid(width, height)
    aspect = height / width
    bg = _vignette_backdrop(width, height, (196, 200, 206), (92, 98, 110))

    head = _soft_disc(x, yy, 0.5, 0.36 * aspect, 0.15, 0.19)
    neck = _soft_disc(x, yy, 0.5, 0.58 * aspect, 0.06, 0.12) * (yy > 0.5 * aspect)
    torso = _soft_disc(x, yy, 0.5, 1.12 * aspect, 0.46, 0.5)
    body = np.maximum(neck, torso)
    person = np.maximum(head, body)

    # Soft drop shadow on the backdrop, offset to the lower right of the figure.
    shadow = _blur(_shift(person, width // 25, height // 40), width / 40)
    bg *= (1 - 0.35 * shadow)[..., None]

    # Lambert shading of the head and body as rounded volumes, light from the upper left.
    def shade(cx: float, cy: float, rx: float, ry: float) -> FloatArray:
        nx = np.clip((x - cx) / rx, -1, 1)
        ny = np.clip((yy - cy) / ry, -1, 1)
        nz = np.sqrt(np.clip(1 - nx**2 - ny**2, 0, 1))
        light = np.array([-0.45, -0.55, 0.7])
        light /= np.linalg.norm(light)
        lambert = np.clip(nx * light[0] + ny * light[1] + nz * light[2], 0, 1)
        brightness: FloatArray = 0.35 + 0.65 * lambert
        return brightness

    skin = np.array([224, 172, 140]) * shade(0.5, 0.36 * aspect, 0.15, 0.19)[..., None]
    shirt = np.array([60, 92, 150]) * shade(0.5, 1.12 * aspect, 0.46, 0.5)[..., None]
    neck_tone = (
        np.array([200, 150, 120]) * (0.8 + 0.2 * shade(0.5, 0.58 * aspect, 0.06, 0.12))[..., None]
    )
    # Hair: a darker cap over the top of the head.
    hair = _soft_disc(x, yy, 0.5, 0.31 * aspect, 0.165, 0.15) * (yy < 0.33 * aspect)
    out = bg
    out = out * (1 - torso[..., None]) + shirt * torso[..., None]
    out = out * (1 - neck[..., None]) + neck_tone * neck[..., None]
    out = out * (1 - head[..., None]) + skin * head[..., None]
    hair_tone = np.array([70, 48, 34]) * shade(0.5, 0.31 * aspect, 0.165, 0.15)[..., None]
    out = out * (1 - hair[..., None]) + hair_tone * hair[..., None]
    return _to_image(out)


def studio_cutout(width: int = 1024, height: int = 768) -> Image.Image:
    """A photo cut out along a silhouette (scikit-image's ``horse`` mask filled with the
    ``chelsea`` cat's fur) on a warm vignetted backdrop with a contact shadow: a product
    shot or a background-removed portrait."""
    import skimage.data

    mask_img = Image.fromarray((~skimage.data.horse()).astype(np.uint8) * 255, "L")
    side = round(height * 0.75)
    scale = side / mask_img.height
    mask_img = mask_img.resize((round(mask_img.width * scale), side), Image.Resampling.LANCZOS)
    fill = skimage_photo("chelsea").resize(mask_img.size, Image.Resampling.LANCZOS)
    left = (width - mask_img.width) // 2
    top = height - side - height // 12
    mask = np.zeros((height, width))
    mask[top : top + side, left : left + mask_img.width] = np.asarray(mask_img) / 255.0
    subject = np.zeros((height, width, 3))
    subject[top : top + side, left : left + mask_img.width] = np.asarray(fill, dtype=np.float64)

    bg = _vignette_backdrop(width, height, (236, 226, 210), (150, 134, 118))
    shadow = _blur(_shift(mask, 0, height // 60), height / 50)
    bg *= (1 - 0.4 * shadow)[..., None]
    return _to_image(bg * (1 - mask[..., None]) + subject * mask[..., None])


def render_scene(seed: int, width: int = 1024, height: int = 1024) -> Image.Image:
    """A generated-looking render: shaded spheres on a floor under a gradient sky, with soft
    shadows and specular highlights, nothing but smooth gradients and edges."""
    rng = np.random.default_rng(seed)
    x, y = _grid(width, height)
    aspect = height / width
    sky_top, sky_low = rng.uniform(140, 230, 3), rng.uniform(190, 250, 3)
    floor_near, floor_far = rng.uniform(60, 140, 3), rng.uniform(150, 210, 3)
    horizon = 0.55 * aspect
    sky = sky_top + (sky_low - sky_top) * (y / horizon)[..., None]
    depth = np.clip((y - horizon) / (aspect - horizon), 0, 1)[..., None]
    floor = floor_far + (floor_near - floor_far) * depth
    is_sky = np.clip((horizon - y) * width + 0.5, 0, 1)[..., None]
    out = sky * is_sky + floor * (1 - is_sky)

    light = np.array([-0.5, -0.6, 0.62])
    light /= np.linalg.norm(light)
    spheres = []
    for _ in range(4):
        r = float(rng.uniform(0.07, 0.16))
        cx = float(rng.uniform(0.15, 0.85))
        cy = float(rng.uniform(horizon + 0.05, 0.95 * aspect - r * 0.3)) - r
        spheres.append((cy + r, cx, cy, r, rng.uniform(40, 230, 3)))
    # Soft shadows first, then spheres from back to front (by their floor contact).
    for _, cx, cy, r, _ in spheres:
        contact = _soft_disc(x, y, cx + 0.35 * r, cy + r * 0.95, r * 1.1, r * 0.3)
        out *= (1 - 0.45 * _blur(contact, r * width / 6))[..., None]
    for _, cx, cy, r, colour in sorted(spheres, key=lambda s: s[0]):
        cover = _soft_disc(x, y, cx, cy, r, r)
        nx = np.clip((x - cx) / r, -1, 1)
        ny = np.clip((y - cy) / r, -1, 1)
        nz = np.sqrt(np.clip(1 - nx**2 - ny**2, 0, 1))
        lambert = np.clip(nx * light[0] + ny * light[1] + nz * light[2], 0, 1)
        half = light + np.array([0, 0, 1.0])
        half /= np.linalg.norm(half)
        spec = np.clip(nx * half[0] + ny * half[1] + nz * half[2], 0, 1) ** 60
        ambient = 0.25 + 0.1 * (1 - ny) / 2  # sky fill from above
        shaded = colour * (ambient + 0.75 * lambert)[..., None] + 255 * 0.6 * spec[..., None]
        out = out * (1 - cover[..., None]) + shaded * cover[..., None]
    # A faint lens vignette, as most render pipelines add.
    r2 = (x - 0.5) ** 2 + (y - aspect / 2) ** 2
    return _to_image(out * (1 - 0.25 * r2)[..., None])


def thumbnail(source: str, short_side: int) -> Image.Image:
    """A scikit-image photo shrunk (Lanczos) to ``short_side`` px on its short side."""
    im = skimage_photo(source)
    scale = short_side / min(im.size)
    size = (max(short_side, round(im.width * scale)), max(short_side, round(im.height * scale)))
    return im.resize(size, Image.Resampling.LANCZOS)


def large_photo(width: int = 4000, height: int = 3000) -> Image.Image:
    """12 MP: scikit-image's ``rocket`` photo upscaled with Lanczos (cropped to 4:3), plus
    fine seeded grain (σ ≈ 3 grey levels, a little coloured) at the pixel scale, so the
    image carries the high-frequency detail of a real 12 MP photo rather than pure blur."""
    im = skimage_photo("rocket")
    crop_w = round(im.height * width / height)
    left = (im.width - crop_w) // 2
    im = im.crop((left, 0, left + crop_w, im.height)).resize(
        (width, height), Image.Resampling.LANCZOS
    )
    rng = np.random.default_rng(15)
    grain = _blur(rng.normal(0.0, 1.0, (height, width)).astype(np.float32), 0.6)
    grain *= 3.0 / float(grain.std())
    colour = rng.normal(0.0, 0.8, (height, width, 3)).astype(np.float32)
    arr = np.asarray(im, dtype=np.float32) + grain[..., None] + colour
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "RGB")


# --- the sets --------------------------------------------------------------------------------

# Bundled in the scikit-image wheel (no download), all photographs. retina (1411×1411) is left
# out on purpose: alone it would double the run time.
SKIMAGE_PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "camera",
    "immunohistochemistry",
    "hubble_deep_field",
    "moon",
    "coins",
    "motorcycle",
    "clock",
    "brick",
)


THUMBNAILS = (("astronaut", 128), ("chelsea", 160), ("coffee", 192), ("rocket", 256))
"""The thumbnails of issue 15 (source photo, short side); those under ``invisible.MIN_SIZE``
are left out of the sets, since ``embed`` refuses them."""


def _classic() -> tuple[BenchImage, ...]:
    def skimage(name: str) -> BenchImage:
        image_class = "texture" if name == "brick" else "photo"
        return BenchImage(name, image_class, lambda: skimage_photo(name))

    def fixture(path: Path) -> BenchImage:
        return BenchImage(path.name, "photo", lambda: open_file(path))

    files = sorted(p for p in FIXTURES.glob("*.*") if p.suffix != ".md")
    return (*(skimage(n) for n in SKIMAGE_PHOTOS), *(fixture(p) for p in files))


def _classes() -> tuple[BenchImage, ...]:
    images = [
        BenchImage("grass", "texture", lambda: skimage_photo("grass")),
        BenchImage("gravel", "texture", lambda: skimage_photo("gravel")),
        BenchImage("studio-person", "studio", studio_person),
        BenchImage("studio-cutout", "studio", studio_cutout),
        *(
            BenchImage(f"thumb-{size}", "thumbnail", lambda s=source, n=size: thumbnail(s, n))
            for source, size in THUMBNAILS
            if size >= invisible.MIN_SIZE
        ),
        BenchImage("large-12mp", "12 MP", large_photo),
        BenchImage("render-1", "render", lambda: render_scene(1)),
        BenchImage("render-2", "render", lambda: render_scene(2, 1152, 768)),
    ]
    if _has_module("sklearn"):
        images += [
            BenchImage("china", "photo (sklearn, mpl)", lambda: _sklearn_photo("china")),
            BenchImage("flower", "photo (sklearn, mpl)", lambda: _sklearn_photo("flower")),
        ]
    else:
        print("note: scikit-learn is not installed; china and flower are left out", file=sys.stderr)
    if _has_module("matplotlib"):
        images.append(
            BenchImage(
                "grace_hopper",
                "photo (sklearn, mpl)",
                lambda: _matplotlib_photo("grace_hopper.jpg"),
            )
        )
    else:
        print("note: matplotlib is not installed; grace_hopper is left out", file=sys.stderr)
    return tuple(images)


CLASSIC = _classic()
CLASSES = _classes()
SETS: dict[str, tuple[BenchImage, ...]] = {
    "classic": CLASSIC,
    "classes": CLASSES,
    "all": CLASSIC + CLASSES,
}
KNOWN: tuple[BenchImage, ...] = SETS["all"]


def by_name(token: str) -> BenchImage:
    """A known image by name, else a file path or a scikit-image ``data`` name (class
    ``other``)."""
    for spec in KNOWN:
        if spec.name == token:
            return spec
    path = Path(token)
    if path.is_file():
        if path.resolve().parent == FIXTURES:
            return by_name(path.name)
        return BenchImage(path.name, "other", lambda: open_file(path))
    return BenchImage(token, "other", lambda: skimage_photo(token))


def seed_index(spec: BenchImage, position: int) -> int:
    """What seeds an image's payload and attacks: its place in the ``all`` set, so ``classic``
    keeps its historical seeds and ``classes`` gets the same ones as in ``all``; other images
    use their place in the run, as before."""
    return KNOWN.index(spec) if spec in KNOWN else position
