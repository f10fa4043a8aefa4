"""How often detect_label finds our visible label after attacks, and how often it cries wolf.

Cases: random crops (and rescales, 128 px to 2048 px) of the bundled fixtures and of
scikit-image's bundled photographs, each labelled at a random position. Attacks: none,
JPEG quality 50, a 0.5× resize, and both. False positives are measured on the same
images without a label, under the same attacks; `page` and `text` (photos of printed
text) are included on purpose as hard negatives.

Run: /work/venv/bin/python benchmarks/label_detection.py [--cases N] [--seed S]
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

from aiwatermark.visible import POSITIONS, add_label, detect_label

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rows: list[str] = []
    notes: list[str] = []
    total = 0
    for style, background in STYLES.items():
        hits = dict.fromkeys(ATTACKS, 0)
        false = dict.fromkeys(ATTACKS, 0)
        pos_scores: list[float] = []
        neg_scores: list[float] = []
        times: list[float] = []
        total = 0
        for description, photo, position in cases(args.cases, args.seed):
            total += 1
            labelled = add_label(photo, position=position, background=background)
            for attack_name, attack in ATTACKS.items():
                start = time.perf_counter()
                found = detect_label(attack(labelled), background=background)
                times.append(time.perf_counter() - start)
                clean = detect_label(attack(photo), background=background)
                pos_scores.append(found.score)
                neg_scores.append(clean.score)
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
        for name in ATTACKS:
            rows.append(
                f"| {style} | {name} | {hits[name] / total:.3f} ({hits[name]}/{total}) "
                f"| {false[name] / total:.3f} ({false[name]}/{total}) |"
            )
        notes.append(
            f"- {style}: scores labelled min {min(pos_scores):.3f} / median "
            f"{np.median(pos_scores):.3f}, unlabelled max {max(neg_scores):.3f} / median "
            f"{np.median(neg_scores):.3f}; detect_label median {1000 * np.median(times):.1f} ms, "
            f"max {1000 * max(times):.1f} ms"
        )
    print(f"{total} images (seed {args.seed}), each labelled at a random position\n")
    print("| label | attack | detection rate | false-positive rate |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("\n".join(notes))


if __name__ == "__main__":
    main()
