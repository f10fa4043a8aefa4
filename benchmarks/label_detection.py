"""How often detect_label finds our visible label after attacks, and how often it cries wolf.

Cases: random crops (and rescales, 128 px to 2048 px) of the bundled fixtures and of
scikit-image's bundled photographs, each labelled at a random position. Attacks: none,
JPEG quality 50, a 0.5× resize, and both; then crops that keep the label (80 %, 64 % and
50 % of the area, placed at random among the crops that keep the whole label), re-encoded
as JPEG, one of them also resized to 0.5×. A case whose label no crop of that size can
keep (tiny images) is left out of that row. False positives are measured on the same
images without a label, under the same attacks (the same crop); `page` and `text` (photos
of printed text) are included on purpose as hard negatives.

Below the table: scores, the median time per call over all cases, and the median time on
1024×1024 images (each photo scaled to that size: unlabelled, labelled, labelled and
cropped to 80 %), as wall-clock and as CPU time of this process (less sensitive to other
work on the machine).

Run: python benchmarks/label_detection.py [--cases N] [--seed S]
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import io
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from aiwatermark import ImageTooSmallError
from aiwatermark.visible import POSITIONS, add_label, detect_label
from aiwatermark.visible._layout import plan


def clear_template_cache() -> None:
    from aiwatermark.visible import _detect

    for cached in ("_template", "_candidates"):
        clear = getattr(getattr(_detect, cached), "cache_clear", None)  # absent before caches
        if clear is not None:
            clear()


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SKIMAGE_PHOTOS = (
    "astronaut",
    "brick",
    "camera",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "page",
    "retina",
    "rocket",
    "stereo_motorcycle",
    "text",
)

Attack = Callable[[Image.Image], Image.Image]
Box = tuple[int, int, int, int]


def jpeg(image: Image.Image, quality: int = 50) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB" if image.mode in ("RGBA", "RGB") else "L").save(
        buffer, "JPEG", quality=quality
    )
    return Image.open(io.BytesIO(buffer.getvalue())).copy()


def half(image: Image.Image) -> Image.Image:
    return image.resize(
        (max(1, image.width // 2), max(1, image.height // 2)), Image.Resampling.BICUBIC
    )


ATTACKS: dict[str, Attack] = {
    "none": lambda im: im,
    "jpeg q50": jpeg,
    "resize 0.5×": half,
    "resize 0.5× + jpeg q50": lambda im: jpeg(half(im)),
}

CROPS: dict[str, tuple[float, Attack]] = {
    # name: (share of the area kept, what follows the crop)
    "crop 80 % + jpeg q90": (0.8, lambda im: jpeg(im, 90)),
    "crop 64 % + jpeg q75": (0.64, lambda im: jpeg(im, 75)),
    "crop 50 % + jpeg q75": (0.5, lambda im: jpeg(im, 75)),
    "crop 80 % + resize 0.5× + jpeg q75": (0.8, lambda im: jpeg(half(im), 75)),
}


def crop_keeping(size: tuple[int, int], label: Box, area: float, seed: int) -> Box | None:
    """A random crop of ``area`` of the image that keeps the whole label, if one exists."""
    rng = np.random.default_rng(seed)
    width, height = round(size[0] * area**0.5), round(size[1] * area**0.5)
    low_x, high_x = max(0, label[2] - width), min(label[0], size[0] - width)
    low_y, high_y = max(0, label[3] - height), min(label[1], size[1] - height)
    if low_x > high_x or low_y > high_y:
        return None
    x, y = int(rng.integers(low_x, high_x + 1)), int(rng.integers(low_y, high_y + 1))
    return x, y, x + width, y + height


def label_box(image: Image.Image, text: str, position: str) -> Box:
    return plan(
        image.size,
        text,
        position=position,
        size=None,
        margin=None,
        font=None,
        logo_aspect=None,
    ).box


def photos() -> list[tuple[str, Image.Image]]:
    from skimage import data

    out = [
        (path.name, Image.open(path).convert("RGB"))
        for path in sorted(FIXTURES.glob("*.*"))
        if path.suffix in (".jpg", ".png", ".webp")
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in SKIMAGE_PHOTOS:
            array = getattr(data, name)()
            if isinstance(array, tuple):
                array = array[0]
            out.append((name, Image.fromarray(array)))
    return out


def cases(count: int, seed: int) -> Iterator[tuple[str, Image.Image, str]]:
    """(description, unlabelled image, position) for ``count`` random crops and rescales."""
    rng = np.random.default_rng(seed)
    sources = photos()
    for index in range(count):
        name, photo = sources[index % len(sources)]
        w, h = photo.size
        cw = int(rng.integers(min(w, 128), w + 1))
        ch = int(rng.integers(min(h, 128), h + 1))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        crop = photo.crop((x, y, x + cw, y + ch))
        target = float(rng.choice([128, 256, 400, 600, 1024, 2048]))
        scale = target / min(crop.size)
        crop = crop.resize(
            (max(128, round(cw * scale)), max(128, round(ch * scale))), Image.Resampling.LANCZOS
        )
        yield f"{name} {crop.width}×{crop.height}", crop, str(rng.choice(POSITIONS))


STYLES = {"box (default)": "auto", "no box (background=None)": None}


def attacked(
    photo: Image.Image, labelled: Image.Image, text: str, position: str, seed: int
) -> Iterator[tuple[str, Image.Image, Image.Image]]:
    """(attack, attacked labelled image, the same attack on the unlabelled one)."""
    for name, attack in ATTACKS.items():
        yield name, attack(labelled), attack(photo)
    box = label_box(photo, text, position)
    for index, (name, (area, after)) in enumerate(CROPS.items()):
        rect = crop_keeping(photo.size, box, area, seed * 31 + index)
        if rect is not None:
            yield name, after(labelled.crop(rect)), after(photo.crop(rect))


def speed(text: str, repeats: int = 3) -> str:
    """Median detect_label time on 1024×1024 photos: wall-clock and this process's CPU."""
    rows = []
    kinds: dict[str, list[Image.Image]] = {"unlabelled": [], "labelled": [], "cropped 80 %": []}
    for _, photo in photos():
        square = photo.resize((1024, 1024), Image.Resampling.LANCZOS)
        labelled = add_label(square, text)
        kinds["unlabelled"].append(square)
        kinds["labelled"].append(labelled)
        side = round(1024 * 0.8**0.5)
        kinds["cropped 80 %"].append(jpeg(labelled.crop((1024 - side,) * 2 + (1024, 1024)), 90))
    kinds["unlabelled, no cached templates"] = kinds["unlabelled"]
    detect_label(kinds["unlabelled"][0], text)  # font and template caches
    for kind, images in kinds.items():
        wall, cpu = [], []
        for image in images:
            for _ in range(repeats):
                if "no cached" in kind:
                    # The first image of a size a verifier sees draws its templates.
                    clear_template_cache()
                start, start_cpu = time.perf_counter(), time.process_time()
                detect_label(image, text)
                wall.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
        rows.append(
            f"| {kind} | {1000 * np.median(wall):.0f} | {1000 * np.median(cpu):.0f} "
            f"| {len(images)} |"
        )
    return (
        "| 1024×1024 | median ms (wall) | median ms (CPU) | images |\n|---|---|---|---|\n"
        + "\n".join(rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--text", default="AI-generated", help='label text or preset, e.g. "eu-ai-generated"'
    )
    args = parser.parse_args()
    rows: list[str] = []
    notes: list[str] = []
    names = [*ATTACKS, *CROPS]
    total = 0
    for style, background in STYLES.items():
        runs = dict.fromkeys(names, 0)
        hits = dict.fromkeys(names, 0)
        false = dict.fromkeys(names, 0)
        pos_scores: list[float] = []
        neg_scores: list[float] = []
        times: list[float] = []
        total = 0
        for description, photo, position in cases(args.cases, args.seed):
            total += 1  # also seeds the crops: a case left out keeps the others' crops
            try:
                labelled = add_label(photo, args.text, position=position, background=background)
            except ImageTooSmallError:
                notes.append(f"- left out ({style}): {description}: the label does not fit")
                continue
            for attack_name, marked, clean_image in attacked(
                photo, labelled, args.text, position, total
            ):
                start = time.perf_counter()
                found = detect_label(marked, args.text, background=background)
                times.append(time.perf_counter() - start)
                clean = detect_label(clean_image, args.text, background=background)
                pos_scores.append(found.score)
                neg_scores.append(clean.score)
                runs[attack_name] += 1
                hits[attack_name] += found.found
                false[attack_name] += clean.found
                if not found.found:
                    notes.append(
                        f"- missed ({style}): {description} {position} {attack_name}: "
                        f"{found.score:.3f}"
                    )
                if clean.found:
                    notes.append(
                        f"- false positive ({style}): {description} {attack_name}: "
                        f"{clean.score:.3f}"
                    )
        for name in names:
            rows.append(
                f"| {style} | {name} | {hits[name] / runs[name]:.3f} ({hits[name]}/{runs[name]}) "
                f"| {false[name] / runs[name]:.3f} ({false[name]}/{runs[name]}) |"
            )
        notes.append(
            f"- {style}: scores labelled min {min(pos_scores):.3f} / median "
            f"{np.median(pos_scores):.3f}, unlabelled max {max(neg_scores):.3f} / median "
            f"{np.median(neg_scores):.3f}; detect_label median {1000 * np.median(times):.1f} ms, "
            f"max {1000 * max(times):.1f} ms"
        )
    print(f"{total} images (seed {args.seed}), each labelled {args.text!r} at a random position\n")
    print("| label | attack | detection rate | false-positive rate |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("\n".join(notes))
    print()
    print(speed(args.text))


if __name__ == "__main__":
    main()
