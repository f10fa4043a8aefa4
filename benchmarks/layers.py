"""What survives what: which layers ``aiwatermark.verify`` still reports after everyday edits.

Each image is marked through the public API (``aiwatermark.mark(src, dst,
generator="benchmark")``: label, watermark, metadata disclosure, C2PA signed with the
development identity, manifest saved in the store), the marked file is transformed, and the
result is read back with ``aiwatermark.verify(path)``. ``AIWATERMARK_HOME`` points at a
temporary directory, so the manifest store and the development identity are this run's own.

Transformations (``--transforms`` picks some by the names below):

- ``copy``: the marked file copied byte for byte;
- ``jpeg75``: decoded and re-encoded by Pillow as JPEG quality 75;
- ``share``: a social-network share: fit in 1080 px (downscale only, Lanczos), JPEG 75;
- ``resize50``: Lanczos to 50 % of each side;
- ``crop80``: crop keeping 80 % of the area (each side × √0.8) at the bottom-right corner,
  where ``mark`` puts the label by default;
- ``rotate5``: 5° bicubic rotation on the same canvas, black corners;
- ``screenshot``: scaled × 0.9 (Lanczos), saved as PNG;
- ``strip``: ``exiftool -all= -o out in`` (the pixels are untouched); the row is skipped
  with a note when ``exiftool`` is not installed, and a file exiftool cannot write (WebP
  with exiftool 12.57) is left out of the row with a note.

Every pixel edit writes a fresh image without metadata, as platforms and most scripts do;
``resize50``, ``crop80`` and ``rotate5`` keep the marked file's format (JPEG and WebP at
quality 90, Pillow's default 4:2:0 chroma subsampling for JPEG).

Per (transformation, layer) the table gives the fraction of images where ``verify`` reports
the layer:

- label: ``report.label.found``;
- watermark: detected, with the content ID ``mark`` embedded (any other ID counts as missed
  and is listed as a wrong read);
- metadata: ``report.disclosure.ai_generated``;
- embedded C2PA: the manifest came from the file and is intact (state Valid or Trusted; the
  development identity gives Valid), i.e. not tampered;
- recovered C2PA: the manifest was recovered from the store (via the watermark, or via the
  fingerprint when the watermark is gone), its signature and claim hold, the fingerprint it
  signs matches the pixels and its soft binding matches any watermark (``report.consistent``
  is not False); "n/a"
  when every image still had an intact embedded manifest, so nothing needed recovering;
- verify says AI: ``report.ai_generated is True``.

Below the table: the median ``mark`` and ``verify`` times, and every miss by image.

Images (19): the three bundled photos in ``fixtures/`` (JPEG 512 px, PNG 600 px, WebP
451 px), marked in their own format; and scikit-image's astronaut, coffee, chelsea and
rocket, each upscaled (Lanczos) to 1024 px on the long side and at its own size (451–640
px), each marked once as JPEG and once as PNG. ``--quick`` keeps the three fixtures.

Example:
    python benchmarks/layers.py
    python benchmarks/layers.py --markdown /tmp/layers.md
    python benchmarks/layers.py --quick --transforms copy share strip
"""

from __future__ import annotations

import argparse
import io
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image

import aiwatermark

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FIXTURE_FILES = ("astronaut.jpg", "coffee.png", "chelsea.webp")
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
UPSCALED_SIDE = 1024
EDIT_QUALITY = 90
RESAMPLE = Image.Resampling.LANCZOS

LAYERS = ("label", "watermark", "metadata", "embedded C2PA", "recovered C2PA", "verify says AI")

Transform = Callable[[Path, Path], None]
"""Write the transformed ``src`` file to ``dst`` (whose suffix is chosen by the transform)."""


def _pixels(path: Path) -> Image.Image:
    """The decoded RGB pixels with every piece of metadata Pillow read dropped."""
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    rgb.info = {}
    return rgb


def _save(im: Image.Image, dst: Path, fmt: str, quality: int = EDIT_QUALITY) -> None:
    buffer = io.BytesIO()
    if fmt in ("JPEG", "WEBP"):
        im.save(buffer, fmt, quality=quality)
    else:
        im.save(buffer, fmt)
    dst.write_bytes(buffer.getvalue())


def _format_of(path: Path) -> str:
    with Image.open(path) as im:
        return im.format or "PNG"


def _copy(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)


def _jpeg75(src: Path, dst: Path) -> None:
    _save(_pixels(src), dst, "JPEG", quality=75)


def _share(src: Path, dst: Path) -> None:
    im = _pixels(src)
    fit = min(1.0, 1080 / max(im.size))
    if fit < 1.0:
        im = im.resize((round(im.width * fit), round(im.height * fit)), RESAMPLE)
    _save(im, dst, "JPEG", quality=75)


def _resize50(src: Path, dst: Path) -> None:
    im = _pixels(src)
    _save(im.resize((round(im.width / 2), round(im.height / 2)), RESAMPLE), dst, _format_of(src))


def _crop80(src: Path, dst: Path) -> None:
    im = _pixels(src)
    side = math.sqrt(0.8)
    w, h = round(im.width * side), round(im.height * side)
    _save(im.crop((im.width - w, im.height - h, im.width, im.height)), dst, _format_of(src))


def _rotate5(src: Path, dst: Path) -> None:
    im = _pixels(src).rotate(
        5, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=(0, 0, 0)
    )
    _save(im, dst, _format_of(src))


def _screenshot(src: Path, dst: Path) -> None:
    im = _pixels(src)
    _save(im.resize((round(im.width * 0.9), round(im.height * 0.9)), RESAMPLE), dst, "PNG")


class CannotTransform(Exception):
    """The tool behind a transformation cannot handle this file; the image is left out."""


def _strip(src: Path, dst: Path) -> None:
    # -o writes a new file and refuses an existing one; dst is always fresh here.
    done = subprocess.run(
        ["exiftool", "-q", "-all=", "-o", str(dst), str(src)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not dst.is_file():
        raise CannotTransform(f"exiftool: {done.stderr.strip() or done.returncode}")


@dataclass(frozen=True)
class Transformation:
    name: str
    title: str
    apply: Transform
    suffix: str | None
    """The output suffix, or None for the marked file's own."""


TRANSFORMATIONS = (
    Transformation("copy", "copy the file unchanged", _copy, None),
    Transformation("jpeg75", "JPEG re-encode, quality 75", _jpeg75, ".jpg"),
    Transformation(
        "share", "social-network share (fit 1080, JPEG 75, metadata stripped)", _share, ".jpg"
    ),
    Transformation("resize50", "resize to 50 %", _resize50, None),
    Transformation("crop80", "crop 80 % (label kept)", _crop80, None),
    Transformation("rotate5", "rotate 5°", _rotate5, None),
    Transformation("screenshot", "screenshot (PNG, scaled ×0.9)", _screenshot, ".png"),
    Transformation("strip", "strip metadata only (exiftool -all=)", _strip, None),
)


@dataclass(frozen=True)
class Case:
    """One image to mark: the input file and the format ``mark`` writes (by suffix)."""

    name: str
    src: Path
    suffix: str


def cases(workdir: Path) -> list[Case]:
    """The fixtures as they are, then each scikit-image photo at 1024 px and at its own size,
    written as lossless PNG and marked both as JPEG and as PNG."""
    from skimage import data

    out = [Case(name, FIXTURES / name, Path(name).suffix) for name in FIXTURE_FILES]
    for name in SKIMAGE_PHOTOS:
        photo = Image.fromarray(np.asarray(getattr(data, name)(), dtype=np.uint8)).convert("RGB")
        scale = UPSCALED_SIDE / max(photo.size)
        sizes = {
            str(UPSCALED_SIDE): photo.resize(
                (round(photo.width * scale), round(photo.height * scale)), RESAMPLE
            ),
            "native": photo,
        }
        for size, image in sizes.items():
            src = workdir / f"{name}-{size}.png"
            image.save(src)
            out.extend(Case(f"{name}-{size}{suffix}", src, suffix) for suffix in (".jpg", ".png"))
    return out


@dataclass
class Row:
    hits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LAYERS, 0))
    images: int = 0
    embedded_everywhere: bool = True
    misses: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    tampered: list[str] = field(default_factory=list)
    skipped: str | None = None

    def cell(self, layer: str) -> str:
        if self.skipped is not None:
            return "skipped"
        if layer == "recovered C2PA" and self.embedded_everywhere:
            return "n/a"
        return f"{self.hits[layer] / self.images:.2f}" if self.images else "–"


def layers_reported(
    report: aiwatermark.VerificationReport, payload: bytes | None
) -> dict[str, bool]:
    """Which layers ``report`` reports, by the definitions in this module's docstring."""
    mark = report.watermark
    manifest = report.provenance
    return {
        "label": report.label is not None and report.label.found,
        "watermark": mark is not None and mark.detected and mark.payload == payload,
        "metadata": report.disclosure is not None and report.disclosure.ai_generated,
        "embedded C2PA": report.manifest_origin == "embedded"
        and manifest is not None
        and manifest.state in ("Valid", "Trusted")
        and not report.tampered,
        "recovered C2PA": report.manifest_origin == "recovered" and report.consistent is not False,
        "verify says AI": report.ai_generated is True,
    }


def run(
    images: Sequence[Case], transformations: Sequence[Transformation], workdir: Path
) -> tuple[dict[str, Row], list[float], list[float], list[str]]:
    rows = {t.name: Row() for t in transformations}
    mark_s: list[float] = []
    verify_s: list[float] = []
    wrong: list[str] = []
    exiftool = shutil.which("exiftool")
    for t in transformations:
        if t.name == "strip" and exiftool is None:
            rows[t.name].skipped = "exiftool is not installed"
    for index, case in enumerate(images):
        marked = workdir / f"{index}-marked{case.suffix}"
        start = time.perf_counter()
        result = aiwatermark.mark(case.src, marked, generator="benchmark")
        mark_s.append(time.perf_counter() - start)
        for t in transformations:
            row = rows[t.name]
            if row.skipped is not None:
                continue
            out = workdir / f"{index}-{t.name}{t.suffix or marked.suffix}"
            try:
                t.apply(marked, out)
            except CannotTransform as exc:
                row.left_out.append(f"{case.name} ({exc})")
                continue
            start = time.perf_counter()
            report = aiwatermark.verify(out)
            verify_s.append(time.perf_counter() - start)
            seen = layers_reported(report, result.payload)
            row.images += 1
            row.embedded_everywhere &= seen["embedded C2PA"]
            for layer, ok in seen.items():
                row.hits[layer] += ok
            if report.tampered:
                row.tampered.append(case.name)
            missed = [
                layer
                for layer, ok in seen.items()
                # Recovery is only tried when the file has no manifest of its own.
                if not ok and not (layer == "recovered C2PA" and seen["embedded C2PA"])
            ]
            if missed:
                row.misses.append(f"{case.name}: {', '.join(missed)}")
            if report.watermark is not None and report.watermark.detected and not seen["watermark"]:
                wrong.append(f"{t.name} on {case.name}: read {report.content_id}")
    return rows, mark_s, verify_s, wrong


def table(rows: dict[str, Row], transformations: Sequence[Transformation]) -> str:
    lines = [
        "| transformation | " + " | ".join(LAYERS) + " |",
        "|---" * (len(LAYERS) + 1) + "|",
    ]
    for t in transformations:
        row = rows[t.name]
        lines.append(f"| {t.title} | " + " | ".join(row.cell(layer) for layer in LAYERS) + " |")
    return "\n".join(lines)


def _median_ms(seconds: list[float]) -> str:
    return f"{1000 * statistics.median(seconds):.0f} ms" if seconds else "–"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the three fixtures")
    parser.add_argument(
        "--transforms",
        nargs="+",
        choices=[t.name for t in TRANSFORMATIONS],
        metavar="NAME",
        help="transformations to run (default all): " + ", ".join(t.name for t in TRANSFORMATIONS),
    )
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write the table here")
    args = parser.parse_args(argv)
    transformations = [
        t for t in TRANSFORMATIONS if args.transforms is None or t.name in args.transforms
    ]

    with tempfile.TemporaryDirectory(prefix="aiwatermark-layers-") as tmp:
        workdir = Path(tmp)
        # Isolates the manifest store and the development identity from the user's own.
        os.environ["AIWATERMARK_HOME"] = str(workdir / "home")
        images = cases(workdir)
        if args.quick:
            images = images[:3]
        started = time.perf_counter()
        rows, mark_s, verify_s, wrong = run(images, transformations, workdir)
        elapsed = time.perf_counter() - started

    image_set = (
        "the three fixtures"
        if args.quick
        else "the 3 fixtures, plus scikit-image's astronaut, coffee, chelsea and rocket at "
        f"{UPSCALED_SIDE} px and at their own size, each marked as JPEG and as PNG"
    )
    summary = [
        table(rows, transformations),
        "",
        f"{len(images)} images ({image_set}), "
        f"measured {date.today().isoformat()}; median mark {_median_ms(mark_s)}, "
        f"median verify {_median_ms(verify_s)}.",
    ]
    summary.extend(
        f"Skipped {t.title}: {rows[t.name].skipped}."
        for t in transformations
        if rows[t.name].skipped is not None
    )
    summary.extend(
        f"verify reported the embedded manifest as tampered after {t.title}: "
        f"{', '.join(rows[t.name].tampered)}."
        for t in transformations
        if rows[t.name].tampered
    )
    summary.extend(
        f"Left out of {t.title}: {'; '.join(rows[t.name].left_out)}."
        for t in transformations
        if rows[t.name].left_out
    )
    text = "\n".join(summary)
    print(text)
    print(f"\nwrong watermark reads: {len(wrong)}")
    for line in wrong:
        print(f"  {line}")
    print("misses (layers not reported):")
    for t in transformations:
        for miss in rows[t.name].misses:
            print(f"  {t.name}: {miss}")
    print(f"run time {elapsed:.0f} s", file=sys.stderr)
    if args.markdown is not None:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
