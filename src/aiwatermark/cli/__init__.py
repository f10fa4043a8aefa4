"""The ``aiwatermark`` command: mark images in batches, verify them, manage keys, run a demo,
serve a manifest repository.

One module per command (``_mark``, ``_verify``, ``_likeness``, ``_keys``, ``_demo``,
``_serve``), each adding
its own sub-parser; ``_common`` holds what they share, ``_progress`` the batches' progress bar.
Exit status, the same for every command (``_common.EXIT_STATUS_HELP``): 0 done, 1 a checked
condition does not hold (``verify --require-disclosure``), 2 usage errors and unexpected
failures, 3 some inputs could not be processed, 130 Ctrl-C, 141 a closed stdout.

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
    EXIT_INPUT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_STATUS_HELP,
    EXIT_USAGE,
    FORMATTER,
    UsageError,
    silence_stdout,
)

_MAIN_EPILOG = (
    """\
examples:
  aiwatermark demo                                  # see every layer at work
  aiwatermark mark render.png -o render-marked.png
  aiwatermark mark 'renders/**/*.png' --out-dir marked/ --generator "SDXL 1.0" --jobs 4
  aiwatermark verify marked/ --jobs 4
  aiwatermark verify upload.jpg --json --require-disclosure
  aiwatermark likeness register consent.json      # a digital twin's consent
  aiwatermark serve --store manifests.sqlite3 --trust-anchors anchors.pem

Run "aiwatermark COMMAND --help" for the options of each command.

"""
    + EXIT_STATUS_HELP
)


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
    from . import _demo, _keys, _likeness, _mark, _serve, _verify

    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in (_mark, _verify, _likeness, _keys, _demo, _serve):
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``aiwatermark`` command line and return its exit status.

    Example:
        >>> from aiwatermark.cli import main
        >>> main(["verify", "no-such-file.jpg"])
        3
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
        return EXIT_INPUT_FAILED
    except BrokenPipeError:  # stdout's reader went away: quiet, as Unix tools are
        silence_stdout()
        return EXIT_CLOSED_PIPE
    except KeyboardInterrupt:
        print("aiwatermark: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        print(f"aiwatermark: unexpected error: {exc!r} (please report it)", file=sys.stderr)
        return EXIT_USAGE


__all__ = ["main"]
