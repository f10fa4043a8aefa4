"""How visible the invisible watermark is: PSNR, SSIM and the change on flat regions.

For each image the mark is embedded with a fixed payload and compared with the original:
PSNR and SSIM over the whole image, and the RMS change per RGB channel on *flat* pixels —
those whose 9×9 luma standard deviation in the original is under 2 grey levels and none of
whose channels is clipped (0 or 255) — where no texture hides the pattern. Besides the
robustness benchmark's photographs it uses two procedural images that are mostly flat (a
studio shot: seamless backdrop with vignette behind a textured subject; a bokeh shot:
blurred colour discs behind a sharp subject) and scikit-image's grey ``grass``.

Example:
    python benchmarks/visibility.py
    python benchmarks/visibility.py --images studio bokeh grass
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

from aiwatermark import invisible
from robustness import DEFAULT_IMAGES, load_image, psnr, ssim

PAYLOAD = bytes.fromhex("0123456789abcdef")
_LUMA = np.array([0.299, 0.587, 0.114])
Pixels = npt.NDArray[np.float64]


def _blur(plane: Pixels, radius: float) -> Pixels:
    image = Image.fromarray(np.clip(plane, 0, 255).astype(np.uint8), "L")
    return np.asarray(image.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float64)


def studio(seed: int = 0, height: int = 1024, width: int = 768) -> Image.Image:
    """A person-sized textured subject in front of a seamless, vignetted studio backdrop."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    radius = np.hypot((x - width / 2) / width, (y - height * 0.45) / height)
    backdrop = 200 - 110 * radius**2 - 0.02 * y
    pixels = backdrop[..., None] * np.array([0.96, 0.98, 1.02])
    pixels = pixels + rng.normal(0, 0.6, pixels.shape)
    body = ((x - width / 2) / (width * 0.22)) ** 2 + ((y - height * 0.75) / (height * 0.3)) ** 2
    head = np.hypot(x - width / 2, y - height * 0.33) < width * 0.11
    weave = 90 + 25 * np.sin(x * 0.9) * np.sin(y * 0.7) + rng.normal(0, 12, (height, width))
    fabric = _blur(weave, 0.7)[..., None] * np.array([0.5, 0.6, 1.1])
    pores = _blur(128 + rng.normal(0, 6, (height, width)) * 4, 1.5)[..., None] / 4 - 32
    skin = np.array([205.0, 160.0, 135.0]) + pores
    pixels = np.where((body < 1)[..., None], fabric, pixels)
    pixels = np.where(head[..., None], skin, pixels)
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), "RGB")


def bokeh(seed: int = 1, height: int = 512, width: int = 768) -> Image.Image:
    """Blurred colour discs (out-of-focus background) around a small sharp subject."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    pixels = np.full((height, width, 3), (70.0, 90.0, 60.0))
    for _ in range(25):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(20, 90)
        disc = (np.hypot(x - cx, y - cy) < r)[..., None]
        pixels = np.where(disc, 0.5 * pixels + 0.5 * rng.uniform(40, 230, 3), pixels)
    blurred = Image.fromarray(pixels.astype(np.uint8)).filter(ImageFilter.GaussianBlur(18))
    pixels = np.asarray(blurred, dtype=np.float64) + rng.normal(0, 0.5, pixels.shape)
    angle = np.arctan2(y - height * 0.5, x - width * 0.55)
    petals = 150 + 60 * np.sin(angle * 12) + rng.normal(0, 8, (height, width))
    subject = np.hypot(x - width * 0.55, y - height * 0.5) < 70
    pixels = np.where(subject[..., None], petals[..., None] * np.array([1.0, 0.8, 0.3]), pixels)
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), "RGB")


PROCEDURAL = {"studio": studio, "bokeh": bokeh}


def load(name: str) -> Image.Image:
    if name in PROCEDURAL:
        return PROCEDURAL[name]()
    if name == "grass":
        import skimage.data

        return Image.fromarray(np.asarray(skimage.data.grass(), dtype=np.uint8)).convert("RGB")
    return load_image(name)[1]


def flat_pixels(original: Pixels) -> npt.NDArray[np.bool_]:
    """9×9 luma standard deviation under 2 grey levels, no channel clipped."""
    luma = original @ _LUMA
    window = np.lib.stride_tricks.sliding_window_view(np.pad(luma, 4, mode="edge"), (9, 9))
    spread = window.std(axis=(2, 3))
    unclipped = (original.min(axis=2) >= 1) & (original.max(axis=2) <= 254)
    result: npt.NDArray[np.bool_] = (spread < 2.0) & unclipped
    return result


def measure(original: Image.Image) -> tuple[float, float, float, float]:
    """PSNR, SSIM, share of flat pixels and the RMS change per channel on them."""
    marked = invisible.embed(original, PAYLOAD).convert("RGB")
    a = np.asarray(original, dtype=np.float64)
    b = np.asarray(marked, dtype=np.float64)
    flat = flat_pixels(a)
    flat_rms = float(np.sqrt(np.mean((b - a)[flat] ** 2))) if flat.any() else float("nan")
    quality = psnr(np.asarray(original), np.asarray(marked))
    similarity = ssim(np.asarray(original), np.asarray(marked))
    return quality, similarity, float(flat.mean()), flat_rms


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--images",
        nargs="+",
        default=[*DEFAULT_IMAGES, "studio", "bokeh", "grass"],
        help="image files, scikit-image data names, or studio / bokeh (procedural)",
    )
    args = parser.parse_args(argv)
    rows = [["image", "size", "PSNR dB", "SSIM", "flat pixels", "flat RMS change"], ["---"] * 6]
    totals = []
    for name in args.images:
        original = load(name)
        quality, similarity, share, flat_rms = measure(original)
        totals.append((quality, similarity, flat_rms))
        flat_cell = f"{flat_rms:.2f}" if share > 0 else "–"
        size = f"{original.width}×{original.height}"
        rows.append(
            [
                Path(name).name,
                size,
                f"{quality:.1f}",
                f"{similarity:.4f}",
                f"{share:.0%}",
                flat_cell,
            ]
        )
        print(f"{name} done", file=sys.stderr)
    values = np.array(totals)
    rows.append(
        [
            "mean",
            "",
            f"{values[:, 0].mean():.1f}",
            f"{values[:, 1].mean():.4f}",
            "",
            f"{np.nanmean(values[:, 2]):.2f}",
        ]
    )
    rows.append(
        [
            "worst",
            "",
            f"{values[:, 0].min():.1f}",
            f"{values[:, 1].min():.4f}",
            "",
            f"{np.nanmax(values[:, 2]):.2f}",
        ]
    )
    print("\n".join("| " + " | ".join(row) + " |" for row in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
