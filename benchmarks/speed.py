"""Speed and memory of the invisible watermark.

1. Median embed and detect time over ``--runs`` runs on a 1024×1024 RGB photo
   (``skimage.data.astronaut()`` upscaled with Lanczos), for aiwatermark and for
   invisible-watermark's ``dwtDct`` (the Stable Diffusion watermark) in the same process, and
   their ratio.
2. Peak resident memory of embedding and then detecting in an 8192×8192 image, measured in a
   fresh subprocess (``getrusage(RUSAGE_CHILDREN).ru_maxrss``) so nothing this process
   allocated counts; the target is at most 1.5 GB. The child also reports its resident size
   with the image loaded, before the watermark runs.

Example:
    python benchmarks/speed.py --runs 10
    python benchmarks/speed.py --skip-memory
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

MEMORY_TARGET_MB = 1536
SPEED_SIZE = 1024


def photo(size: int) -> Image.Image:
    import skimage.data

    return Image.fromarray(skimage.data.astronaut()).resize((size, size), Image.Resampling.LANCZOS)


def _rss_mb(field: str) -> float:
    # Linux reports VmRSS/VmHWM in kB; elsewhere fall back to the peak from getrusage.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return _maxrss_mb(resource.RUSAGE_SELF)


def _maxrss_mb(who: int) -> float:
    # ru_maxrss is kilobytes on Linux and bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(who).ru_maxrss * scale / 2**20


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up: first calls pay for imports, FFT plans and caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def speed_rows(runs: int) -> list[list[str]]:
    im = photo(SPEED_SIZE)
    rgb = np.asarray(im)
    rng = np.random.default_rng(0)
    rows: list[list[str]] = []
    timings: dict[str, tuple[float, float]] = {}

    try:
        from aiwatermark import invisible

        payload = rng.bytes(invisible.PAYLOAD_BITS // 8)
        marked = invisible.embed(im, payload)
        timings["aiwatermark"] = (
            median_ms(lambda: invisible.embed(im, payload), runs),
            median_ms(lambda: invisible.detect(marked), runs),
        )
    except (ImportError, AttributeError) as exc:
        print(f"note: skipping aiwatermark: {exc}", file=sys.stderr)

    from peers import available_peers

    for peer in available_peers(["dwtDct"]):
        bits = rng.integers(0, 2, peer.payload_bits).astype(bool)
        peer_marked = peer.embed(rgb, bits)
        timings[peer.name] = (
            median_ms(functools.partial(peer.embed, rgb, bits), runs),
            median_ms(functools.partial(peer.extract, peer_marked), runs),
        )

    for name, (embed_ms, detect_ms) in timings.items():
        rows.append([f"{name} embed ms ({SPEED_SIZE}²)", f"{embed_ms:.0f}"])
        rows.append([f"{name} detect ms ({SPEED_SIZE}²)", f"{detect_ms:.0f}"])
    if "aiwatermark" in timings and "dwtDct" in timings:
        ours, theirs = timings["aiwatermark"], timings["dwtDct"]
        rows.append(["embed time ratio aiwatermark / dwtDct", f"{ours[0] / theirs[0]:.1f}×"])
        rows.append(["detect time ratio aiwatermark / dwtDct", f"{ours[1] / theirs[1]:.1f}×"])
    return rows


def memory_child(size: int) -> None:
    """Embed then detect in a ``size``² photo; print timings and the pre-watermark RSS."""
    from aiwatermark import invisible

    im = photo(size)
    loaded_mb = _rss_mb("VmRSS")
    start = time.perf_counter()
    marked = invisible.embed(im, bytes(range(invisible.PAYLOAD_BITS // 8)))
    embedded = time.perf_counter()
    found = invisible.detect(marked)
    done = time.perf_counter()
    report = {
        "loaded_mb": loaded_mb,
        "embed_s": embedded - start,
        "detect_s": done - embedded,
        "detected": found.detected,
    }
    print(json.dumps(report))


def memory_rows(size: int) -> list[list[str]]:
    child = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--memory-child", str(size)],
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        last = (child.stderr.strip().splitlines() or ["no output"])[-1]
        return [[f"peak RSS embed+detect ({size}²)", f"failed: {last}"]]
    report = json.loads(child.stdout.strip().splitlines()[-1])
    peak = _maxrss_mb(resource.RUSAGE_CHILDREN)
    verdict = "✓" if peak <= MEMORY_TARGET_MB else "✗"
    return [
        [
            f"peak RSS embed+detect ({size}²)",
            f"{peak:.0f} MB (target ≤ {MEMORY_TARGET_MB}) {verdict}",
        ],
        [f"RSS with image loaded ({size}²)", f"{report['loaded_mb']:.0f} MB"],
        [f"embed s ({size}²)", f"{report['embed_s']:.1f}"],
        [f"detect s ({size}²)", f"{report['detect_s']:.1f} (detected: {report['detected']})"],
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per measurement")
    parser.add_argument("--memory-size", type=int, default=8192, help="side of the memory test")
    parser.add_argument("--skip-memory", action="store_true", help="only measure speed")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.memory_child is not None:
        memory_child(args.memory_child)
        return 0
    rows = speed_rows(args.runs)
    if not args.skip_memory:
        rows += memory_rows(args.memory_size)
    print("| measurement | value |\n| --- | --- |")
    for label, value in rows:
        print(f"| {label} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
