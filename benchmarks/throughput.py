"""Throughput of aiwatermark.mark() and verify() on one core, with a per-layer breakdown.

Targets: mark >= 8 images/s and verify >= 6 images/s for 1024×1024 JPEGs; verify of the
unmarked inputs (what a platform mostly sees) >= 10 images/s.

    python benchmarks/throughput.py               # 12 images of 1024×1024
    python benchmarks/throughput.py --count 30 --size 2048

Inputs are the bundled photographs resized to SIZE×SIZE and saved as JPEG quality 90. Every
file aiwatermark writes (store, development identity, outputs) goes to a temporary folder.
Times are CPU time of this process (``time.process_time``), which other work on a shared
machine stretches far less than wall-clock time; run it with ``OMP_NUM_THREADS=1`` for
the per-core rate. The per-layer rows call each layer as ``verify`` does (the reduced
decode of ``imageio.open_reduced``, which for files up to a 2047-px short side is the full
decode).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from PIL import Image

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TARGETS = {"mark": 8.0, "verify": 6.0, "verify unmarked": 10.0}


def make_inputs(folder: Path, count: int, size: int) -> list[Path]:
    photos = sorted(FIXTURES.glob("*.*"))
    photos = [p for p in photos if p.suffix in (".jpg", ".png", ".webp")]
    paths = []
    for i in range(count):
        with Image.open(photos[i % len(photos)]) as im:
            image = im.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
        if i >= len(photos):  # distinct content per file: mirrored and rotated variants
            image = image.rotate(90 * (i // len(photos) % 4))
        path = folder / f"in{i:03d}.jpg"
        image.save(path, quality=90)
        paths.append(path)
    return paths


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    start = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - start) / repeat


def row(name: str, seconds: list[float], target: float | None = None) -> str:
    mean = statistics.fmean(seconds)
    rate = 1.0 / mean if mean else float("inf")
    verdict = "" if target is None else ("ok" if rate >= target else f"below {target:g}/s")
    return f"{name:<28} {len(seconds):>6} {mean * 1000:>10.1f} {rate:>10.1f}  {verdict}"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=12, help="number of images (default 12)")
    parser.add_argument("--size", type=int, default=1024, help="image side in px (default 1024)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="aiwatermark-bench-"))
    os.environ["AIWATERMARK_HOME"] = str(work / "home")
    import aiwatermark
    from aiwatermark import fingerprint, imageio, invisible, keys, metadata, provenance, visible
    from aiwatermark.store import open_store

    inputs = make_inputs(work, args.count, args.size)
    signer = keys.dev_signer()  # created once, outside the timings
    aiwatermark.mark(inputs[0], work / "warm-up.jpg")  # imports, caches, SQLite file
    aiwatermark.verify(work / "warm-up.jpg")

    store = open_store(None)
    assert store is not None
    marked = [work / f"out{i:03d}.jpg" for i in range(len(inputs))]
    mark_times = [
        timed(partial(aiwatermark.mark, src, dst, signer=signer))
        for src, dst in zip(inputs, marked, strict=True)
    ]
    verify_times = [timed(partial(aiwatermark.verify, dst)) for dst in marked]
    # What a platform mostly sees: uploads that carry no mark at all.
    unmarked_times = [timed(partial(aiwatermark.verify, src)) for src in inputs]

    # Per layer, on every image: where the time goes.
    parts: dict[str, list[float]] = {}

    def add(name: str, fn: Callable[[], object]) -> None:
        parts.setdefault(name, []).append(timed(fn))

    for src, dst in zip(inputs, marked, strict=True):
        image = imageio.open(src)
        labelled = visible.add_label(image)
        payload = os.urandom(invisible.PAYLOAD_BITS // 8)
        watermarked = invisible.embed(labelled, payload)
        encoded = imageio.encode(watermarked, "JPEG")
        disclosed = metadata.disclose(encoded)
        add("mark: decode", partial(imageio.open, src))
        add("mark: visible.add_label", partial(visible.add_label, image))
        add("mark: invisible.embed", partial(invisible.embed, labelled, payload))
        add("mark: imageio.encode", partial(imageio.encode, watermarked, "JPEG"))
        add("mark: metadata.disclose", partial(metadata.disclose, encoded))
        add("mark: fingerprint.compute", partial(fingerprint.compute, disclosed))
        print_ = fingerprint.compute(disclosed).value
        add(
            "mark: provenance.sign",
            partial(
                provenance.sign,
                disclosed,
                format="JPEG",
                signer=signer,
                soft_binding=payload,
                fingerprint=print_,
            ),
        )
        data = dst.read_bytes()
        decoded, size = imageio.open_reduced(data)
        add("verify: decode", partial(imageio.open_reduced, data))
        add("verify: read_provenance", partial(provenance.read_provenance, data))
        add("verify: read_disclosure", partial(metadata.read_disclosure, data))
        add("verify: invisible.detect", partial(invisible.detect, decoded))
        add(
            "verify: visible.detect_label",
            partial(visible.detect_label, decoded, full_size=size),
        )
        add("verify: fingerprint.compute", partial(fingerprint.compute, decoded))
        found = invisible.detect(decoded).payload or bytes(8)
        add("verify: store.by_payload", partial(store.by_payload, found))
        add("verify unmarked: invisible.detect", partial(invisible.detect, image))
        add("verify unmarked: visible.detect_label", partial(visible.detect_label, image))
        unmarked_print = fingerprint.compute(image).value
        add(
            "verify unmarked: store.by_fingerprint",
            partial(store.by_fingerprint, unmarked_print, fingerprint.MATCH_THRESHOLD),
        )

    print(
        f"aiwatermark {aiwatermark.__version__}: {args.count} JPEGs of {args.size}×{args.size},"
        f" one process (per core), CPU time\n"
    )
    print(f"{'operation':<28} {'images':>6} {'ms/image':>10} {'images/s':>10}  target")
    print("-" * 72)
    print(row("mark (all layers + write)", mark_times, TARGETS["mark"]))
    print(row("verify (all layers)", verify_times, TARGETS["verify"]))
    print(row("verify, unmarked input", unmarked_times, TARGETS["verify unmarked"]))
    print("-" * 72)
    for name, seconds in parts.items():
        print(row(name, seconds))
    ok = (
        1 / statistics.fmean(mark_times) >= TARGETS["mark"]
        and 1 / statistics.fmean(verify_times) >= TARGETS["verify"]
        and 1 / statistics.fmean(unmarked_times) >= TARGETS["verify unmarked"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
