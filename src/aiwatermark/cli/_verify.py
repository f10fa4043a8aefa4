"""``aiwatermark verify``: read every disclosure layer of each file and print the verdict."""

from __future__ import annotations

import argparse
import sys

from .. import imageio
from .._batch import verify_many
from ._common import (
    EXIT_CHECK_FAILED,
    EXIT_CLOSED_PIPE,
    EXIT_INPUT_FAILED,
    EXIT_OK,
    EXIT_STATUS_HELP,
    FORMATTER,
    STDIO,
    UsageError,
    add_jobs_option,
    emit,
    env_key,
    error_row,
    expand,
    json_row,
    read_input,
)
from ._progress import ProgressBar

EPILOG = (
    """\
examples:
  aiwatermark verify marked.jpg
  aiwatermark verify downloads/*.jpg --json > report.jsonl
  aiwatermark verify uploads/ --jobs 4 --json > report.jsonl
  aiwatermark verify upload.jpg --require-disclosure --trust-anchors anchors.pem
  curl -s https://example.com/a.jpg | aiwatermark verify - --json

Reports come in the order of the FILEs, whatever --jobs is.

"""
    + EXIT_STATUS_HELP
)


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
    verify.add_argument(
        "inputs", nargs="+", metavar="FILE", help="files, folders or globs; - reads stdin"
    )
    verify.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per file per line (schema: docs/json.md)",
    )
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
        "--font",
        metavar="FILE",
        help="the font the label was drawn in, if mark was given one (--font)",
    )
    verify.add_argument(
        "--require-disclosure",
        action="store_true",
        help="exit 1 when a file carries no AI disclosure",
    )
    add_jobs_option(verify, "images verified in parallel")
    verify.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Verify every FILE as ``args`` says; 3 when one cannot be read, 1 when one lacks a
    disclosure that ``--require-disclosure`` asks for.

    Example:
        >>> from aiwatermark.cli import main
        >>> main(["verify", "no-such-file.jpg"])
        3
    """
    status = EXIT_OK
    inputs = expand(args.inputs)
    if sum(str(item.path) == STDIO for item in inputs) > 1:
        raise UsageError("stdin (-) can be read once; give - at most once")
    readable = [read_input(item.path) for item in inputs if item.error is None]
    progress = ProgressBar(len(readable), "image")
    with verify_many(
        readable,
        jobs=args.jobs,
        progress=progress.update,
        key=env_key(args.key),
        trust_anchors=args.trust_anchors,
        store=args.store,
        label=args.label,
        font=args.font,
    ) as batch:
        # In input order: the batch is ordered, and inputs that expanded to nothing slot in.
        for item in inputs:
            name = str(item.path)
            error: BaseException | str | None
            if item.error is None:
                result = next(batch)
                report, error = result.result, result.error
            else:
                report, error = None, f"{imageio.describe(name)}: {item.error}"
            with progress.above():
                if error is not None:
                    status = EXIT_INPUT_FAILED
                    print(f"aiwatermark: {error}", file=sys.stderr)
                    line = error_row(name, error) if args.json else None
                else:
                    assert report is not None
                    # `aiwatermark serve`'s POST /verify answers with this same object.
                    line = (
                        json_row(name, report.to_dict())
                        if args.json
                        else f"{name}\n{_indent(report.summary())}\n"
                    )
                if line is not None and not emit(line):
                    # The reader went away (| head): stop quietly, as Unix tools do.
                    return EXIT_CLOSED_PIPE
                if report is not None and args.require_disclosure and not report.ai_generated:
                    status = max(status, EXIT_CHECK_FAILED)
                    print(f"aiwatermark: {name!r} carries no AI disclosure", file=sys.stderr)
    progress.close()
    return status


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line else line for line in text.splitlines())
