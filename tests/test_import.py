"""`import aiwatermark` stays cheap: the image layers load when first used."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_import_loads_no_image_layer() -> None:
    heavy = ("numpy", "PIL", "c2pa", "cryptography", "aiwatermark._pipeline")
    code = f"import aiwatermark, sys; print([m for m in {heavy!r} if m in sys.modules])"
    assert _run(code) == "[]"


def test_the_api_loads_on_first_use() -> None:
    code = (
        "import aiwatermark; "
        "print(callable(aiwatermark.mark), aiwatermark.invisible.PAYLOAD_BITS, "
        "aiwatermark.__version__ != '', 'verify' in dir(aiwatermark))"
    )
    assert _run(code) == "True 64 True True"


def test_version_needs_no_image_layer() -> None:
    code = (
        "import sys; from aiwatermark.cli import main; main(['--version']); "
        "print('numpy' in sys.modules, 'PIL' in sys.modules)"
    )
    assert _run(code).splitlines()[-1] == "False False"
