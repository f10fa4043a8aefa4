"""``aiwatermark verify``: read every disclosure layer of each file and print the verdict."""

from __future__ import annotations

import argparse
import json
import sys

from .. import _pipeline, imageio
from ..errors import AiWatermarkError
from ._common import EXIT_CLOSED_PIPE, EXIT_FAILED, EXIT_OK, FORMATTER, emit, env_key, expand

EPILOG = """\
examples:
  aiwatermark verify marked.jpg
  aiwatermark verify downloads/*.jpg --json > report.jsonl
  aiwatermark verify upload.jpg --require-disclosure --trust-anchors anchors.pem

Exit status 1 if a file cannot be read, or with --require-disclosure when a file carries no
AI disclosure in any layer.
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``verify`` command to ``commands``.

    Example:
        >>> import argparse
        >>> from aiwatermark.cli import _verify
        >>> parser = argparse.ArgumentParser(prog="aiwatermark")
        >>> _verify.add_parser(parser.add_subparsers(dest="command"))
        >>> parser.parse_args(["verify", "a.jpg", "--json"]).json
        True
    """
    verify = commands.add_parser(
        "verify",
        help="check which AI disclosures an image carries",
        epilog=EPILOG,
        formatter_class=FORMATTER,
        description="Read every disclosure layer of each FILE and report the verdict.",
    )
    verify.add_argument("inputs", nargs="+", metavar="FILE", help="files, folders or globs")
    verify.add_argument("--json", action="store_true", help="one JSON object per line per file")
    verify.add_argument(
        "--trust-anchors",
        metavar="PEM",
        help="CA certificates whose signers count as trusted (PEM)",
    )
    verify.add_argument(
        "--key",
        metavar="SECRET",
        help="watermark key used when marking (default: $AIWATERMARK_KEY)",
    )
    verify.add_argument(
        "--store",
        action="append",
        metavar="URL",
        help="manifest store or repository to recover credentials from: a path, "
        "postgresql://… or http(s)://… (repeat to ask several; default: the local store)",
    )
    verify.add_argument(
        "--label",
        default="AI-generated",
        metavar="TEXT",
        help="the visible label's text, if images were marked with another (default: "
        '"AI-generated")',
    )
    verify.add_argument(
        "--require-disclosure",
        action="store_true",
        help="exit 1 when a file carries no AI disclosure",
    )
    verify.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Verify every FILE as ``args`` says; 1 when one cannot be read (or lacks a disclosure
    that ``--require-disclosure`` asks for).

    Example:
        >>> from aiwatermark.cli import main
        >>> main(["verify", "no-such-file.jpg"])
        1
    """
    status = EXIT_OK
    key = env_key(args.key)
    for item in expand(args.inputs):
        name = str(item.path)
        try:
            if item.error:
                raise AiWatermarkError(f"{imageio.describe(name)}: {item.error}")
            report = _pipeline.verify(
                item.path,
                key=key,
                trust_anchors=args.trust_anchors,
                store=args.store,
                label=args.label,
            )
        except AiWatermarkError as exc:
            status = EXIT_FAILED
            print(f"aiwatermark: {exc}", file=sys.stderr)
            if args.json and not emit(json.dumps({"file": name, "error": str(exc)})):
                return EXIT_CLOSED_PIPE
            continue
        # `aiwatermark serve`'s POST /verify answers with this same object.
        line = (
            json.dumps({"file": name, **report.to_dict()})
            if args.json
            else f"{name}\n{_indent(report.summary())}\n"
        )
        if not emit(line):
            return EXIT_CLOSED_PIPE  # the reader went away (| head): stop quietly, as Unix tools do
        if args.require_disclosure and report.ai_generated is not True:
            status = EXIT_FAILED
            print(f"aiwatermark: {name!r} carries no AI disclosure", file=sys.stderr)
    return status


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line else line for line in text.splitlines())
