"""``aiwatermark demo``: mark the bundled sample, share it, and verify both copies."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import EXIT_OK, FORMATTER

EPILOG = """\
examples:
  aiwatermark demo
  aiwatermark demo --out-dir /tmp/aiwatermark-demo
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` command to ``commands``.

    Example:
        >>> import argparse
        >>> from aiwatermark.cli import _demo
        >>> parser = argparse.ArgumentParser(prog="aiwatermark")
        >>> _demo.add_parser(parser.add_subparsers(dest="command"))
        >>> parser.parse_args(["demo"]).out_dir
        'aiwatermark-demo'
    """
    demo = commands.add_parser(
        "demo",
        help="mark a sample image, share it, and verify both",
        epilog=EPILOG,
        formatter_class=FORMATTER,
        description="Mark the bundled sample, make a re-encoded 'shared' copy with its "
        "metadata stripped, and show what verification finds in each.",
    )
    demo.add_argument(
        "--out-dir",
        default="aiwatermark-demo",
        metavar="DIR",
        help="where to write the images (default: ./aiwatermark-demo)",
    )
    demo.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo into ``args.out_dir``, explaining each step on stdout.

    Example:
        >>> from aiwatermark.cli import main
        >>> main(["demo", "--out-dir", "/tmp/aiwatermark-demo"])  # doctest: +SKIP
        aiwatermark demo: ...
        0
    """
    from .._demo import run_demo

    run_demo(Path(args.out_dir), sys.stdout)
    return EXIT_OK
