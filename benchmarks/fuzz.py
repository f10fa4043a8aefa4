"""Fuzz every public reader and writer with damaged and hostile JPEG, PNG and WebP files.

The command-line runner for the fuzz harness in ``tests/fuzzing.py`` (seeds, mutators,
targets and the sandboxed worker; the tests use it too). Seeds are real photographs shrunk
to 256–320 px as JPEG, PNG and WebP: plain, disclosed, C2PA-signed by a test CA made on the
fly, and fully marked. Each case applies one to three mutations and hands the bytes to one
target.

Every call runs in a worker process with an address-space limit (``RLIMIT_AS``) and a time
bound; the outcome is ``ok`` (returned), ``AiWatermarkError`` (refused with our error),
``other`` (any other exception: a bug), ``timeout`` or ``crash`` (the worker died: a bug).
The table ends with the slowest call and the worker's peak resident memory per target.

Example:
    python benchmarks/fuzz.py                       # 10,000+ cases, ~15 min on one core
    python benchmarks/fuzz.py --cases 200 --heavy-cases 20 --seed 3
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# The harness lives with the tests, which use it too; spawned workers import it from here.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fuzzing import (
    HEAVY,
    MUTATORS,
    OUTCOMES,
    TARGETS,
    Result,
    Worker,
    make_seeds,
    make_test_identity,
    mutate,
)


@dataclass
class Tally:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    max_seconds: float = 0.0
    max_rss_mb: float = 0.0
    failures: list[str] = field(default_factory=list)

    def add(self, result: Result, case: str) -> None:
        self.counts[result.outcome] += 1
        self.max_seconds = max(self.max_seconds, result.seconds)
        self.max_rss_mb = max(self.max_rss_mb, result.peak_rss_mb)
        if result.outcome in ("other", "timeout", "crash"):
            self.failures.append(f"{case}\n    {result.detail}")


def table(tallies: dict[str, Tally]) -> str:
    head = (
        f"{'target':<27} {'cases':>6} {'ok':>6} {'AiWmError':>9} {'other':>6} "
        f"{'timeout':>7} {'crash':>5} {'max s':>6} {'max RSS MB':>10}"
    )
    lines = [head, "-" * len(head)]
    for target, tally in tallies.items():
        c = tally.counts
        lines.append(
            f"{target:<27} {sum(c.values()):>6} {c['ok']:>6} {c['AiWatermarkError']:>9} "
            f"{c['other']:>6} {c['timeout']:>7} {c['crash']:>5} {tally.max_seconds:>6.2f} "
            f"{tally.max_rss_mb:>10.0f}"
        )
    total = {o: sum(t.counts[o] for t in tallies.values()) for o in OUTCOMES}
    lines.append("-" * len(head))
    lines.append(
        f"{'total':<27} {sum(total.values()):>6} {total['ok']:>6} "
        f"{total['AiWatermarkError']:>9} {total['other']:>6} {total['timeout']:>7} "
        f"{total['crash']:>5}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=2_000, help="cases per fast target")
    parser.add_argument(
        "--heavy-cases",
        type=int,
        default=400,
        help="cases per pixel-analysing target (detect, verify, mark)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per call")
    parser.add_argument("--memory-mb", type=int, default=3072, help="worker RLIMIT_AS")
    parser.add_argument("--targets", nargs="*", default=list(TARGETS), choices=TARGETS)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        identity = make_test_identity(Path(folder) / "ca")
        seeds = make_seeds(identity)
        print(f"{len(seeds)} seeds; {len(MUTATORS)} mutators; seed {args.seed}", file=sys.stderr)
        tallies = {target: Tally() for target in args.targets}
        started = time.perf_counter()
        for target in args.targets:
            rng = random.Random(f"{args.seed}/{target}")
            count = args.heavy_cases if target in HEAVY else args.cases
            # One worker per target, so its peak memory is that target's.
            with Worker(identity, timeout=args.timeout, memory_mb=args.memory_mb) as worker:
                for index in range(count):
                    case, data = mutate(rng, seeds)
                    tallies[target].add(worker.run(target, data), f"{target} #{index} {case}")
            print(
                f"  {target}: {count} cases, {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )
        print(table(tallies))
        print(
            f"{sum(sum(t.counts.values()) for t in tallies.values())} cases in "
            f"{time.perf_counter() - started:.0f} s (timeout {args.timeout:.0f} s per call, "
            f"RLIMIT_AS {args.memory_mb} MB)"
        )
        bad = [failure for tally in tallies.values() for failure in tally.failures]
        for failure in bad[:50]:
            print("FAIL", failure)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
