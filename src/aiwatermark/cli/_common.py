"""What every command shares: exit statuses, the usage error, ``--jobs``, and how INPUT
arguments expand."""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..schemas import SCHEMA_VERSION

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
"""A condition the command was asked to check does not hold (``--require-disclosure``)."""
EXIT_USAGE = 2
EXIT_INPUT_FAILED = 3
"""Some inputs could not be processed (or none: a bad ``--cert``, an unreachable store)."""
EXIT_INTERRUPTED = 128 + 2
"""What a Unix tool stopped by Ctrl-C (SIGINT) reports."""
EXIT_CLOSED_PIPE = 128 + 13
"""What a Unix tool killed by SIGPIPE reports: the reader went away (``| head``)."""

EXIT_STATUS_HELP = """\
exit status (the same for every command):
  0    done
  1    a checked condition does not hold (verify --require-disclosure: no AI disclosure)
  2    usage error
  3    some inputs could not be processed (unreadable, failed, or a bad --cert/--store);
       wins over 1
  130  interrupted (Ctrl-C)
  141  stdout's reader went away (| head); a mark batch still finishes
"""

FORMATTER = argparse.RawDescriptionHelpFormatter
"""Keeps the hand-wrapped examples of each command's epilog as written."""


class UsageError(Exception):
    """A command-line mistake: reported on one line, exit status 2."""


@dataclass(frozen=True)
class Input:
    """One file to process, or why an INPUT argument produced no file."""

    path: Path
    relative: Path
    error: str | None = None


def expand(arguments: Iterable[str]) -> list[Input]:
    """Turn files, folders (searched recursively) and glob patterns into the files to process.

    An argument that yields nothing stays in the list with the reason, so a batch reports it
    instead of silently skipping it.

    Example:
        >>> from aiwatermark.cli._common import expand
        >>> [i.error for i in expand(["no-such-*.jpg"])]
        ['no files match this pattern']
    """
    from .. import imageio  # numpy and Pillow: not for `aiwatermark --version`

    found: list[Input] = []
    for argument in arguments:
        path = Path(argument)
        if argument == STDIO:
            found.append(Input(path, Path("stdin")))
        elif path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in imageio.SUFFIX_FORMATS
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not files:
                found.append(Input(path, Path(path.name), "folder holds no image files"))
            found.extend(Input(p, p.relative_to(path)) for p in files)
        elif path.exists() or not any(char in argument for char in "*?["):
            found.append(Input(path, Path(path.name)))
        else:
            matches = sorted(Path(m) for m in glob.glob(argument, recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                found.append(Input(path, path, "no files match this pattern"))
            found.extend(Input(m, Path(m.name)) for m in files)
    return found


STDIO = "-"
"""As INPUT: read the image from stdin; as ``-o``: write it to stdout."""


def read_input(path: Path) -> Path | bytes:
    """What to hand the library for an input: the path, or stdin's bytes for ``-``.

    Example:
        >>> from pathlib import Path
        >>> from aiwatermark.cli._common import read_input
        >>> read_input(Path("photo.jpg"))
        PosixPath('photo.jpg')
    """
    if str(path) != STDIO:
        return path
    data = sys.stdin.buffer.read()
    if not data:
        raise UsageError("INPUT - reads the image from stdin, but stdin is empty")
    return data


def json_row(file: str, record: dict[str, object]) -> str:
    """One ``--json`` line: ``schema_version``, the input's name, then the record.

    Example:
        >>> from aiwatermark.cli._common import json_row
        >>> json_row("a.jpg", {"stored": True})
        '{"schema_version": "1", "file": "a.jpg", "stored": true}'
    """
    return json.dumps({"schema_version": SCHEMA_VERSION, "file": file, **record})


def error_row(file: str, error: BaseException | str) -> str:
    """The ``--json`` line for an input that could not be processed (schema ``error``):
    ``error.code`` is the exception's class, stable across versions.

    Example:
        >>> from aiwatermark.cli._common import error_row
        >>> error_row("a.jpg", "no such file")
        '{"schema_version": "1", "file": "a.jpg", "error": {"code": "UnsupportedImageError", "message": "no such file"}}'
    """  # noqa: E501
    # An INPUT that names no file is what the library reports as UnsupportedImageError.
    code = "UnsupportedImageError" if isinstance(error, str) else type(error).__name__
    return json_row(file, {"error": {"code": code, "message": str(error)}})


def add_jobs_option(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``--jobs/-j N``: worker processes, 0 for one per CPU.

    Example:
        >>> import argparse
        >>> from aiwatermark.cli._common import add_jobs_option
        >>> parser = argparse.ArgumentParser()
        >>> add_jobs_option(parser, "images marked in parallel")
        >>> parser.parse_args(["-j", "4"]).jobs
        4
    """
    parser.add_argument(
        "--jobs",
        "-j",
        type=_job_count,
        default=1,
        metavar="N",
        help=f"{what} (worker processes; 0 = one per CPU; default 1)",
    )


def _job_count(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        jobs = -1
    if jobs < 0:
        raise argparse.ArgumentTypeError(f"expected a number of processes, got {text!r}")
    return jobs


def env_key(key: str | None) -> str | None:
    """The watermark key: ``--key`` when given, else ``$AIWATERMARK_KEY`` (None when unset).

    Example:
        >>> from aiwatermark.cli._common import env_key
        >>> env_key("s3cret")
        's3cret'
    """
    return key if key is not None else os.environ.get("AIWATERMARK_KEY") or None


__all__ = [
    "EXIT_CHECK_FAILED",
    "EXIT_CLOSED_PIPE",
    "EXIT_INPUT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_STATUS_HELP",
    "EXIT_USAGE",
    "FORMATTER",
    "STDIO",
    "Input",
    "UsageError",
    "add_jobs_option",
    "emit",
    "env_key",
    "error_row",
    "expand",
    "json_row",
    "read_input",
    "silence_stdout",
]


def silence_stdout() -> None:
    """Point stdout at /dev/null after its reader went away, so that nothing (not even the
    interpreter's final flush) raises BrokenPipeError again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def emit(line: str) -> bool:
    """Print ``line`` to stdout; False (and stdout silenced) when the reader has gone.

    Example:
        >>> from aiwatermark.cli._common import emit
        >>> emit("hello")
        hello
        True
    """
    try:
        print(line, flush=True)
    except BrokenPipeError:
        silence_stdout()
        return False
    return True
