"""``aiwatermark serve`` started as a real process for a test (no tests in here)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pki import TestCA


def closed_port() -> int:
    """A port nothing listens on (just released by the OS)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_repository(
    store: str, folder: Path, producer: TestCA, *options: str
) -> tuple[subprocess.Popen[str], str]:
    """``aiwatermark serve`` in its own process, trusting the producer, one write token
    (``producer-token-1``) and any further ``options``; the caller stops it."""
    tokens = folder / "write-tokens.txt"
    tokens.write_text("# the producer's pipeline\nproducer-token-1\n")
    port = closed_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "aiwatermark", "serve", "--store", store,
         "--trust-anchors", str(producer.root_path), "--write-tokens", str(tokens),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "2", *options],
        env={**os.environ, "AIWATERMARK_HOME": str(folder / "server-home")},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stdout.read() if server.stdout else ""
        try:
            if httpx.get(url + "/services/supportedAlgorithms", timeout=1).status_code == 200:
                return server, url
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise AssertionError("aiwatermark serve did not answer within 60 s")
