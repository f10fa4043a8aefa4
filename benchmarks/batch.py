"""Throughput of mark_many() and verify_many() with 1 and with N worker processes.

    python benchmarks/batch.py                    # 12 images of 512×512, jobs 1 and 2
    python benchmarks/batch.py --count 40 --size 1024 --jobs 1 2 4

Inputs are the bundled photographs (fixtures/) resized to SIZE×SIZE, rotated for distinct
content, saved as JPEG quality 90. Each run includes starting its pool (``spawn``: every
worker imports aiwatermark), as a user's batch does. verify runs on the marked copies and on
the unmarked inputs: unmarked images are the slow case (every watermark search stage runs).
Every file aiwatermark writes goes to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

if TYPE_CHECKING:
    from aiwatermark import Batch

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def make_inputs(folder: Path, count: int, size: int) -> list[Path]:
    photos = sorted(p for p in FIXTURES.iterdir() if p.suffix in (".jpg", ".png", ".webp"))
    paths = []
    for i in range(count):
        with Image.open(photos[i % len(photos)]) as im:
            image = im.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
        path = folder / f"in{i:03d}.jpg"
        image.rotate(90 * (i // len(photos) % 4)).save(path, quality=90)
        paths.append(path)
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=12, help="number of images (default 12)")
    parser.add_argument("--size", type=int, default=512, help="image side in px (default 512)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="pool sizes")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="aiwatermark-batch-"))
    os.environ["AIWATERMARK_HOME"] = str(work / "home")
    import aiwatermark

    inputs = make_inputs(work, args.count, args.size)
    aiwatermark.keys.dev_signer()  # created once, outside the timings

    print(f"aiwatermark {aiwatermark.__version__}: {args.count} JPEGs of {args.size}²\n")
    print(f"{'operation':<22} {'jobs':>4} {'seconds':>8} {'images/s':>9}")
    print("-" * 46)
    for jobs in args.jobs:
        pairs = [(p, work / f"out-{jobs}" / p.name) for p in inputs]
        runs: list[tuple[str, Callable[[], Batch[Any]]]] = [
            ("mark_many", partial(aiwatermark.mark_many, pairs, jobs=jobs, ordered=False)),
            (
                "verify_many (marked)",
                partial(aiwatermark.verify_many, [d for _, d in pairs], jobs=jobs, store=False),
            ),
            (
                "verify_many (unmarked)",
                partial(aiwatermark.verify_many, inputs, jobs=jobs, store=False),
            ),
        ]
        for name, run in runs:
            start = time.perf_counter()
            with run() as batch:
                failed = [item for item in batch if not item.ok]
            seconds = time.perf_counter() - start
            assert not failed, failed
            print(f"{name:<22} {jobs:>4} {seconds:>8.2f} {len(inputs) / seconds:>9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
