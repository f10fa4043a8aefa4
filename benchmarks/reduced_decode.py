"""Do the pixel layers read a reduced decode of a large file as they read the full decode?

``aiwatermark.verify`` decodes large files at a reduced size (``imageio.open_reduced``: JPEG
DCT scaling, PNG band by band; the short side stays >= 1024 px). This compares, on real
photographs, what the watermark, the label search and the fingerprint report on that
reduced decode and on the full decode of the same file.

Photos: the bundled fixtures and scikit-image's photographs, enlarged (Lanczos) to a short
side of ``--sides`` (default 2400 and 4400 px: JPEG decoded at 1/2 and 1/4, PNG shrunk by 2
and 4), marked with ``aiwatermark.mark`` (label, watermark; no C2PA, no store), saved as
JPEG (quality 90) and PNG, then put through the attacks of ``attacks.py`` and saved again in
the same format. Per format and side, the table counts the cases where:

- watermark: full and reduced decode agree (both found with the same payload, or both not);
  "found" is how many found the embedded payload on the full / reduced decode;
- label: both found or both not; the largest score difference (photo, attack: full /
  reduced score);
- fingerprint: PDQ distance between the fingerprints of the two decodes (median, max), and
  the largest distance of each to the marked file's fingerprint.

Run: python benchmarks/reduced_decode.py [--sides 2400 4400] [--attacks none "jpeg q50" ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from attacks import select

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PHOTOS = ("astronaut.jpg", "coffee.png", "chelsea.webp", "rocket", "motorcycle")


def photo(name: str) -> Image.Image:
    if (FIXTURES / name).exists():
        with Image.open(FIXTURES / name) as im:
            return im.convert("RGB")
    import skimage.data

    arr = (
        skimage.data.stereo_motorcycle()[0]
        if name == "motorcycle"
        else getattr(skimage.data, name)()
    )
    return Image.fromarray(arr).convert("RGB")


def enlarged(image: Image.Image, side: int) -> Image.Image:
    scale = side / min(image.size)
    size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, Image.Resampling.LANCZOS)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[2400, 4400])
    parser.add_argument("--attacks", nargs="+", help="attack names from attacks.py (default all)")
    parser.add_argument("--photos", nargs="+", default=list(PHOTOS))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="aiwatermark-bench-"))
    os.environ["AIWATERMARK_HOME"] = str(work / "home")
    import aiwatermark
    from aiwatermark import fingerprint, imageio, invisible, visible

    attacks = select(args.attacks)
    rows = []
    for fmt, suffix in (("JPEG", ".jpg"), ("PNG", ".png")):
        for side in args.sides:
            agree = found_full = found_reduced = label_agree = cases = 0
            score_diff, worst = 0.0, ""
            pdq_between: list[int] = []
            pdq_full_max = pdq_reduced_max = 0
            for index, name in enumerate(args.photos):
                source = work / f"source{suffix}"
                enlarged(photo(name), side).save(source, quality=95)
                marked = work / f"marked{suffix}"
                result = aiwatermark.mark(source, marked, signer=False, store=False, overwrite=True)
                original = fingerprint.compute(imageio.open(marked))
                for number, attack in enumerate(attacks):
                    rng = np.random.default_rng([index, number])
                    with Image.open(marked) as im:
                        attacked = attack.apply(im.convert("RGB"), rng)
                    path = work / f"attacked{suffix}"
                    attacked.save(path, quality=90)
                    del attacked
                    full = imageio.open(path)
                    reduced, size = imageio.open_reduced(path)
                    a, b = invisible.detect(full), invisible.detect(reduced)
                    cases += 1
                    agree += (a.detected, a.payload) == (b.detected, b.payload)
                    found_full += a.payload == result.payload
                    found_reduced += b.payload == result.payload
                    la = visible.detect_label(full)
                    lb = visible.detect_label(reduced, full_size=size)
                    label_agree += la.found == lb.found
                    if abs(la.score - lb.score) > score_diff:
                        score_diff = abs(la.score - lb.score)
                        worst = f" ({name}, {attack.name}: {la.score:.3f} / {lb.score:.3f})"
                    fa, fb = fingerprint.compute(full), fingerprint.compute(reduced)
                    pdq_between.append(fa.distance(fb))
                    pdq_full_max = max(pdq_full_max, fa.distance(original))
                    pdq_reduced_max = max(pdq_reduced_max, fb.distance(original))
                    del full, reduced
                print(f"{fmt} {side}: {name} done", file=sys.stderr)
            rows.append(
                [
                    fmt,
                    str(side),
                    str(cases),
                    f"{agree} ({found_full} / {found_reduced})",
                    f"{label_agree}, Δscore ≤ {score_diff:.3f}{worst}",
                    f"{statistics.median(pdq_between):.0f} / {max(pdq_between)}",
                    f"{pdq_full_max} / {pdq_reduced_max}",
                ]
            )
    print(
        "| format | short side | cases | watermark agree (found full / reduced) "
        "| label agree | PDQ full↔reduced median / max | PDQ to marked max, full / reduced |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
