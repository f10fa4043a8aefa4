"""The ``aiwatermark`` command run as a user runs it: a real process, real stdin and stdout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_aiwatermark(
    home: Path, *argv: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``python -m aiwatermark ARGV`` with ``AIWATERMARK_HOME`` under ``home``; bytes out."""
    return subprocess.run(
        [sys.executable, "-m", "aiwatermark", *argv],
        input=stdin,
        capture_output=True,
        timeout=180,
        check=False,
        env={**os.environ, "AIWATERMARK_HOME": str(home / "home")},
    )
