"""The ``aiwatermark`` command: mark images in batches, verify them, manage keys, run a demo,
serve a manifest repository.

One module per command (``_mark``, ``_verify``, ``_keys``, ``_demo``, ``_serve``), each adding
its own sub-parser; ``_common`` holds what they share. Exit status: 0 when everything worked,
1 when some file failed (or, for ``verify --require-disclosure``, carries no AI disclosure),
2 for usage errors and unexpected failures.

Example:
    >>> from aiwatermark.cli import main
    >>> main(["--version"])  # doctest: +ELLIPSIS
    aiwatermark ...
    0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import AiWatermarkError
from ._common import (
    EXIT_CLOSED_PIPE,
    EXIT_FAILED,
    EXIT_USAGE,
    FORMATTER,
    UsageError,
    silence_stdout,
)

_MAIN_EPILOG = """\
examples:
  aiwatermark demo                                  # see every layer at work
  aiwatermark mark render.png -o render-marked.png
  aiwatermark mark 'renders/**/*.png' --out-dir marked/ --generator "SDXL 1.0" --jobs 4
  aiwatermark verify marked/*.png
  aiwatermark verify upload.jpg --json --require-disclosure
  aiwatermark serve --store manifests.sqlite3 --trust-anchors anchors.pem

Run "aiwatermark COMMAND --help" for the options of each command.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiwatermark",
        description="Mark AI-generated images (visible label, invisible watermark, metadata "
        "disclosure, signed C2PA Content Credentials) and verify them later.",
        epilog=_MAIN_EPILOG,
        formatter_class=FORMATTER,
    )
    parser.add_argument("--version", action="version", version=f"aiwatermark {__version__}")
    # Here rather than at the top: the commands import every image layer (~0.5 s), which
    # `aiwatermark --version` should not wait for.
    from . import _demo, _keys, _mark, _serve, _verify

    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in (_mark, _verify, _keys, _demo, _serve):
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``aiwatermark`` command line and return its exit status.

    Example:
        >>> from aiwatermark.cli import main
        >>> main(["verify", "no-such-file.jpg"])
        1
    """
    if list(sys.argv[1:] if argv is None else argv) == ["--version"]:
        print(f"aiwatermark {__version__}")
        return 0
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return int(args.run(args))
    except UsageError as exc:
        print(f"aiwatermark: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AiWatermarkError as exc:
        print(f"aiwatermark: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:  # stdout's reader went away: quiet, as Unix tools are
        silence_stdout()
        return EXIT_CLOSED_PIPE
    except KeyboardInterrupt:
        print("aiwatermark: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"aiwatermark: unexpected error: {exc!r} (please report it)", file=sys.stderr)
        return EXIT_USAGE


__all__ = ["main"]
