"""``aiwatermark mark``: apply every disclosure layer to a batch of images."""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import sys
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from PIL import Image

from .. import _pipeline, consent, imageio, keys, visible
from ..errors import AiWatermarkError, InvalidArgumentError
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    FORMATTER,
    Input,
    UsageError,
    emit,
    env_key,
    expand,
)

_MARKABLE_SUFFIXES = {
    suffix for suffix, fmt in imageio.SUFFIX_FORMATS.items() if fmt in _pipeline.MARKABLE_FORMATS
}

EPILOG = """\
examples:
  aiwatermark mark render.png -o render-marked.png
  aiwatermark mark renders/ --out-dir marked/ --generator "SDXL 1.0" --jobs 4
  aiwatermark mark 'shots/*.jpg' --out-dir out/ --label "KI-generiert" --key "$WM_KEY"
  aiwatermark mark twin.png -o twin-marked.png --cert chain.pem --private-key signer.key \\
      --likeness ava-2026-001 --licensee "Maison Example" --purpose advertising \\
      --medium web --region EU

INPUT may be files, folders (searched recursively for .jpg/.png/.webp/...) or glob
patterns (quote them to let aiwatermark expand "**"). A file that fails is listed at the
end and does not stop the batch; the exit status is 1 if any file failed.
"""


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
    mark.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or globs")
    where = mark.add_mutually_exclusive_group(required=True)
    where.add_argument("-o", "--output", metavar="OUTPUT", help="output file (one INPUT only)")
    where.add_argument("--out-dir", metavar="DIR", help="folder for the marked copies")
    text = mark.add_mutually_exclusive_group()
    text.add_argument(
        "--label",
        default="AI-generated",
        metavar="TEXT",
        help='visible label text (default: "AI-generated")',
    )
    text.add_argument("--no-label", action="store_true", help="no visible label")
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
    mark.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=1,
        metavar="N",
        help="images marked in parallel (0 = one per CPU; default 1)",
    )
    mark.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing outputs (and inputs, when written in place)",
    )
    mark.set_defaults(run=run)


class _Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self._total, self._done, self._stream = total, 0, stream
        self._active = stream.isatty() and total > 1

    def advance(self, name: str) -> None:
        self._done += 1
        if self._active:
            width = 30
            filled = width * self._done // self._total
            bar = "#" * filled + "-" * (width - filled)
            self._stream.write(f"\r\033[K[{bar}] {self._done}/{self._total} {name[-40:]}")
            self._stream.flush()

    def clear(self) -> None:
        if self._active:
            self._stream.write("\r\033[K")
            self._stream.flush()


@dataclass(frozen=True)
class _MarkOptions:
    """Everything a worker process needs to mark one image (picklable)."""

    label: str | None
    watermark: bool
    c2pa: bool
    generator: str | None
    cert: str | None
    private_key: str | None
    key: str | None
    likeness: consent.Use | None
    overwrite: bool
    store: str | None = None
    consent_override: str | None = None
    tsa_url: str | None = None


_signers: dict[tuple[str | None, str | None, str | None], keys.Signer] = {}


def _signer_for(options: _MarkOptions) -> keys.Signer | bool:
    if not options.c2pa:
        return False
    cache_key = (options.cert, options.private_key, options.tsa_url)
    if cache_key not in _signers:
        if options.cert and options.private_key:
            _signers[cache_key] = keys.Signer.from_files(
                options.cert, options.private_key, tsa_url=options.tsa_url
            )
        else:
            _signers[cache_key] = keys.dev_signer(tsa_url=options.tsa_url)
    return _signers[cache_key]


def _mark_one(src: Path, dst: Path, options: _MarkOptions) -> tuple[str | None, str]:
    """Mark one file; returns (content ID, layers) or raises AiWatermarkError."""
    result = _pipeline.mark(
        src,
        dst,
        label=options.label,
        watermark=options.watermark,
        key=options.key,
        signer=_signer_for(options),
        generator=options.generator,
        likeness=options.likeness,
        consent_override=options.consent_override,
        overwrite=options.overwrite,
        store=options.store,
    )
    return result.content_id, "+".join(result.layers)


def _mark_one_safely(src: Path, dst: Path, options: _MarkOptions) -> tuple[str | None, str]:
    try:
        return _mark_one(src, dst, options)
    except AiWatermarkError:
        raise
    except Exception as exc:  # one odd file must not take the batch down
        raise AiWatermarkError(f"{imageio.describe(src)}: unexpected error: {exc!r}") from None


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


def _check_label(text: str) -> None:
    """Reject a label that cannot be drawn once, before every file fails for it."""
    try:
        visible.add_label(Image.new("RGB", (1024, 1024), "grey"), text)
    except InvalidArgumentError as exc:
        raise UsageError(f"--label {text!r}: {exc}") from None


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
    """Mark every INPUT as ``args`` says; 1 when any file failed.

    Example:
        >>> from aiwatermark.cli import main
        >>> main(["mark", "no-such-file.jpg", "-o", "out.jpg", "--no-c2pa"])
        1
    """
    if bool(args.cert) != bool(args.private_key):
        raise UsageError("--cert and --private-key go together; give both or neither")
    if args.no_c2pa and args.cert:
        raise UsageError("--no-c2pa turns signing off; drop --cert/--private-key")
    if args.no_c2pa and args.tsa_url:
        raise UsageError("--no-c2pa turns signing off, so nothing would be timestamped")
    options = _MarkOptions(
        label=None if args.no_label else args.label,
        watermark=not args.no_watermark,
        c2pa=not args.no_c2pa,
        generator=args.generator,
        cert=args.cert,
        private_key=args.private_key,
        key=env_key(args.key),
        likeness=_likeness_use(args),
        overwrite=args.overwrite,
        store=args.store,
        consent_override=args.consent_override,
        tsa_url=args.tsa_url,
    )
    if options.label is not None:
        _check_label(options.label)
    plan = _destinations(expand(args.inputs), args.output, args.out_dir)
    # Load or create the signer once, here, so a bad certificate is one error (not one per
    # file) and parallel workers never race to create the development identity.
    _signer_for(options)

    failures: list[tuple[Path, str]] = [(i.path, err) for i, _, err in plan if err]
    todo = [(i.path, dst) for i, dst, err in plan if err is None and dst is not None]
    progress = _Progress(len(todo), sys.stderr)
    done = 0

    def report(src: Path, dst: Path, outcome: tuple[str | None, str] | str) -> None:
        nonlocal done
        progress.clear()
        if isinstance(outcome, str):
            failures.append((src, outcome))
        else:
            done += 1
            content_id, layers = outcome
            # A reader that went away (| head) stops the listing, never the batch.
            emit(f"{dst}  content-id={content_id or '-'}  layers={layers}")
        progress.advance(src.name)

    jobs = args.jobs if args.jobs > 0 else (os.cpu_count() or 1)
    if jobs == 1 or len(todo) <= 1:
        for src, dst in todo:
            try:
                report(src, dst, _mark_one_safely(src, dst, options))
            except AiWatermarkError as exc:
                report(src, dst, str(exc))
    else:
        # spawn, not fork: the C2PA library's native threads do not survive a fork.
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(min(jobs, len(todo)), context) as pool:
            futures = {
                pool.submit(_mark_one_safely, src, dst, options): (src, dst) for src, dst in todo
            }
            for future in concurrent.futures.as_completed(futures):
                src, dst = futures[future]
                try:
                    report(src, dst, future.result())
                except AiWatermarkError as exc:
                    report(src, dst, str(exc))
                except BrokenProcessPool:
                    report(src, dst, f"{imageio.describe(src)}: worker process crashed")
    progress.clear()

    total = len(plan)
    target = args.output or args.out_dir
    print(f"aiwatermark: marked {done} of {total} image(s) into {target}", file=sys.stderr)
    if failures:
        print(f"aiwatermark: {len(failures)} failed:", file=sys.stderr)
        for src, message in failures:
            print(f"  {src}: {_without_name(message, src)}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _without_name(message: str, src: Path) -> str:
    """Drop the leading file name from an error message that is already listed by name."""
    prefix = f"{imageio.describe(src)}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
