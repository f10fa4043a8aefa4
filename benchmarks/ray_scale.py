"""Throughput of aiwatermark.integrations.ray with 1 and 2 Ray workers, against one process.

    pip install -e '.[ray]'
    python benchmarks/ray_scale.py                       # 24 images of 1024×1024
    python benchmarks/ray_scale.py --count 48 --workers 1 2 4
    python benchmarks/ray_scale.py --store postgresql://localhost/manifests  # + C2PA, store

Each worker count gets its own local Ray instance (``ray.init(num_cpus=N)``). Every engine
(one process included) does one untimed warm-up run first — starting workers, importing
the layers, loading fonts — so the medians measure marking and verification. Without
``--store`` the marks are unsigned (label, watermark, disclosure) and verification asks no
store: the pixel work that scales with workers. On a cluster the same calls run after ``ray.init(address="ray://head:10001")``.
Inputs are the bundled photographs resized to SIZE×SIZE JPEGs (as benchmarks/throughput.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from throughput import make_inputs


def _single_process(paths: list[Path], out: Path, store: str | bool) -> tuple[float, float]:
    import aiwatermark

    signer = None if store else False
    out.mkdir()
    start = time.perf_counter()
    outputs = []
    for path in paths:
        target = out / path.name
        aiwatermark.mark(path, target, signer=signer, store=store)
        outputs.append(target)
    marked = time.perf_counter() - start
    start = time.perf_counter()
    for target in outputs:
        aiwatermark.verify(target, store=store)
    return marked, time.perf_counter() - start


def _on_ray(paths: list[Path], out: Path, store: str | bool) -> tuple[float, float]:
    import ray

    from aiwatermark.integrations import ray as aw_ray

    signer = None if store else False
    start = time.perf_counter()
    images = ray.data.read_binary_files([str(p) for p in paths], include_paths=True)
    rows = aw_ray.mark_dataset(images, out, store=store, signer=signer, batch_size=2)
    marked = time.perf_counter() - start
    errors = [row["error"] for row in rows.take_all() if row["error"]]
    if errors:
        raise SystemExit(f"mark_dataset failed: {errors[0]}")

    start = time.perf_counter()
    outputs = ray.data.read_binary_files(str(out), include_paths=True)
    checked = aw_ray.verify_dataset(outputs, store=store, batch_size=2)
    verified = time.perf_counter() - start
    if any(row["ai_generated"] is not True for row in checked.take_all()):
        raise SystemExit("verify_dataset missed a marked image")
    return marked, verified


def _median_rates(
    run: Callable[[Path], tuple[float, float]], folder: Path, count: int, repeat: int
) -> tuple[float, float]:
    """Images per second (mark, verify): the median of ``repeat`` runs after a warm-up one,
    which starts workers, imports every layer and loads fonts and patterns."""
    times = [run(folder / f"run{i}") for i in range(repeat + 1)][1:]
    return (
        count / statistics.median(t[0] for t in times),
        count / statistics.median(t[1] for t in times),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=24, help="images (default 24)")
    parser.add_argument("--size", type=int, default=1024, help="side in pixels (default 1024)")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="Ray worker counts (default 1 2)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (default 3)")
    parser.add_argument(
        "--threads", type=int, default=1, help="BLAS threads per process (default 1, as Ray)"
    )
    parser.add_argument(
        "--store",
        default=False,
        help="a shared store URL: sign with the development identity and register there",
    )
    args = parser.parse_args()
    logging.getLogger("ray").setLevel(logging.WARNING)  # one line per Dataset run otherwise
    # Ray runs each task with one BLAS thread; the one-process run gets the same, or on
    # busy shared cores its thread pool alone makes it 2-3× slower (measured 2026-12-02).
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(name, str(args.threads))

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # Store, development identity and outputs stay in the temporary folder.
        os.environ["AIWATERMARK_HOME"] = str(folder / "home")
        (folder / "in").mkdir()
        paths = make_inputs(folder / "in", args.count, args.size)
        print(
            f"{args.count} images of {args.size}×{args.size}, "
            f"{'signed, store ' + args.store if args.store else 'unsigned, no store'}, "
            f"{os.cpu_count()} CPUs, median of {args.repeat} runs"
        )
        print(
            f"{'engine':<22} {'mark img/s':>11} {'verify img/s':>13} {'mark ×':>7} {'verify ×':>9}"
        )
        (folder / "single").mkdir()
        marks, verifies = _median_rates(
            partial(_single_process, paths, store=args.store),
            folder / "single",
            args.count,
            args.repeat,
        )
        print(f"{'one process':<22} {marks:>11.2f} {verifies:>13.2f}")
        base: tuple[float, float] | None = None
        for workers in args.workers:
            import ray

            ray.init(
                num_cpus=workers,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
            try:
                (folder / f"ray{workers}").mkdir()
                marks, verifies = _median_rates(
                    partial(_on_ray, paths, store=args.store),
                    folder / f"ray{workers}",
                    args.count,
                    args.repeat,
                )
            finally:
                ray.shutdown()
            base = base or (marks, verifies)
            print(
                f"{f'ray, {workers} worker(s)':<22} {marks:>11.2f} {verifies:>13.2f} "
                f"{marks / base[0]:>7.2f} {verifies / base[1]:>9.2f}"
            )
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
