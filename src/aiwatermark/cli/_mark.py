"""``aiwatermark mark``: apply every disclosure layer to a batch of images."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from PIL import Image

from .. import _pipeline, consent, imageio, keys, visible
from .._batch import ItemResult, mark_many, sigint_held
from .._pipeline import MarkResult
from ..errors import AiWatermarkError, BatchStoppedError, InvalidArgumentError
from ._common import (
    EXIT_INPUT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STATUS_HELP,
    FORMATTER,
    STDIO,
    Input,
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

_MARKABLE_SUFFIXES = {
    suffix for suffix, fmt in imageio.SUFFIX_FORMATS.items() if fmt in _pipeline.MARKABLE_FORMATS
}

EPILOG = (
    """\
examples:
  aiwatermark mark render.png -o render-marked.png
  aiwatermark mark renders/ --out-dir marked/ --generator "SDXL 1.0" --jobs 4
  aiwatermark mark 'shots/*.jpg' --out-dir out/ --label "KI-generiert" --key "$WM_KEY"
  aiwatermark mark twin.png -o twin-marked.png --cert chain.pem --private-key signer.key \\
      --likeness ava-2026-001 --licensee "Maison Example" --purpose advertising \\
      --medium web --region EU

INPUT may be files, folders (searched recursively for .jpg/.png/.webp/...) or glob
patterns (quote them to let aiwatermark expand "**"). A file that fails is listed at the
end and does not stop the batch. Ctrl-C lets the images in progress finish (Ctrl-C again
abandons them, leaving no partial file) and lists every output written; run the same
command with --skip-existing to finish the batch.

"""
    + EXIT_STATUS_HELP
)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``mark`` command to ``commands``.

    Example:
        >>> import argparse
        >>> from aiwatermark.cli import _mark
        >>> parser = argparse.ArgumentParser(prog="aiwatermark")
        >>> _mark.add_parser(parser.add_subparsers(dest="command"))
        >>> parser.parse_args(["mark", "in.png", "-o", "out.png"]).label
        'AI-generated'
    """
    mark = commands.add_parser(
        "mark",
        help="mark images as AI-generated",
        epilog=EPILOG,
        formatter_class=FORMATTER,
        description="Apply every disclosure layer to each INPUT and write the marked copies.",
    )
    mark.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="files, folders or globs; - reads stdin"
    )
    where = mark.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "-o", "--output", metavar="OUTPUT", help="output file (one INPUT only); - writes stdout"
    )
    where.add_argument("--out-dir", metavar="DIR", help="folder for the marked copies")
    text = mark.add_mutually_exclusive_group()
    text.add_argument(
        "--label",
        default="AI-generated",
        metavar="TEXT",
        help="visible label text, or an EU icon preset: eu-ai, eu-ai-generated, "
        'eu-ai-modified (default: "AI-generated")',
    )
    text.add_argument("--no-label", action="store_true", help="no visible label")
    mark.add_argument(
        "--font",
        metavar="FILE",
        help="a .ttf/.otf/.ttc to draw the label in (for scripts the bundled font lacks)",
    )
    mark.add_argument(
        "--format",
        choices=[fmt.lower() for fmt in _pipeline.MARKABLE_FORMATS],
        type=str.lower,
        help="output format (default: OUTPUT's suffix, else the input's own format)",
    )
    mark.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per image per line on stdout (schema: docs/json.md)",
    )
    mark.add_argument("--no-watermark", action="store_true", help="no invisible watermark")
    mark.add_argument("--no-c2pa", action="store_true", help="no C2PA Content Credentials")
    mark.add_argument(
        "--generator", metavar="NAME", help='the AI system that made the image, e.g. "SDXL 1.0"'
    )
    mark.add_argument(
        "--store",
        metavar="URL",
        help="where to register the manifests: a path, postgresql://… or http(s)://… "
        "(a repository; its token from $AIWATERMARK_REPOSITORY_TOKEN); default: the local store",
    )
    mark.add_argument("--cert", metavar="PEM", help="signing certificate chain (PEM)")
    mark.add_argument("--private-key", metavar="PEM", help="private key of --cert (PEM)")
    mark.add_argument(
        "--tsa-url",
        metavar="URL",
        help="RFC 3161 timestamp authority for the C2PA signature, so it verifies after the "
        "certificate expires (marking fails if the TSA gives no timestamp)",
    )
    mark.add_argument(
        "--key",
        metavar="SECRET",
        help="watermark key (default: $AIWATERMARK_KEY, else the public key)",
    )
    twin = mark.add_argument_group(
        "digital twins",
        "The image shows a real person's digital twin: the use is checked against the consent "
        "registered with 'aiwatermark likeness register' in --store, and refused when the "
        "consent is unknown, not yet valid, expired, withdrawn or out of scope.",
    )
    twin.add_argument("--likeness", metavar="CONSENT_REF", help="the registered consent")
    twin.add_argument("--licensee", metavar="BRAND", help="the brand using the likeness")
    twin.add_argument("--purpose", metavar="PURPOSE", help='e.g. "advertising"')
    twin.add_argument("--medium", metavar="MEDIUM", help='e.g. "web", "print"')
    twin.add_argument("--region", metavar="REGION", help='where it is published, e.g. "EU"')
    twin.add_argument(
        "--consent-override",
        metavar="REASON",
        help="mark although the consent check fails; the reason is signed into the manifest",
    )
    add_jobs_option(mark, "images marked in parallel")
    existing = mark.add_mutually_exclusive_group()
    existing.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing outputs (and inputs, when written in place)",
    )
    existing.add_argument(
        "--skip-existing",
        action="store_true",
        help="leave inputs whose output exists alone: resumes an interrupted batch",
    )
    mark.set_defaults(run=run)


def _signer(args: argparse.Namespace) -> keys.Signer | bool | None:
    """Load the signer once, here, so a bad certificate is one error, not one per file."""
    if args.no_c2pa:
        return False
    if args.cert and args.private_key:
        return keys.Signer.from_files(args.cert, args.private_key, tsa_url=args.tsa_url)
    if args.tsa_url:
        return keys.dev_signer(tsa_url=args.tsa_url)
    return None  # the development identity, created once by mark_many


_USE_OPTIONS = ("licensee", "purpose", "medium", "region")


def _likeness_use(args: argparse.Namespace) -> consent.Use | None:
    """The digital-twin use the options describe (all four parts, or none of them)."""
    given = [name for name in _USE_OPTIONS if getattr(args, name)]
    if args.likeness is None:
        if given or args.consent_override:
            raise UsageError(
                f"--{given[0] if given else 'consent-override'} describes a likeness use: "
                "add --likeness CONSENT_REF"
            )
        return None
    missing = [f"--{name}" for name in _USE_OPTIONS if not getattr(args, name)]
    if missing:
        raise UsageError(f"--likeness needs the use it is checked for: add {' '.join(missing)}")
    try:
        return consent.Use(args.likeness, args.licensee, args.purpose, args.medium, args.region)
    except AiWatermarkError as exc:
        raise UsageError(f"--likeness: {exc}") from None


def _check_label(text: str, font: str | None) -> None:
    """Reject a label that cannot be drawn once, before every file fails for it."""
    try:
        visible.add_label(Image.new("RGB", (1024, 1024), "grey"), text, font=font)
    except InvalidArgumentError as exc:
        hint = str(exc).replace("pass font=", "pass --font")
        raise UsageError(f"--label {text!r}: {hint}") from None


def _destinations(
    inputs: list[Input], output: str | None, out_dir: str | None
) -> list[tuple[Input, Path | None, str | None]]:
    """Pair each input with its output path, or with the reason it has none."""
    if output is not None:
        if len(inputs) != 1:
            raise UsageError(
                f"-o/--output takes one INPUT but {len(inputs)} were given; use --out-dir"
            )
        return [(inputs[0], Path(output), inputs[0].error)]
    assert out_dir is not None
    taken: dict[Path, Path] = {}
    plan: list[tuple[Input, Path | None, str | None]] = []
    for item in inputs:
        dst = Path(out_dir) / item.relative
        if dst.suffix.lower() not in _MARKABLE_SUFFIXES:
            dst = dst.with_suffix(".png")  # BMP, TIFF, GIF...: written as lossless PNG
        if item.error is None and dst in taken:
            plan.append((item, None, f"same output name as {str(taken[dst])!r}"))
            continue
        taken[dst] = item.path
        plan.append((item, dst, item.error))
    return plan


def run(args: argparse.Namespace) -> int:
    """Mark every INPUT as ``args`` says; 3 when any file failed, 130 after Ctrl-C.

    Example:
        >>> from aiwatermark.cli import main
        >>> main(["mark", "no-such-file.jpg", "-o", "out.jpg", "--no-c2pa"])
        3
    """
    if bool(args.cert) != bool(args.private_key):
        raise UsageError("--cert and --private-key go together; give both or neither")
    if args.no_c2pa and args.cert:
        raise UsageError("--no-c2pa turns signing off; drop --cert/--private-key")
    if args.no_c2pa and args.tsa_url:
        raise UsageError("--no-c2pa turns signing off, so nothing would be timestamped")
    label = None if args.no_label else args.label
    if label is not None:
        _check_label(label, args.font)
    likeness = _likeness_use(args)
    inputs = expand(args.inputs)
    if args.out_dir is not None and any(str(item.path) == STDIO for item in inputs):
        raise UsageError("INPUT - (stdin) has no name to keep in --out-dir; use -o OUTPUT")
    signer = _signer(args)
    if args.output == STDIO:
        return _mark_to_stdout(args, inputs, label, likeness, signer)
    plan = _destinations(inputs, args.output, args.out_dir)

    failures: list[tuple[Path, str]] = [(i.path, err) for i, _, err in plan if err]
    if args.json:
        for path, reason in failures:
            emit(error_row(str(path), f"{imageio.describe(path)}: {reason}"))
    todo: list[tuple[Path | bytes, Path]] = []
    names: list[Path] = []
    skipped = 0
    for item, dst, err in plan:
        if err is not None or dst is None:
            continue
        if args.skip_existing and dst.exists():
            skipped += 1  # written by an earlier run: complete, since every write is atomic
        else:
            todo.append((read_input(item.path), dst))
            names.append(item.path)

    progress = ProgressBar(len(todo), "image")
    # What was at each destination before: an atomic write replaces the file, so a changed
    # identity afterwards means this run wrote it, whether or not its result was reported.
    before = {dst: _identity(dst) for _, dst in todo}
    reported: set[Path] = set()
    failed = 0

    def emit_written(dst: Path, line: str) -> None:
        reported.add(dst)
        with progress.above():
            emit(line)  # a reader that went away (| head) stops the listing, never the batch

    def report(item: ItemResult[MarkResult]) -> None:
        nonlocal failed
        src, dst = names[item.index], item.destination
        assert dst is not None
        if isinstance(item.error, BatchStoppedError):
            return  # its partial output is gone; or it finished anyway: see below
        if item.error is not None:
            failed += 1
            failures.append((src, str(item.error)))
            if args.json:
                with progress.above():
                    emit(error_row(str(src), item.error))
            return
        assert item.result is not None
        line = (
            json_row(str(src), item.result.to_dict())
            if args.json
            else f"{dst}  content-id={item.result.content_id or '-'}  "
            f"layers={'+'.join(item.result.layers)}"
        )
        emit_written(dst, line)

    interrupted = False
    with mark_many(
        todo,
        jobs=args.jobs,
        ordered=False,
        progress=progress.update,
        overwrite=args.overwrite,
        **_mark_options(args, label, likeness, signer),
    ) as batch:
        try:
            for outcome in batch:
                with sigint_held():
                    report(outcome)
        except KeyboardInterrupt:
            interrupted = True
            with progress.above():
                print(
                    "aiwatermark: interrupted; letting the images in progress finish "
                    "(Ctrl-C again to abandon them)",
                    file=sys.stderr,
                )
            batch.stop()
            try:
                for outcome in batch:
                    with sigint_held():
                        report(outcome)
            except KeyboardInterrupt:
                batch.close()  # terminates them and removes their partial outputs
                for outcome in batch:
                    report(outcome)
    progress.close()
    # An image can finish in the instant Ctrl-C arrives (its result never collected, or
    # collected but not yet listed): its output is whole all the same, and must be listed.
    for src, (_, dst) in zip(names, todo, strict=True):
        if dst not in reported and _identity(dst) not in (None, before[dst]):
            line = (
                error_row(
                    str(src),
                    BatchStoppedError(
                        f"{dst} was written completely, but its details were lost when the "
                        "batch stopped"
                    ),
                )
                if args.json
                else f"{dst}  content-id=-  layers=-"
            )
            emit_written(dst, line)
    written = len(reported)

    target = args.output or args.out_dir
    done = f"marked {written} of {len(plan)} image(s) into {target}"
    if skipped:
        done += f"; {skipped} skipped, their outputs already exist"
    print(f"aiwatermark: {done}", file=sys.stderr)
    if failures:
        print(f"aiwatermark: {len(failures)} failed:", file=sys.stderr)
        for src, message in failures:
            print(f"  {src}: {_without_name(message, src)}", file=sys.stderr)
    if interrupted:
        print(
            f"aiwatermark: interrupted: {len(todo) - written - failed} image(s) not marked "
            "(every output written is listed above); run again with --skip-existing to finish",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return EXIT_INPUT_FAILED if failures else EXIT_OK


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino, stat.st_mtime_ns


def _mark_options(
    args: argparse.Namespace,
    label: str | None,
    likeness: consent.Use | None,
    signer: keys.Signer | bool | None,
) -> dict[str, Any]:
    """The options of :func:`aiwatermark.mark` the command line sets, for every image."""
    return {
        "label": label,
        "font": args.font,
        "watermark": not args.no_watermark,
        "key": env_key(args.key),
        "signer": signer,
        "generator": args.generator,
        "likeness": likeness,
        "consent_override": args.consent_override,
        "format": args.format,
        "store": args.store,
    }


def _mark_to_stdout(
    args: argparse.Namespace,
    inputs: list[Input],
    label: str | None,
    likeness: consent.Use | None,
    signer: keys.Signer | bool | None,
) -> int:
    """``-o -``: mark the one INPUT and write the image to stdout, for pipes."""
    if len(inputs) != 1:
        raise UsageError(f"-o - writes one image to stdout, but {len(inputs)} INPUTs were given")
    if args.json:
        raise UsageError("-o - writes the image to stdout, where --json would go; drop one")
    (item,) = inputs
    if item.error is not None:
        print(f"aiwatermark: {imageio.describe(item.path)}: {item.error}", file=sys.stderr)
        return EXIT_INPUT_FAILED
    try:
        result = _pipeline.mark(
            read_input(item.path), None, **_mark_options(args, label, likeness, signer)
        )
    except AiWatermarkError as exc:
        print(f"aiwatermark: {exc}", file=sys.stderr)
        return EXIT_INPUT_FAILED
    assert result.data is not None
    sys.stdout.buffer.write(result.data)
    sys.stdout.buffer.flush()
    print(
        f"aiwatermark: marked {item.path} to stdout ({result.format}, "
        f"content-id={result.content_id or '-'}, layers={'+'.join(result.layers)})",
        file=sys.stderr,
    )
    return EXIT_OK


def _without_name(message: str, src: Path) -> str:
    """Drop the leading file name from an error message that is already listed by name."""
    prefix = f"{imageio.describe(src)}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
