"""Speed and memory of the invisible watermark.

1. Median embed and detect time over ``--runs`` runs on a 1024×1024 RGB photo
   (``skimage.data.astronaut()`` upscaled with Lanczos), for aiwatermark and for
   invisible-watermark's ``dwtDct`` (the Stable Diffusion watermark) in the same process, and
   their ratio.
2. Median detect CPU time on the marked photo, on the same photo unmarked and on an
   unmarked 12-megapixel photo, interleaved run by run, and the unmarked / marked ratio;
   with ``--baseline``, another source tree's detect is timed call by call alongside.
3. Peak resident memory of embedding and then detecting in an 8192×8192 image, measured in a
   fresh subprocess that reports its own high-water mark (``VmHWM``), so nothing this process
   allocated counts; the target is at most 1.5 GB. The child also reports its resident size
   with the image loaded, before the watermark runs.
4. Peak resident memory of ``aiwatermark.verify`` and ``aiwatermark.mark`` (no store) on a
   12000×12000 PNG, just under the default 150-megapixel limit, each in its own fresh
   process that reports its own peak (targets: 700 MB and 1.5 GB).

Example:
    python benchmarks/speed.py --runs 10
    python benchmarks/speed.py --skip-memory
    python benchmarks/speed.py --unmarked-only --runs 9 --baseline ../main/src
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
    # Linux reports VmRSS/VmHWM in kB; elsewhere fall back to the peak from getrusage. On
    # Linux ru_maxrss is no use in a child: it keeps the parent's peak across fork and exec.
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


UNMARKED_CASES = ("marked", "unmarked", "unmarked 12 MP")


def _unmarked_cases(directory: Path) -> dict[str, Path]:
    """The three images of the unmarked-image measurement, written as PNGs to ``directory``."""
    from aiwatermark import invisible

    unmarked = photo(SPEED_SIZE)
    images = {
        "marked": invisible.embed(unmarked, bytes(range(invisible.PAYLOAD_BITS // 8))),
        "unmarked": unmarked,
        "unmarked 12 MP": photo(4000).resize((4000, 3000), Image.Resampling.LANCZOS),
    }
    paths = {}
    for name, image in images.items():
        paths[name] = directory / f"{name.replace(' ', '-')}.png"
        image.save(paths[name])
    return paths


def detect_child(source: str, directory: str) -> None:
    """Time ``invisible.detect`` (or ``embed``) from the source tree ``source`` on request.

    Reads a case name per line from stdin (or ``embed``, which marks the unmarked photo) and
    answers with the CPU milliseconds of one call, so a parent can interleave two versions
    run by run.
    """
    if source:
        sys.path.insert(0, source)
    from aiwatermark import invisible

    images = {}
    for name in UNMARKED_CASES:
        with Image.open(Path(directory) / f"{name.replace(' ', '-')}.png") as im:
            images[name] = im.convert("RGB")
        found = invisible.detect(images[name])  # warm-up, and a check of the case
        if found.detected != (name == "marked"):
            raise SystemExit(f"{name} image: detected={found.detected}")
    payload = bytes(range(invisible.PAYLOAD_BITS // 8))
    print(invisible.__file__, flush=True)
    for line in sys.stdin:
        name = line.strip()
        start = time.process_time()
        if name == "embed":
            invisible.embed(images["unmarked"], payload)
        else:
            invisible.detect(images[name])
        print(1000 * (time.process_time() - start), flush=True)


def unmarked_rows(runs: int, baseline: str | None = None) -> list[list[str]]:
    """Ruling out an unmarked image against detecting a marked one, interleaved.

    Each run times the marked 1024² photo, the same photo unmarked, a 12-megapixel
    (4000×3000) unmarked photo and embedding the 1024² one back to back; the ratio is of
    the medians. Times are CPU time of the process running the call, not wall time: on a
    shared machine other processes stretch wall time several-fold, while CPU time stays what
    the call costs a core. With
    ``baseline`` (another source tree, e.g. the main branch's ``src``), that version runs
    in a second process and every call alternates between the two.
    """
    import tempfile

    directory = tempfile.mkdtemp(prefix="aiwatermark-bench-")
    _unmarked_cases(Path(directory))
    sources = {"this": ""}  # whatever `import aiwatermark` finds, as everywhere else here
    if baseline is not None:
        sources["baseline"] = str(Path(baseline).resolve())
    children = {
        version: subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--detect-child", source, directory],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for version, source in sources.items()
    }
    times: dict[tuple[str, str], list[float]] = {}
    try:
        for version, child in children.items():
            assert child.stdout is not None
            print(f"note: {version}: {child.stdout.readline().strip()}", file=sys.stderr)
        for _ in range(runs):
            for name in (*UNMARKED_CASES, "embed"):
                for version, child in children.items():
                    assert child.stdin is not None and child.stdout is not None
                    child.stdin.write(name + "\n")
                    child.stdin.flush()
                    times.setdefault((version, name), []).append(float(child.stdout.readline()))
    finally:
        for child in children.values():
            if child.stdin is not None:
                child.stdin.close()
            child.wait()
    medians = {key: statistics.median(values) for key, values in times.items()}

    def cell(name: str) -> str:
        text = f"{medians[('this', name)]:.0f}"
        if baseline is not None:
            text += f" (baseline {medians[('baseline', name)]:.0f})"
        return text

    def ratio(version: str) -> float:
        return medians[(version, "unmarked")] / medians[(version, "marked")]

    ratios = f"{ratio('this'):.2f}×"
    if baseline is not None:
        ratios += f" (baseline {ratio('baseline'):.2f}×)"
    return [
        [f"detect CPU ms, marked ({SPEED_SIZE}²)", cell("marked")],
        [f"detect CPU ms, unmarked ({SPEED_SIZE}²)", cell("unmarked")],
        ["detect CPU ms, unmarked (4000×3000)", cell("unmarked 12 MP")],
        ["unmarked / marked (target ≤ 1.2)", ratios],
        [f"embed CPU ms ({SPEED_SIZE}²)", cell("embed")],
    ]


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
        "peak_mb": _rss_mb("VmHWM"),
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
    peak = report["peak_mb"]
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


PIPELINE_SIDE = 12000
PIPELINE_TARGETS_MB = {"verify": 700, "mark": 1536}


def pipeline_child(operation: str, path: str) -> None:
    """Run one step of the pipeline-memory measurement and print this process's peak RSS.

    ``make`` writes the test image (a smooth 12000×12000 RGB picture, a small PNG as a
    generator's flat renders are); ``verify`` and ``mark`` run the public API on it.
    """
    import os
    import tempfile

    os.environ["AIWATERMARK_HOME"] = tempfile.mkdtemp(prefix="aiwatermark-bench-")
    import aiwatermark

    start = time.perf_counter()
    if operation == "make":
        ramp = np.linspace(0, 255, 64, dtype=np.float32)
        small = np.stack([ramp[None, :].repeat(64, 0), ramp[:, None].repeat(64, 1)], axis=2)
        small = np.concatenate([small, np.full((64, 64, 1), 128, np.float32)], axis=2)
        grid = Image.fromarray(small.astype(np.uint8), "RGB")
        grid.resize((PIPELINE_SIDE, PIPELINE_SIDE), Image.Resampling.BILINEAR).save(path)
    elif operation == "verify":
        aiwatermark.verify(path, store=False)
    else:
        aiwatermark.mark(path, Path(path).with_name("marked.png"), store=False, overwrite=True)
    report = {"seconds": time.perf_counter() - start, "peak_mb": _rss_mb("VmHWM")}
    print(json.dumps(report))


def pipeline_memory_rows() -> list[list[str]]:
    """Peak RSS of ``verify`` and ``mark`` on a 144-megapixel PNG, each in a fresh process."""
    import tempfile

    path = str(Path(tempfile.mkdtemp(prefix="aiwatermark-bench-")) / "large.png")
    rows = []
    for operation in ("make", "verify", "mark"):
        child = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--pipeline-child", operation, path],
            capture_output=True,
            text=True,
            check=False,
        )
        if operation == "make":
            if child.returncode != 0:
                return [["pipeline memory", f"could not write the test image: {child.stderr}"]]
            continue
        label = f"peak RSS {operation} ({PIPELINE_SIDE}² PNG)"
        if child.returncode != 0:
            last = (child.stderr.strip().splitlines() or ["no output"])[-1]
            rows.append([label, f"failed: {last}"])
            continue
        report = json.loads(child.stdout.strip().splitlines()[-1])
        target = PIPELINE_TARGETS_MB[operation]
        verdict = "✓" if report["peak_mb"] <= target else "✗"
        rows.append(
            [
                label,
                f"{report['peak_mb']:.0f} MB (target ≤ {target}) {verdict}, "
                f"{report['seconds']:.1f} s",
            ]
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per measurement")
    parser.add_argument("--memory-size", type=int, default=8192, help="side of the memory test")
    parser.add_argument("--skip-memory", action="store_true", help="only measure speed")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pipeline-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--detect-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument(
        "--baseline",
        help="another source tree (e.g. ../main/src) whose detect is timed alongside, "
        "call by call, for the unmarked-image rows",
    )
    parser.add_argument("--unmarked-only", action="store_true", help="only the unmarked rows")
    args = parser.parse_args(argv)

    if args.memory_child is not None:
        memory_child(args.memory_child)
        return 0
    if args.pipeline_child is not None:
        pipeline_child(*args.pipeline_child)
        return 0
    if args.detect_child is not None:
        detect_child(*args.detect_child)
        return 0
    rows = unmarked_rows(args.runs, args.baseline)
    if args.unmarked_only:
        args.skip_memory = True
    else:
        rows = speed_rows(args.runs) + rows
    if not args.skip_memory:
        rows += memory_rows(args.memory_size) + pipeline_memory_rows()
    print("| measurement | value |\n| --- | --- |")
    for label, value in rows:
        print(f"| {label} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
