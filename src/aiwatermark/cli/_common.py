"""What every command shares: exit statuses, the usage error, and how INPUT arguments expand."""

from __future__ import annotations

import argparse
import glob
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_CLOSED_PIPE = 128 + 13
"""What a Unix tool killed by SIGPIPE reports: the reader went away (``| head``)."""

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
        if path.is_dir():
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


def env_key(key: str | None) -> str | None:
    """The watermark key: ``--key`` when given, else ``$AIWATERMARK_KEY`` (None when unset).

    Example:
        >>> from aiwatermark.cli._common import env_key
        >>> env_key("s3cret")
        's3cret'
    """
    return key if key is not None else os.environ.get("AIWATERMARK_KEY") or None


__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "FORMATTER",
    "Input",
    "UsageError",
    "env_key",
    "expand",
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
