"""The ``aiwatermark`` command: mark images in batches, verify them, manage keys, run a demo.

Exit status: 0 when everything worked, 1 when some file failed (or, for ``verify
--require-disclosure``, carries no AI disclosure), 2 for usage errors and unexpected failures.

Example:
    >>> from aiwatermark.cli import main
    >>> main(["--version"])  # doctest: +ELLIPSIS
    aiwatermark ...
    0
"""

from __future__ import annotations

import argparse
import concurrent.futures
import glob
import json
import multiprocessing
import os
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from PIL import Image

from . import __version__, _pipeline, imageio, keys, provenance, visible
from .errors import AiWatermarkError, InvalidArgumentError

_EXIT_OK, _EXIT_FAILED, _EXIT_USAGE = 0, 1, 2
_MARKABLE_SUFFIXES = {
    suffix for suffix, fmt in imageio.SUFFIX_FORMATS.items() if fmt in _pipeline.MARKABLE_FORMATS
}

_MAIN_EPILOG = """\
examples:
  aiwatermark demo                                  # see every layer at work
  aiwatermark mark render.png -o render-marked.png
  aiwatermark mark 'renders/**/*.png' --out-dir marked/ --generator "SDXL 1.0" --jobs 4
  aiwatermark verify marked/*.png
  aiwatermark verify upload.jpg --json --require-disclosure

Run "aiwatermark COMMAND --help" for the options of each command.
"""

_MARK_EPILOG = """\
examples:
  aiwatermark mark render.png -o render-marked.png
  aiwatermark mark renders/ --out-dir marked/ --generator "SDXL 1.0" --jobs 4
  aiwatermark mark 'shots/*.jpg' --out-dir out/ --label "KI-generiert" --key "$WM_KEY"
  aiwatermark mark twin.png -o twin-marked.png --likeness consent.json \\
      --cert chain.pem --private-key signer.key

INPUT may be files, folders (searched recursively for .jpg/.png/.webp/...) or glob
patterns (quote them to let aiwatermark expand "**"). A file that fails is listed at the
end and does not stop the batch; the exit status is 1 if any file failed.
"""

_VERIFY_EPILOG = """\
examples:
  aiwatermark verify marked.jpg
  aiwatermark verify downloads/*.jpg --json > report.jsonl
  aiwatermark verify upload.jpg --require-disclosure --trust-anchors anchors.pem

Exit status 1 if a file cannot be read, or with --require-disclosure when a file carries no
AI disclosure in any layer.
"""

_KEYS_EPILOG = """\
examples:
  aiwatermark keys init           # create the local development signing identity
  aiwatermark keys init --force   # replace it

The development identity is self-signed: good for trying things out, not trusted by
anyone else. Use --cert/--private-key with "mark" for a certificate from a real CA.
"""

_DEMO_EPILOG = """\
examples:
  aiwatermark demo
  aiwatermark demo --out-dir /tmp/aiwatermark-demo
"""


class _UsageError(Exception):
    """A command-line mistake: reported on one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="aiwatermark",
        description="Mark AI-generated images (visible label, invisible watermark, metadata "
        "disclosure, signed C2PA Content Credentials) and verify them later.",
        epilog=_MAIN_EPILOG,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"aiwatermark {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    mark = commands.add_parser(
        "mark",
        help="mark images as AI-generated",
        epilog=_MARK_EPILOG,
        formatter_class=formatter,
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
    mark.add_argument("--cert", metavar="PEM", help="signing certificate chain (PEM)")
    mark.add_argument("--private-key", metavar="PEM", help="private key of --cert (PEM)")
    mark.add_argument(
        "--key",
        metavar="SECRET",
        help="watermark key (default: $AIWATERMARK_KEY, else the public key)",
    )
    mark.add_argument(
        "--likeness", metavar="FILE.json", help="likeness consent record for a digital twin (JSON)"
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
    mark.set_defaults(run=_run_mark)

    verify = commands.add_parser(
        "verify",
        help="check which AI disclosures an image carries",
        epilog=_VERIFY_EPILOG,
        formatter_class=formatter,
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
        "--require-disclosure",
        action="store_true",
        help="exit 1 when a file carries no AI disclosure",
    )
    verify.set_defaults(run=_run_verify)

    keys_cmd = commands.add_parser(
        "keys",
        help="manage the local signing identity",
        epilog=_KEYS_EPILOG,
        formatter_class=formatter,
        description="Manage the local development signing identity.",
    )
    keys_sub = keys_cmd.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    init = keys_sub.add_parser(
        "init",
        help="create the development signing identity",
        epilog=_KEYS_EPILOG,
        formatter_class=formatter,
        description="Create a self-signed development certificate and key for C2PA signing.",
    )
    init.add_argument("--force", action="store_true", help="replace an existing identity")
    init.set_defaults(run=_run_keys_init)

    demo = commands.add_parser(
        "demo",
        help="mark a sample image, share it, and verify both",
        epilog=_DEMO_EPILOG,
        formatter_class=formatter,
        description="Mark the bundled sample, make a re-encoded 'shared' copy with its "
        "metadata stripped, and show what verification finds in each.",
    )
    demo.add_argument(
        "--out-dir",
        default="aiwatermark-demo",
        metavar="DIR",
        help="where to write the images (default: ./aiwatermark-demo)",
    )
    demo.set_defaults(run=_run_demo)
    return parser


# --- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Input:
    """One file to process, or why an INPUT argument produced no file."""

    path: Path
    relative: Path
    error: str | None = None


def _expand(arguments: Iterable[str]) -> list[_Input]:
    found: list[_Input] = []
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
                found.append(_Input(path, Path(path.name), "folder holds no image files"))
            found.extend(_Input(p, p.relative_to(path)) for p in files)
        elif path.exists() or not any(char in argument for char in "*?["):
            found.append(_Input(path, Path(path.name)))
        else:
            matches = sorted(Path(m) for m in glob.glob(argument, recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                found.append(_Input(path, path, "no files match this pattern"))
            found.extend(_Input(m, Path(m.name)) for m in files)
    return found


def _env_key(key: str | None) -> str | None:
    return key if key is not None else os.environ.get("AIWATERMARK_KEY") or None


# --- progress -----------------------------------------------------------------------------


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


# --- mark ---------------------------------------------------------------------------------


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
    likeness: provenance.Likeness | None
    overwrite: bool


_signers: dict[tuple[str | None, str | None], keys.Signer] = {}


def _signer_for(options: _MarkOptions) -> keys.Signer | bool:
    if not options.c2pa:
        return False
    cache_key = (options.cert, options.private_key)
    if cache_key not in _signers:
        if options.cert and options.private_key:
            _signers[cache_key] = keys.Signer.from_files(options.cert, options.private_key)
        else:
            _signers[cache_key] = keys.dev_signer()
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
        overwrite=options.overwrite,
    )
    return result.content_id, "+".join(result.layers)


def _mark_one_safely(src: Path, dst: Path, options: _MarkOptions) -> tuple[str | None, str]:
    try:
        return _mark_one(src, dst, options)
    except AiWatermarkError:
        raise
    except Exception as exc:  # one odd file must not take the batch down
        raise AiWatermarkError(f"{imageio.describe(src)}: unexpected error: {exc!r}") from None


def _load_likeness(path: str) -> provenance.Likeness:
    try:
        return provenance.Likeness.from_json(path)
    except AiWatermarkError as exc:
        raise _UsageError(f"--likeness: {exc}") from None


def _check_label(text: str) -> None:
    """Reject a label that cannot be drawn once, before every file fails for it."""
    try:
        visible.add_label(Image.new("RGB", (1024, 1024), "grey"), text)
    except InvalidArgumentError as exc:
        raise _UsageError(f"--label {text!r}: {exc}") from None


def _destinations(
    inputs: list[_Input], output: str | None, out_dir: str | None
) -> list[tuple[_Input, Path | None, str | None]]:
    """Pair each input with its output path, or with the reason it has none."""
    if output is not None:
        if len(inputs) != 1:
            raise _UsageError(
                f"-o/--output takes one INPUT but {len(inputs)} were given; use --out-dir"
            )
        return [(inputs[0], Path(output), inputs[0].error)]
    assert out_dir is not None
    taken: dict[Path, Path] = {}
    plan: list[tuple[_Input, Path | None, str | None]] = []
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


def _run_mark(args: argparse.Namespace) -> int:
    if bool(args.cert) != bool(args.private_key):
        raise _UsageError("--cert and --private-key go together; give both or neither")
    if args.no_c2pa and args.cert:
        raise _UsageError("--no-c2pa turns signing off; drop --cert/--private-key")
    options = _MarkOptions(
        label=None if args.no_label else args.label,
        watermark=not args.no_watermark,
        c2pa=not args.no_c2pa,
        generator=args.generator,
        cert=args.cert,
        private_key=args.private_key,
        key=_env_key(args.key),
        likeness=_load_likeness(args.likeness) if args.likeness else None,
        overwrite=args.overwrite,
    )
    if options.label is not None:
        _check_label(options.label)
    plan = _destinations(_expand(args.inputs), args.output, args.out_dir)
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
            print(f"{dst}  content-id={content_id or '-'}  layers={layers}", flush=True)
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
        return _EXIT_FAILED
    return _EXIT_OK


def _without_name(message: str, src: Path) -> str:
    """Drop the leading file name from an error message that is already listed by name."""
    prefix = f"{imageio.describe(src)}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


# --- verify -------------------------------------------------------------------------------


def _run_verify(args: argparse.Namespace) -> int:
    status = _EXIT_OK
    key = _env_key(args.key)
    for item in _expand(args.inputs):
        name = str(item.path)
        try:
            if item.error:
                raise AiWatermarkError(f"{imageio.describe(name)}: {item.error}")
            report = _pipeline.verify(item.path, key=key, trust_anchors=args.trust_anchors)
        except AiWatermarkError as exc:
            status = _EXIT_FAILED
            print(f"aiwatermark: {exc}", file=sys.stderr)
            if args.json:
                print(json.dumps({"file": name, "error": str(exc)}), flush=True)
            continue
        if args.json:
            print(json.dumps({"file": name, **report.to_dict()}), flush=True)
        else:
            print(f"{name}\n{_indent(report.summary())}\n", flush=True)
        if args.require_disclosure and report.ai_generated is not True:
            status = _EXIT_FAILED
            print(f"aiwatermark: {name!r} carries no AI disclosure", file=sys.stderr)
    return status


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line else line for line in text.splitlines())


# --- keys, demo ---------------------------------------------------------------------------


def _run_keys_init(args: argparse.Namespace) -> int:
    identity = keys.init_dev_identity(force=args.force)
    state = "created" if identity.created else "already exists (use --force to replace it)"
    print(f"development signing identity {state}: {identity.directory}")
    print(f"  certificate chain: {identity.cert_chain}")
    print(f"  private key:       {identity.private_key}")
    print(f"  root certificate:  {identity.root_certificate} (trust anchor for tests only)")
    return _EXIT_OK


def _run_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    run_demo(Path(args.out_dir), sys.stdout)
    return _EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``aiwatermark`` command line and return its exit status.

    Example:
        >>> from aiwatermark.cli import main
        >>> main(["verify", "no-such-file.jpg"])
        1
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code) if isinstance(exc.code, int) else _EXIT_USAGE
    try:
        return int(args.run(args))
    except _UsageError as exc:
        print(f"aiwatermark: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    except AiWatermarkError as exc:
        print(f"aiwatermark: {exc}", file=sys.stderr)
        return _EXIT_FAILED
    except KeyboardInterrupt:
        print("aiwatermark: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"aiwatermark: unexpected error: {exc!r} (please report it)", file=sys.stderr)
        return _EXIT_USAGE


__all__ = ["main"]
