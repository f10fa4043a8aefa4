"""Load on a real ``aiwatermark serve``: look-ups, verifications, and a kill mid-registration.

Everything runs on this machine, against 127.0.0.1 only, for a bounded time:

1. **Look-ups.** ``--clients`` concurrent clients (default 200) send
   ``GET /matches/byBinding`` for registered content IDs for ``--seconds`` (default 60):
   throughput, p50/p95/p99 latency, errors. Target: p95 ≤ 20 ms with PostgreSQL, 0 errors.
2. **Verifications.** ``POST /verify`` with 1024×1024 JPEGs at twice the server's worker
   count for ``--verify-seconds``: images/s, p95, and the server's peak resident memory.
3. **Kill.** Clients register freshly signed manifests while the server is killed with
   SIGKILL and restarted: every registration that was answered 201 must be there afterwards,
   complete, and nothing else half-written.

The store is PostgreSQL (a throwaway server, as the tests start it) unless ``--store`` names
another; ``--entries`` content IDs are registered first, straight into the store.

Example:
    python benchmarks/repository_load.py --seconds 10 --verify-seconds 10   # a short run
    python benchmarks/repository_load.py                                     # the full run
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Sequence, Sized
from datetime import datetime, timezone
from pathlib import Path

import httpx
from PIL import Image

import aiwatermark
from aiwatermark import provenance
from aiwatermark.store import open_store

# The throwaway PostgreSQL server and the test CA are test helpers.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from pki import TestCA
from postgres import running_postgres

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "load-test-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(
    store: str, folder: Path, anchors: Path, workers: int, processes: int = 1
) -> Iterator[tuple[str, int]]:
    """``aiwatermark serve`` in a child process; yields its URL and pid."""
    tokens = folder / "tokens.txt"
    tokens.write_text(TOKEN + "\n")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "aiwatermark", "serve", "--store", store, "--port", str(port),
         "--trust-anchors", str(anchors), "--write-tokens", str(tokens),
         "--workers", str(workers), "--processes", str(processes)],
        env={**os.environ, "AIWATERMARK_HOME": str(folder / "home")},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/services/supportedAlgorithms", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the server did not start") from None
            time.sleep(0.2)
    try:
        yield url, server.pid
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def hammer_lookups(
    url: str, payloads: Sequence[bytes], clients: int, seconds: float
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def one_client(seed: int) -> None:
            nonlocal errors
            rng = random.Random(seed)
            while time.monotonic() < stop:
                value = base64.b64encode(rng.choice(payloads)).decode()
                params = {"alg": provenance.SOFT_BINDING_ALG, "value": value}
                started = time.perf_counter()
                try:
                    response = await client.get("/matches/byBinding", params=params)
                    ok = response.status_code == 200 and response.json()["matches"]
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - started)
                errors += 0 if ok else 1

        await asyncio.gather(*(one_client(i) for i in range(clients)))
    return latencies, errors


async def hammer_verify(
    url: str, images: Sequence[bytes], concurrency: int, seconds: float
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:

        async def one_client(seed: int) -> None:
            nonlocal errors
            index = seed
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    response = await client.post(
                        "/verify",
                        content=images[index % len(images)],
                        headers={"Content-Type": "image/jpeg"},
                    )
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - started)
                errors += 0 if ok else 1
                index += concurrency

        await asyncio.gather(*(one_client(i) for i in range(concurrency)))
    return latencies, errors


def signed_manifests(count: int, identity_signer: aiwatermark.keys.Signer) -> list[bytes]:
    """Real signed manifests binding fresh content IDs and fingerprints (as mark would)."""
    png = aiwatermark.imageio.encode(Image.new("RGB", (64, 64), "teal"), "PNG")
    return [
        provenance.sign(
            png,
            format="PNG",
            signer=identity_signer,
            soft_binding=os.urandom(8),
            fingerprint=os.urandom(32),
            embed=False,
        ).manifest
        for _ in range(count)
    ]


async def register_until_killed(
    url: str, manifests: Sequence[bytes], pid: int
) -> tuple[list[str], int]:
    """Register concurrently; SIGKILL the server once a third are in, mid-stream. Returns
    the IDs answered 201 and how many requests got no answer."""
    accepted: list[str] = []
    lost = 0
    queue = list(manifests)
    headers = {"Content-Type": "application/c2pa", "Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:

        async def worker() -> None:
            nonlocal lost
            while queue:
                body = queue.pop()
                try:
                    response = await client.post("/manifests", content=body, headers=headers)
                except httpx.HTTPError:
                    lost += 1
                    continue
                if response.status_code == 201:
                    accepted.append(response.json()["manifestId"])

        async def killer() -> None:
            while len(accepted) < len(manifests) // 3:
                await asyncio.sleep(0.01)
            os.kill(pid, signal.SIGKILL)

        await asyncio.gather(killer(), *(worker() for _ in range(16)))
    return accepted, lost


def jpegs(count: int) -> list[bytes]:
    images = []
    with Image.open(ROOT / "fixtures" / "astronaut.jpg") as im:
        base = im.convert("RGB").resize((1024, 1024), Image.Resampling.LANCZOS)
    for i in range(count):
        buffer = io.BytesIO()
        base.rotate(90 * (i % 4)).save(buffer, "JPEG", quality=85)
        images.append(buffer.getvalue())
    return images


_WRK_SCRIPT = """
local paths = {}
for line in io.lines(os.getenv("LOAD_PATHS")) do paths[#paths + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1])
end
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT %d %.1f %.3f %.3f %.3f %d\\n", summary.requests,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, errors))
end
"""


def wrk_lookups(
    url: str, payloads: Sequence[bytes], clients: int, seconds: float, folder: Path
) -> str | None:
    """The same look-up load from wrk (a C load generator), which leaves the server more of
    the two cores than Python clients do; None when wrk is not installed."""
    if shutil.which("wrk") is None:
        return None
    paths = folder / "paths.txt"
    paths.write_text(
        "\n".join(
            "/matches/byBinding?"
            + urllib.parse.urlencode(
                {"alg": provenance.SOFT_BINDING_ALG, "value": base64.b64encode(p).decode()}
            )
            for p in payloads[:5000]
        )
        + "\n"
    )
    script = folder / "lookups.lua"
    script.write_text(_WRK_SCRIPT)
    done = subprocess.run(
        ["wrk", "-t", "1", "-c", str(clients), "-d", f"{int(seconds)}s", "-s", str(script), url],
        env={**os.environ, "LOAD_PATHS": str(paths)},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    result = next((line for line in done.stdout.splitlines() if line.startswith("RESULT")), "")
    if not result:
        return f"| wrk failed | {done.stderr.strip()[:80]} | | | | | |"
    count, rate, p50, p95, p99, errors = result.split()[1:]
    return (
        f"| GET /matches/byBinding, {clients} connections (wrk) | {count} | {float(rate):.0f} "
        f"| {float(p50):.1f} | {float(p95):.1f} | {float(p99):.1f} | {errors} |"
    )


def row(name: str, latencies: Sequence[float], errors: int, seconds: float) -> str:
    ms = [x * 1000 for x in latencies]
    return (
        f"| {name} | {len(ms)} | {len(ms) / seconds:.0f} | {statistics.median(ms):.1f} | "
        f"{percentile(ms, 0.95):.1f} | {percentile(ms, 0.99):.1f} | {errors} |"
    )


def run(args: argparse.Namespace, store: str, folder: Path) -> list[str]:
    ca = TestCA.create(folder / "ca", organization="Load Test Studio")
    signer = ca.issue("Load Signer").signer()
    opened = open_store(store)
    assert opened is not None
    manifest = signed_manifests(1, signer)[0]
    payloads = [os.urandom(8) for _ in range(args.entries)]
    for payload in payloads:
        opened.put(payload, manifest, fingerprint=os.urandom(32))
    out = [
        f"`aiwatermark serve` on {store.split('@')[-1]}, {args.entries} entries, "
        f"{args.processes} process(es) of {args.workers} workers; "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} cores shared by client and server",
        "",
        "| load | requests | per s | p50 ms | p95 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    with serving(store, folder, ca.root_path, args.workers, args.processes) as (url, pid):
        latencies, errors = asyncio.run(hammer_lookups(url, payloads, args.clients, args.seconds))
        out.append(
            row(f"GET /matches/byBinding, {args.clients} clients (Python)", latencies, errors,
                args.seconds)
        )  # fmt: skip
        with_wrk = wrk_lookups(url, payloads, args.clients, args.seconds, folder)
        if with_wrk is not None:
            out.append(with_wrk)
        concurrency = 2 * args.workers
        latencies, errors = asyncio.run(
            hammer_verify(url, jpegs(8), concurrency, args.verify_seconds)
        )
        out.append(
            row(f"POST /verify 1024² JPEG, {concurrency} clients", latencies, errors,
                args.verify_seconds)
        )  # fmt: skip
        out.append("")
        out.append(f"server peak RSS after both loads: {peak_rss_mb(pid):.0f} MB")

    manifests = signed_manifests(args.kill_registrations, signer)
    with serving(store, folder, ca.root_path, args.workers) as (url, pid):
        accepted, unanswered = asyncio.run(register_until_killed(url, manifests, pid))
    with serving(store, folder, ca.root_path, args.workers) as (url, _):
        missing = [
            manifest_id
            for manifest_id in accepted
            if httpx.get(f"{url}/manifests/{manifest_id}", timeout=10).status_code != 200
        ]
    restarted = open_store(store)
    assert restarted is not None
    entries = [restarted.by_id(manifest_id) for manifest_id in accepted]
    incomplete = sum(
        1
        for entry in entries
        if entry is None or not entry.manifest or entry.payload is None or entry.fingerprint is None
    )
    total = len(restarted) if isinstance(restarted, Sized) else -1
    committed_unanswered = total - args.entries - len(accepted)
    out.append(
        f"kill -9 during registration ({len(manifests)} sent by 16 clients): "
        f"{len(accepted)} answered 201 before the kill, {unanswered} requests unanswered; "
        f"after restart {len(missing)} of the accepted are missing, {incomplete} of them "
        f"incomplete, and {committed_unanswered} more were saved whose answer the kill cut off"
    )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--store", help="a store URL or path (default: a throwaway PostgreSQL)")
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--verify-seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--processes", type=int, default=1, help="aiwatermark serve --processes")
    parser.add_argument("--kill-registrations", type=int, default=600)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aiwatermark-load-") as tmp:
        folder = Path(tmp)
        os.environ["AIWATERMARK_HOME"] = str(folder / "home")
        if args.store:
            lines = run(args, args.store, folder)
        else:
            with running_postgres({"shared_buffers": "256MB"}) as url:
                lines = run(args, url, folder)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
