"""PostgreSQL manifest store: look-up speed among many entries, searched in the database.

Bulk-loads ``--entries`` registrations (random 8-byte content IDs, uniformly random 32-byte
fingerprints, a ``--manifest-bytes`` manifest each) with ``COPY`` into the schema that
:class:`aiwatermark.store.PostgresManifestStore` creates — the same table, generated
columns and indexes as in production — then times, through the store's public methods:

- ``by_fingerprint(q, 31)`` for fingerprints of registered entries with 0–31 random bits
  flipped (the answer must contain that entry), and for random unregistered fingerprints
  (the answer must be empty: at a million entries the nearest random neighbour is ~90 bits
  away);
- ``by_payload`` for registered content IDs;
- ``by_fingerprint(q, 40)``, which scans the table (radius 2 per word);
- for comparison, the plainer design that the covering word indexes replace: one query
  ORing the 16 ``w_i = ANY(…)`` conditions (a ``BitmapOr``), which reads one table page per
  candidate (about 4,200 candidates at a million entries) to measure its distance.

Every fingerprint answer of ``--check`` queries is compared with a brute-force numpy scan
of all loaded fingerprints. Times are per call, client included (pool checkout, one round
trip, decoding), after a warm-up. ``EXPLAIN (ANALYZE, BUFFERS)`` of one query of each kind
shows the plan and the indexes used.

By default a throwaway server is started (``tests/postgres.py``: fsync off, as for tests,
which speeds up the load and does not change read timings) with ``--shared-buffers``; the
table and its indexes are then read into shared buffers (``pg_prewarm``), as on a server
that has been answering for a while. ``--url`` uses an existing server instead, in a fresh
database that is dropped afterwards.

Example:
    python benchmarks/postgres_store.py --entries 100000             # about 15 s
    python benchmarks/postgres_store.py --markdown /tmp/pg.md        # 1,000,000: ~1.5 min
    python benchmarks/postgres_store.py --url postgresql://me@db/postgres --entries 200000
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import secrets
import statistics
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import psycopg

from aiwatermark.store._postgres import (
    _NEAR_INDEXED,
    _NEAR_SCAN,
    TABLE,
    PostgresManifestStore,
    _probes,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from postgres import running_postgres

U8 = npt.NDArray[np.uint8]
_In = TypeVar("_In")
_Out = TypeVar("_Out")
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
_BATCH = 50_000


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


@contextlib.contextmanager
def database(url: str | None, shared_buffers: str) -> Iterator[str]:
    """A URL of an empty database: in a throwaway server, or made (and dropped) in ``url``."""
    if url is None:
        with running_postgres({"shared_buffers": shared_buffers}) as server:
            yield server
        return
    name = f"aiwatermark_bench_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    parts = urllib.parse.urlsplit(url)
    try:
        yield urllib.parse.urlunsplit(parts._replace(path="/" + name))
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def load(url: str, fingerprints: U8, payloads: U8, manifest_bytes: int) -> float:
    """COPY the entries in; seconds taken (the indexes are maintained as rows arrive)."""
    manifest = secrets.token_bytes(manifest_bytes)
    start = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        for lo in range(0, len(fingerprints), _BATCH):
            with conn.cursor() as cur:
                copy_sql = (
                    f"COPY {TABLE} (payload, fingerprint, manifest) FROM STDIN (FORMAT BINARY)"
                )
                with cur.copy(copy_sql) as copy:
                    copy.set_types(["bytea", "bytea", "bytea"])
                    for i in range(lo, min(lo + _BATCH, len(fingerprints))):
                        copy.write_row((payloads[i].tobytes(), fingerprints[i].tobytes(), manifest))
            _log(f"loaded {min(lo + _BATCH, len(fingerprints)):,}")
        conn.execute(f"VACUUM ANALYZE {TABLE}")
    return time.perf_counter() - start


def sizes(url: str) -> list[list[str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "WHERE c.relname LIKE %s AND c.relkind IN ('r', 'i') ORDER BY c.relname",
            (TABLE + "%",),
        ).fetchall()
        settings = conn.execute("SHOW shared_buffers").fetchone()
    table = sum(int(size) for name, size in rows if name == TABLE)
    word_indexes = [int(size) for name, size in rows if name.startswith(f"{TABLE}_w")]
    mib = 1024 * 1024
    return [
        ["table (heap + TOAST + all indexes)", f"{table / mib:,.0f} MiB"],
        [
            "16 word indexes",
            f"{sum(word_indexes) / mib:,.0f} MiB ({np.mean(word_indexes) / mib:,.1f} each)",
        ],
        ["shared_buffers", str(settings[0] if settings else "?")],
    ]


def timed(call: Callable[[_In], _Out], inputs: Sequence[_In]) -> tuple[list[float], list[_Out]]:
    """Milliseconds of ``call(x)`` for each input, and the answers."""
    times, answers = [], []
    for x in inputs:
        start = time.perf_counter()
        answers.append(call(x))
        times.append((time.perf_counter() - start) * 1000)
    return times, answers


def stats_row(name: str, times: Sequence[float], note: str) -> list[str]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return [
        name,
        str(len(times)),
        f"{statistics.median(times):.2f}",
        f"{p95:.2f}",
        f"{max(times):.2f}",
        note,
    ]


def brute_force(fingerprints: U8, query: bytes, max_distance: int) -> list[tuple[int, int]]:
    """(row number + 1 = entry id, distance) within ``max_distance``, nearest first."""
    q = np.frombuffer(query, dtype=np.uint8)
    d = _POPCOUNT[fingerprints ^ q].sum(axis=1, dtype=np.int64)
    hits = np.flatnonzero(d <= max_distance)
    return sorted(((int(i) + 1, int(d[i])) for i in hits), key=lambda kd: (kd[1], kd[0]))


def flip(value: U8, bits: int, rng: np.random.Generator) -> bytes:
    out = value.copy()
    for bit in rng.choice(256, size=bits, replace=False):
        out[bit // 8] ^= 1 << (7 - bit % 8)
    return bytes(out.tobytes())


def explain(url: str, sql: str, params: dict[str, Any]) -> str:
    """EXPLAIN ANALYZE output without the probe lists, and only 2 of the 16 word scans.

    The generic plan: psycopg prepares a statement on its fifth execution, and the server
    then settles on a generic plan for it.
    """
    with psycopg.connect(url) as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        plan = [
            str(row[0])
            for row in conn.execute(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql,
                params,
            ).fetchall()
        ]
    kept: list[str] = []
    branch_depth, branches, skip_deeper = -1, 0, -1
    for line in plan:
        depth = len(line) - len(line.lstrip())
        if skip_deeper >= 0 and depth > skip_deeper:
            continue
        skip_deeper = -1
        if "InitPlan" in line or "->  Result" in line:
            skip_deeper = depth  # the query's bits, evaluated once per scan
            continue
        if "Cond:" in line:
            continue
        if "->  Append" in line:
            branch_depth = -2  # the next node down is the first of the 16 word branches
        elif branch_depth == -2 and line.lstrip().startswith("->"):
            branch_depth = depth
        if depth == branch_depth and line.lstrip().startswith("->"):
            branches += 1
            if branches == 3:
                kept.append(" " * depth + "… and the same for the 14 other words")
            if branches >= 3:
                skip_deeper = depth
                continue
        kept.append(line)
    return "\n".join(kept)


def bitmap_heap_sql() -> str:
    """The alternative design: one OR of 16 bitmap index scans, then a table row per candidate."""
    where = " OR ".join(f"w{i} = ANY(%(p{i})s::integer[])" for i in range(16))
    bits = "(SELECT %(bits)s::bit(256))"
    return (
        f"SELECT id, d FROM (SELECT id, bit_count(fp_bits # {bits}) AS d FROM {TABLE} "
        f"WHERE {where}) AS c WHERE d <= %(max)s ORDER BY d, id"
    )


def query_params(query: bytes, max_distance: int) -> dict[str, Any]:
    params: dict[str, Any] = {
        "bits": format(int.from_bytes(query, "big"), "0256b"),
        "max": max_distance,
        "limit": None,
    }
    for w in range(16):
        params[f"p{w}"] = _probes(int.from_bytes(query[2 * w : 2 * w + 2], "big"), 1)
    return params


def warm(url: str) -> str:
    """Write the load out (CHECKPOINT) and read the table and indexes into shared buffers,
    as on a server that has been answering for a while."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        except psycopg.Error:
            return "not prewarmed (no pg_prewarm)"
        conn.execute(
            "SELECT pg_prewarm(c.oid) FROM pg_class c "
            "WHERE c.relname LIKE %s AND c.relkind IN ('r', 'i')",
            (TABLE + "%",),
        )
    return "table and indexes prewarmed (pg_prewarm)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300, help="timed queries of each kind")
    parser.add_argument("--scan-queries", type=int, default=10, help="timed radius-40 scans")
    parser.add_argument(
        "--check", type=int, default=30, help="fingerprint answers compared with brute force"
    )
    parser.add_argument("--manifest-bytes", type=int, default=300)
    parser.add_argument("--url", help="an existing server (a database is made and dropped)")
    parser.add_argument("--shared-buffers", default="2GB", help="of the throwaway server")
    parser.add_argument("--markdown", type=Path, help="also write the output to this file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    fingerprints = rng.integers(0, 256, size=(args.entries, 32), dtype=np.uint8)
    # Distinct content IDs: the row number in the first bytes, random bytes after it.
    payloads = rng.integers(0, 256, size=(args.entries, 8), dtype=np.uint8)
    payloads[:, :4] = np.arange(args.entries, dtype=">u4").view(np.uint8).reshape(-1, 4)

    out: list[str] = []

    def emit(text: str) -> None:
        print(text + "\n", flush=True)
        out.append(text)

    started = time.perf_counter()
    with database(args.url, args.shared_buffers) as url:
        store = PostgresManifestStore(url, max_size=2)
        assert len(store) == 0  # creates the schema
        _log(f"loading {args.entries:,} entries")
        load_s = load(url, fingerprints, payloads, args.manifest_bytes)
        _log(f"loaded in {load_s:.0f} s")
        warmed = warm(url)

        picks = rng.integers(0, args.entries, size=args.queries)
        flips = rng.integers(0, 32, size=args.queries)
        near = [flip(fingerprints[i], int(k), rng) for i, k in zip(picks, flips, strict=True)]
        far = [rng.integers(0, 256, size=32, dtype=np.uint8).tobytes() for _ in picks]
        keys = [payloads[i].tobytes() for i in picks]
        scans = far[: args.scan_queries]

        # Warm-up: psycopg prepares a statement on its fifth execution on a connection.
        for q in near[:20] + far[:20]:
            store.by_fingerprint(q, 31)
        for key in keys[:20]:
            store.by_payload(key)

        _log("timing")
        near_ms, near_answers = timed(lambda q: store.by_fingerprint(q, 31), near)
        far_ms, far_answers = timed(lambda q: store.by_fingerprint(q, 31), far)
        key_ms, key_answers = timed(store.by_payload, keys)
        scan_ms, scan_answers = timed(lambda q: store.by_fingerprint(q, 40), scans)
        with psycopg.connect(url, autocommit=True) as conn:
            sql = bitmap_heap_sql()
            for q in near[:20]:
                conn.execute(sql, query_params(q, 31)).fetchall()
            bitmap_ms, bitmap_answers = timed(
                lambda q: conn.execute(sql, query_params(q, 31)).fetchall(), near
            )

        _log("checking answers")
        found = sum(
            any(e.payload == payloads[i].tobytes() for e, _ in answer)
            for i, answer in zip(picks, near_answers, strict=True)
        )
        empty = sum(not answer for answer in far_answers)
        keyed = sum(
            [e.payload for e in answer] == [k] for k, answer in zip(keys, key_answers, strict=True)
        )
        same = sum(
            [(int(e.id), d) for e, d in mine] == [(int(i), int(d)) for i, d in theirs]
            for mine, theirs in zip(near_answers, bitmap_answers, strict=True)
        )
        checks = (
            list(zip(near, near_answers, strict=True))[: args.check // 2]
            + list(zip(far, far_answers, strict=True))[: args.check - args.check // 2]
        )
        exact = sum(
            [(int(e.id), d) for e, d in answer] == brute_force(fingerprints, q, 31)
            for q, answer in checks
        )
        scan_exact = sum(
            [(int(e.id), d) for e, d in answer] == brute_force(fingerprints, q, 40)
            for q, answer in zip(scans, scan_answers, strict=True)
        )

        near_plan = explain(url, _NEAR_INDEXED, query_params(near[0], 31))
        bitmap_plan = explain(url, bitmap_heap_sql(), query_params(near[0], 31))
        scan_plan = explain(url, _NEAR_SCAN, query_params(near[0], 40))
        size_rows = sizes(url)
        store.close()

    cpu = platform.processor() or platform.machine()
    server = "--url" if args.url else f"throwaway, fsync off, shared_buffers={args.shared_buffers}"
    emit(
        f"# PostgreSQL manifest store benchmark\n\n"
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · {args.entries:,} entries · "
        f"{os.cpu_count()} CPUs ({cpu}) · Python {platform.python_version()} · psycopg "
        f"{psycopg.__version__} · server: {server} · {warmed} · "
        f"whole run {time.perf_counter() - started:.0f} s\n\n"
        f"Bulk load (COPY with every index maintained, then VACUUM ANALYZE): "
        f"{load_s:.0f} s ({args.entries / load_s:,.0f} rows/s). Client-side times per call "
        f"(pool checkout, one round trip, decoding), one client, after a warm-up."
    )
    emit(
        md_table(
            ["call", "n", "median ms", "p95 ms", "max ms", "answers"],
            [
                stats_row(
                    "by_fingerprint(q, 31), q = registered ± 0–31 bits",
                    near_ms,
                    f"{found}/{len(near)} found the entry",
                ),
                stats_row(
                    "by_fingerprint(q, 31), q unregistered", far_ms, f"{empty}/{len(far)} empty"
                ),
                stats_row("by_payload(registered)", key_ms, f"{keyed}/{len(keys)} exact"),
                stats_row(
                    "by_fingerprint(q, 40) (table scan)",
                    scan_ms,
                    f"{scan_exact}/{len(scans)} = brute force",
                ),
                stats_row(
                    "alternative: OR of 16 bitmap index scans + table rows, registered ± 0–31",
                    bitmap_ms,
                    f"{same}/{len(near)} = by_fingerprint (ids only, raw SQL)",
                ),
            ],
        )
        + f"\n\nFingerprint answers identical to a brute-force scan: {exact}/{len(checks)}."
    )
    emit(md_table(["size", ""], size_rows))
    emit(f"Plan of by_fingerprint(q, 31):\n\n```\n{near_plan}\n```")
    emit(f"Plan of the alternative (bitmap heap scan):\n\n```\n{bitmap_plan}\n```")
    emit(f"Plan of by_fingerprint(q, 40):\n\n```\n{scan_plan}\n```")
    if args.markdown:
        args.markdown.write_text("\n\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
