"""False positives of the invisible watermark: detections where there is no mark for the key.

Two kinds of trial, each on a fresh small image (a random crop of a bundled photograph at a
random scale, Gaussian or uniform noise, smooth noise, or a gradient; 128–256 px a side):

- ``unmarked``: the image was never watermarked; read with the public key or a random key.
- ``wrong key``: the image was marked with one key (the public key or a random secret one)
  and read with a different key. An image under ``invisible.MIN_SIZE`` (256 px) on its short
  side is first enlarged (Lanczos) to that size, since ``embed`` refuses smaller ones.

A detection in either kind is a false positive. The library bounds the chance of one per
read by :data:`aiwatermark.invisible.FALSE_POSITIVE_RATE`; with 0 detections in ``n``
trials the 95 % upper confidence bound on the per-read rate is about ``3 / n``.

Example:
    python benchmarks/false_positives.py --trials 10000 --workers 2
    python benchmarks/false_positives.py --trials 200 --seed 7   # quick look
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from aiwatermark import invisible

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
KINDS = ("unmarked", "wrong key")


def _photos() -> list[Image.Image]:
    names = ("astronaut.jpg", "coffee.png", "chelsea.webp")
    return [Image.open(FIXTURES / name).convert("RGB") for name in names]


def random_image(rng: np.random.Generator, photos: list[Image.Image]) -> Image.Image:
    """A small image unlike any marked one: a photo crop, noise or a gradient."""
    width, height = (int(v) for v in rng.integers(128, 257, size=2))
    style = int(rng.integers(0, 5))
    if style <= 1:
        photo = photos[int(rng.integers(len(photos)))]
        scale = float(rng.uniform(0.3, 1.0))
        resized = photo.resize(
            (max(width, int(photo.width * scale)), max(height, int(photo.height * scale)))
        )
        left = int(rng.integers(0, resized.width - width + 1))
        top = int(rng.integers(0, resized.height - height + 1))
        return resized.crop((left, top, left + width, top + height))
    if style == 2:
        noise = rng.normal(128, float(rng.uniform(5, 60)), size=(height, width, 3))
        return Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8), "RGB")
    if style == 3:
        coarse = rng.integers(0, 256, size=(max(2, height // 16), max(2, width // 16), 3))
        small = Image.fromarray(coarse.astype(np.uint8), "RGB")
        return small.resize((width, height), Image.Resampling.BICUBIC)
    ramp = np.linspace(0, 255, width)[None, :, None] * np.ones((height, 1, 3))
    ramp += rng.normal(0, 2, size=ramp.shape)
    return Image.fromarray(np.clip(ramp, 0, 255).astype(np.uint8), "RGB")


def _random_key(rng: np.random.Generator) -> str:
    return "key-" + bytes(rng.integers(0, 256, size=12, dtype=np.uint8)).hex()


def trial(job: tuple[str, int]) -> tuple[str, int, bool, float, float]:
    """Run one trial; returns (kind, seed, detected, p_value, seconds)."""
    kind, seed = job
    rng = np.random.default_rng(seed)
    image = random_image(rng, _PHOTOS)
    if kind == "unmarked":
        key: str | None = None if rng.random() < 0.5 else _random_key(rng)
    else:
        mark_key: str | None = None if rng.random() < 0.5 else _random_key(rng)
        payload = bytes(rng.integers(0, 256, size=8, dtype=np.uint8))
        if min(image.size) < invisible.MIN_SIZE:
            grow = invisible.MIN_SIZE / min(image.size)
            width, height = (max(invisible.MIN_SIZE, round(side * grow)) for side in image.size)
            image = image.resize((width, height), Image.Resampling.LANCZOS)
        image = invisible.embed(image, payload, mark_key)
        key = _random_key(rng) if mark_key is None or rng.random() < 0.5 else None
    started = time.perf_counter()
    detection = invisible.detect(image, key)
    return kind, seed, detection.detected, detection.p_value, time.perf_counter() - started


_PHOTOS: list[Image.Image] = []


def _init_worker() -> None:
    _PHOTOS.extend(_photos())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10_000, help="trials per kind")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    jobs = [
        (kind, args.seed * 10_000_000 + k * 1_000_000 + i)
        for i in range(args.trials)
        for k, kind in enumerate(KINDS)
    ]
    counts = {kind: [0, 0, 1.0] for kind in KINDS}  # trials, detections, smallest p-value
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers, initializer=_init_worker) as pool:
        for done, (kind, seed, detected, p_value, _) in enumerate(
            pool.map(trial, jobs, chunksize=16), start=1
        ):
            entry = counts[kind]
            entry[0] += 1
            entry[1] += int(detected)
            entry[2] = min(entry[2], p_value)
            if detected:
                print(f"FALSE POSITIVE: kind={kind} seed={seed} p={p_value:.3g}", flush=True)
            if done % 500 == 0:
                so_far = ", ".join(f"{k}: {c[1]}/{c[0]}" for k, c in counts.items())
                print(
                    f"  {done}/{len(jobs)} trials ({so_far} detected), "
                    f"{time.perf_counter() - started:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    elapsed = time.perf_counter() - started
    print(f"{'kind':<10} {'trials':>7} {'detected':>9} {'min p-value':>12} {'95% bound':>10}")
    for kind, (trials, detections, smallest) in counts.items():
        bound = 3.0 / trials if trials and not detections else float("nan")
        print(f"{kind:<10} {trials:>7} {detections:>9} {smallest:>12.3g} {bound:>10.2g}")
    print(
        f"{sum(c[0] for c in counts.values())} trials in {elapsed:.0f} s "
        f"({args.workers} workers); FALSE_POSITIVE_RATE = {invisible.FALSE_POSITIVE_RATE:.3g}"
    )
    return 1 if any(c[1] for c in counts.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
