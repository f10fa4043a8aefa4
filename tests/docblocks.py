"""Run the code blocks of the documentation as a reader would: page by page, top to bottom.

A page (README.md, docs/**/*.md) is parsed into fenced blocks. ```python, ```sh and ```bash
blocks run, in order, in a fresh working directory with its own ``AIWATERMARK_HOME``:
Python blocks share one namespace (a reader keeps one interpreter open), shell blocks run
with ``bash -euo pipefail`` and the interpreter's ``bin/`` (so its ``aiwatermark``) first on
``PATH``. A block that cannot run in a test says so in the Markdown source, right above it::

    <!-- docs-test: not run — starts a server that runs until stopped -->

Every other fence names its language (```text, ```json, ...) and is a listing, never run.

The blocks of a page run in one child process (this file, run as a script): a hung block,
a crashed interpreter or a server left running in the background cannot take the test
session with it, and the whole process group is killed when the page is done.
"""

from __future__ import annotations

import contextlib
import json
import linecache
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RUN = {"python": "python", "sh": "sh", "bash": "sh"}
"""Languages that run, and how: a fence naming one of these is executed."""

HIDDEN = frozenset(
    {
        "py", "py3", "python3", "pycon", "ipython", "pyodide",
        "shell", "console", "zsh", "ksh", "fish", "sh-session", "shell-session",
        "bash-session", "shellsession", "terminal",
    }
)  # fmt: skip
"""Other names for Python or a shell: code the runner would not see, so they are refused."""

MARKER = re.compile(r"<!--\s*docs-test:\s*not run\s*[—–:-]\s*(?P<reason>.*?)\s*-->")
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")

BLOCK_TIMEOUT = 300.0
"""Seconds one block may take (the slowest real block marks and verifies a few images)."""


class PageError(ValueError):
    """A page the runner cannot read unambiguously: fix the Markdown, not the runner."""


@dataclass(frozen=True)
class Block:
    """One fenced block: where it starts (the fence line, 1-based), its language and code."""

    page: str
    line: int
    lang: str
    code: str
    not_run: str | None = None  # the marker's reason

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.lang in RUN and self.not_run is None


@dataclass(frozen=True)
class Outcome:
    """What happened to a block: ``passed``, ``failed``, ``not run`` or ``not reached``."""

    where: str
    status: str
    output: str = ""
    seconds: float = 0.0


def pages(root: Path = ROOT) -> list[Path]:
    """Every documentation page: README.md and each Markdown file under docs/."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def parse(text: str, page: str) -> list[Block]:
    """The fenced blocks of a Markdown page, with the not-run marker that precedes each.

    A marker belongs to the next fence; only blank lines and other HTML comments may stand
    between them. Raises PageError for an unclosed fence, a marker with no reason, a marker
    that no block follows, or one above a block that would not run anyway.

    Example:
        >>> [b.lang for b in parse("```sh\\necho hi\\n```\\n\\n```text\\nhi\\n```\\n", "x.md")]
        ['sh', 'text']
    """
    lines = text.splitlines()
    blocks: list[Block] = []
    pending: tuple[int, str] | None = None  # (line, reason) of a marker not yet used
    i = 0
    while i < len(lines):
        line = lines[i]
        if "docs-test" in line:
            match = MARKER.search(line)
            if match is None or not match.group("reason"):
                raise PageError(
                    f"{page}:{i + 1}: write the marker as "
                    "'<!-- docs-test: not run — <why it cannot run in a test> -->'"
                )
            if pending is not None:
                raise PageError(f"{page}:{pending[0]}: this marker is followed by no block")
            pending = (i + 1, match.group("reason"))
            i += 1
            continue
        fence = _FENCE.match(line)
        if fence is None:
            if pending is not None and line.strip() and not line.strip().startswith("<!--"):
                raise PageError(f"{page}:{pending[0]}: this marker is followed by no block")
            i += 1
            continue
        indent, mark = len(fence.group("indent")), fence.group("fence")
        lang = fence.group("info").split()[0].lower() if fence.group("info") else ""
        close = re.compile(rf"^[ \t]*{re.escape(mark[0])}{{{len(mark)},}}[ \t]*$")
        body: list[str] = []
        end = i + 1
        while end < len(lines) and not close.match(lines[end]):
            # Inside a list item the fence is indented; its content is too.
            body.append(lines[end][indent:] if lines[end][:indent].isspace() else lines[end])
            end += 1
        if end == len(lines):
            raise PageError(f"{page}:{i + 1}: this fence is never closed")
        reason = None
        if pending is not None:
            if lang not in RUN:
                raise PageError(
                    f"{page}:{pending[0]}: a not-run marker above a ```{lang} block, "
                    "which does not run anyway"
                )
            reason = pending[1]
            pending = None
        blocks.append(Block(page, i + 1, lang, "\n".join(body) + "\n", reason))
        i = end + 1
    if pending is not None:
        raise PageError(f"{page}:{pending[0]}: this marker is followed by no block")
    return blocks


def read_page(path: Path, root: Path = ROOT) -> list[Block]:
    return parse(path.read_text(encoding="utf-8"), path.relative_to(root).as_posix())


def run_page(blocks: list[Block], workdir: Path, timeout: float = 1200.0) -> list[Outcome]:
    """Run a page's blocks in ``workdir`` (in a child process) and say what became of each.

    ``workdir`` gets two folders: ``work/``, the reader's current directory, and ``home/``,
    the ``AIWATERMARK_HOME`` (also ``HOME``) of the run, so nothing touches the user's files.
    """
    work, home = workdir / "work", workdir / "home"
    work.mkdir(parents=True)
    home.mkdir()
    spec, results, log = workdir / "blocks.json", workdir / "results.json", workdir / "runner.log"
    spec.write_text(json.dumps([asdict(b) for b in blocks]), encoding="utf-8")
    env = {
        key: value
        for key, value in os.environ.items()
        # A reader following the page has none of ours: no key, token or home of the suite.
        if not key.startswith("AIWATERMARK_")
    }
    env.update(
        AIWATERMARK_HOME=str(home),
        HOME=str(home),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        PYTHONUNBUFFERED="1",
    )
    with log.open("wb") as stray:  # a file, not a pipe: a background server may hold it
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), str(spec), str(results)],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stray,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: everything it starts ends with it
        )
        try:
            process.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # Servers a block left in the background, and the driver itself after a timeout.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    outcomes = [Outcome(**o) for o in json.loads(results.read_text())] if results.exists() else []
    broke = False  # the child stopped before the end: the block it was running is to blame
    for block in blocks[len(outcomes) :]:
        if not block.runs:
            outcomes.append(Outcome(block.where, _idle(block)))
        elif broke:
            outcomes.append(Outcome(block.where, "not reached"))
        else:
            broke = True
            why = f"timed out after {timeout:.0f} s" if timed_out else "the runner died"
            tail = log.read_text(errors="replace")
            outcomes.append(Outcome(block.where, "failed", f"{why}\n{tail}"))
    return outcomes


def _idle(block: Block) -> str:
    return "not run" if block.not_run else "listing"


# --- the child process -----------------------------------------------------------------


class _Captured:
    """Everything written to file descriptors 1 and 2, by Python, C code or subprocesses."""

    def __enter__(self) -> _Captured:
        self.file = tempfile.TemporaryFile()
        sys.stdout.flush()
        sys.stderr.flush()
        self.saved = (os.dup(1), os.dup(2))
        os.dup2(self.file.fileno(), 1)
        os.dup2(self.file.fileno(), 2)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved in zip((1, 2), self.saved, strict=True):
            os.dup2(saved, fd)
            os.close(saved)
        self.file.seek(0)
        self.text = self.file.read().decode(errors="replace")
        self.file.close()


def _run_python(block: Block, namespace: dict[str, object]) -> bool:
    # Blank lines in front make tracebacks point at the page's own line numbers, and the
    # line cache lets them show those lines (the page is not in the working directory).
    source = "\n" * block.line + block.code
    linecache.cache[block.page] = (len(source), None, source.splitlines(True), block.page)
    code = compile(source, block.page, "exec")
    try:
        exec(code, namespace)
    except BaseException as exc:  # a SystemExit in a block is a failure too
        # Without this file's own frame: the trace starts at the page.
        tb = exc.__traceback__.tb_next if exc.__traceback__ else None
        traceback.print_exception(type(exc), exc, tb)
        return False
    return True


def _run_sh(block: Block) -> bool:
    # The trace names the page's line of every command, so a failure points at its line.
    script = f"PS4='+ {block.page}:$((LINENO + {block.line - 1})): '; set -x\n{block.code}"
    try:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            stdin=subprocess.DEVNULL,
            timeout=BLOCK_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        print(f"timed out after {BLOCK_TIMEOUT:.0f} s", file=sys.stderr)
        return False
    return result.returncode == 0


def _main(spec: Path, results: Path) -> int:
    # A reader's interpreter imports from the current directory, not from tests/: a page
    # that needs one of the suite's helpers (a test CA, say) must fail here too.
    sys.path[0] = ""
    blocks = [Block(**b) for b in json.loads(spec.read_text(encoding="utf-8"))]
    namespace: dict[str, object] = {"__name__": "__main__"}
    outcomes: list[dict[str, object]] = []
    failed = False
    for block in blocks:
        if not block.runs:
            outcomes.append(asdict(Outcome(block.where, _idle(block))))
        elif failed:
            outcomes.append(asdict(Outcome(block.where, "not reached")))
        else:
            start = time.monotonic()
            with _Captured() as captured:
                if RUN[block.lang] == "python":
                    ok = _run_python(block, namespace)
                else:
                    ok = _run_sh(block)
            failed = not ok
            seconds = time.monotonic() - start
            status = "passed" if ok else "failed"
            outcomes.append(asdict(Outcome(block.where, status, captured.text, seconds)))
        # Written after every block, so a page that hangs still shows how far it got.
        results.write_text(json.dumps(outcomes), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(_main(Path(sys.argv[1]), Path(sys.argv[2])))
