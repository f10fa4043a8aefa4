"""Collusion, removal and copy attacks on the invisible watermark, and what PDQ still sees.

Every attack uses only the public API and the published design (``tests/adversary.py``).
All photographs are 512×512 (scikit-image's bundled photos, centre-cropped and resized, two
native 512-pixel crops of the large ones, and ``fixtures/astronaut.jpg``), so the mark's
128-pixel tile is 128 image pixels. Each photo is marked twice, with the public key and
with a secret key, under seeded random 64-bit payloads. Three tables:

1. Collusion: the attacker averages the folded, band-passed tiles of N *other* marked
   images (same key, different payloads; the victim is never one of them; "own tile" uses
   only the victim itself) and subtracts the average with a gain. Per N and key: the
   largest PSNR (against the marked victim) at which ``detect`` no longer finds the mark —
   the gain is swept upwards on a geometric grid and the first miss counts — the detection
   rate at fixed gains, and the PDQ distance from each de-marked image to the marked one.
2. Removal by re-embedding: ``2·marked − embed(marked, id)`` with the public key, and the
   same with a wrong guess of a secret key.
3. Copy: (a) read the ID with the public key and embed it into another photo; (b) with a
   secret key, fold one (original, marked) difference into a tile and add it to another
   photo at a chosen PSNR. Success means ``detect`` reads the source's ID on the forgery.

A PDQ distance at most ``fingerprint.MATCH_THRESHOLD`` means a fingerprint registry still
recognises the image as the registered one.

Example:
    python benchmarks/collusion.py --quick
    python benchmarks/collusion.py --markdown /tmp/collusion.md --seed 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import skimage.data
import skimage.io

from aiwatermark import fingerprint, invisible

# The attack primitives live with the tests, which use them too; this script is run directly.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import adversary as adv

SECRET_KEY = "collusion-benchmark-secret-key"
WRONG_GUESS = "collusion-benchmark-wrong-guess"
KEYS: tuple[tuple[str, str | None], ...] = (("public", None), ("secret", SECRET_KEY))

SKIMAGE_DIR = Path(skimage.data.__file__).parent
FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "astronaut.jpg"
# name: (file, crop) — crop None: centre square resized to 512; else the native 512-pixel
# square at that (row, col) corner. Read straight from the wheel's data folder: no download.
PHOTOS: dict[str, tuple[Path, tuple[int, int] | None]] = {
    "astronaut": (SKIMAGE_DIR / "astronaut.png", None),
    "coffee": (SKIMAGE_DIR / "coffee.png", None),
    "chelsea": (SKIMAGE_DIR / "chelsea.png", None),
    "rocket": (SKIMAGE_DIR / "rocket.jpg", None),
    "camera": (SKIMAGE_DIR / "camera.png", None),
    "motorcycle": (SKIMAGE_DIR / "motorcycle_left.png", None),
    "immunohistochemistry": (SKIMAGE_DIR / "ihc.png", None),
    "hubble_deep_field": (SKIMAGE_DIR / "hubble_deep_field.jpg", None),
    "retina": (SKIMAGE_DIR / "retina.jpg", None),
    "moon": (SKIMAGE_DIR / "moon.png", None),
    "coins": (SKIMAGE_DIR / "coins.png", None),
    "brick": (SKIMAGE_DIR / "brick.png", None),
    "grass": (SKIMAGE_DIR / "grass.png", None),
    "gravel": (SKIMAGE_DIR / "gravel.png", None),
    "clock": (SKIMAGE_DIR / "clock_motion.png", None),
    "cell": (SKIMAGE_DIR / "cell.png", None),
    "hubble_crop": (SKIMAGE_DIR / "hubble_deep_field.jpg", (100, 100)),
    "retina_crop": (SKIMAGE_DIR / "retina.jpg", (450, 450)),
    "astronaut.jpg": (FIXTURE, None),
}
SAME_PICTURE = {"astronaut.jpg": "astronaut"}
"""The fixture is the scikit-image astronaut re-encoded: never pair the two."""
POOL = tuple(name for name in PHOTOS if name != "astronaut.jpg")
"""Colluders and copy targets: every photo except the fixture."""
VICTIMS = ("astronaut.jpg", "coffee", "chelsea", "rocket", "camera", "motorcycle")
"""Victims and copy sources: photos with PDQ quality ≥ 50 (the clock photo is too flat)."""

COLLUDERS = (0, 1, 2, 4, 8, 13, 16)
"""0 means the victim's own tile only: no other image."""
GAINS = tuple(float(g) for g in np.round(0.2 * 1.09 ** np.arange(40), 3))
"""Subtraction gains swept upwards (steps of 0.75 dB in PSNR), 0.2 to ~5."""
FIXED_GAINS = (0.75, 1.0, 1.5)
COPY_PSNRS = (38.0, 40.0, 42.0, 46.0, 50.0)


def load(name: str) -> adv.Pixels:
    path, corner = PHOTOS[name]
    pixels = adv.as_pixels(skimage.io.imread(path))
    if corner is None:
        return adv.square_photo(pixels)
    row, col = corner
    return pixels[row : row + 512, col : col + 512].copy()


def picture(name: str) -> str:
    return SAME_PICTURE.get(name, name)


@dataclass(frozen=True)
class Marked:
    original: adv.Pixels
    marked: adv.Pixels
    payload: bytes


def mark_all(names: Sequence[str], seed: int) -> dict[tuple[str, str], Marked]:
    """Every photo marked with each key, under a payload seeded by (seed, key, photo)."""
    out: dict[tuple[str, str], Marked] = {}
    for k, (label, key) in enumerate(KEYS):
        for i, name in enumerate(names):
            original = load(name)
            payload = np.random.default_rng([seed, k, i]).bytes(8)
            marked = adv.as_pixels(invisible.embed(original, payload, key=key))
            out[label, name] = Marked(original, marked, payload)
    return out


def pdq_distance(a: adv.Pixels, b: adv.Pixels) -> int:
    return fingerprint.compute(a).distance(fingerprint.compute(b))


def _median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.1f}" if values else "–"


def _span(values: Sequence[float], digits: int = 1) -> str:
    if not values:
        return "–"
    low, high = min(values), max(values)
    return f"{statistics.median(values):.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


def _rate(hits: Iterable[bool]) -> str:
    flags = list(hits)
    return f"{sum(flags)}/{len(flags)}" if flags else "–"


def _table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def _pdq_cells(distances: Sequence[int]) -> list[str]:
    if not distances:
        return ["–", "–"]
    matched = sum(d <= fingerprint.MATCH_THRESHOLD for d in distances)
    return [
        f"{statistics.median(distances):.0f} (max {max(distances)})",
        _rate_n(matched, distances),
    ]


def _rate_n(hits: int, items: Sequence[object]) -> str:
    return f"{hits}/{len(items)}"


@dataclass
class CollusionRow:
    gone_psnr: list[float] = field(default_factory=list)
    gone_gain: list[float] = field(default_factory=list)
    never_gone: int = 0
    detected: dict[float, list[bool]] = field(default_factory=dict)
    psnr_at: dict[float, list[float]] = field(default_factory=dict)
    pdq: list[int] = field(default_factory=list)


def collusion(
    marks: dict[tuple[str, str], Marked],
    victims: Sequence[str],
    colluders: Sequence[int],
    seed: int,
    started: float,
) -> str:
    rows: dict[tuple[int, str], CollusionRow] = {}
    for v, victim in enumerate(victims):
        others = [n for n in POOL if picture(n) != picture(victim)]
        order = [others[i] for i in np.random.default_rng([seed, 100, v]).permutation(len(others))]
        for label, key in KEYS:
            target = marks[label, victim]
            for n in colluders:
                row = rows.setdefault((n, label), CollusionRow())
                sources = [target.marked] if n == 0 else [marks[label, o].marked for o in order[:n]]
                estimate = adv.collusion_estimate(sources)
                for gain in GAINS:
                    attacked = adv.subtract_pattern(target.marked, estimate, gain)
                    if not invisible.detect(attacked, key=key).detected:
                        row.gone_psnr.append(adv.psnr(target.marked, attacked))
                        row.gone_gain.append(gain)
                        row.pdq.append(pdq_distance(attacked, target.marked))
                        break
                else:
                    row.never_gone += 1
                for gain in FIXED_GAINS:
                    attacked = adv.subtract_pattern(target.marked, estimate, gain)
                    found = invisible.detect(attacked, key=key).detected
                    row.detected.setdefault(gain, []).append(found)
                    row.psnr_at.setdefault(gain, []).append(adv.psnr(target.marked, attacked))
                    if not found:
                        row.pdq.append(pdq_distance(attacked, target.marked))
        print(
            f"collusion: victim {victim} done, {time.perf_counter() - started:.0f}s",
            file=sys.stderr,
        )
    header = [
        "colluders",
        "key",
        "mark gone at PSNR dB: median (min–max)",
        "gain",
        *(f"detected at gain {g:g} (median PSNR)" for g in FIXED_GAINS),
        "PDQ distance of removed images",
        f"PDQ still matches (≤ {fingerprint.MATCH_THRESHOLD})",
    ]
    table = [header]
    for (n, label), row in rows.items():
        gone = _span(row.gone_psnr)
        if row.never_gone:
            gone += f", never gone {row.never_gone}"
        table.append(
            [
                "own tile" if n == 0 else str(n),
                label,
                gone,
                _span(row.gone_gain, 2),
                *(f"{_rate(row.detected[g])} ({_median(row.psnr_at[g])} dB)" for g in FIXED_GAINS),
                *_pdq_cells(row.pdq),
            ]
        )
    return _table(table)


def removal(marks: dict[tuple[str, str], Marked], victims: Sequence[str]) -> str:
    header = [
        "attack",
        "images",
        "PSNR vs marked dB: median (min–max)",
        "still detected",
        "PDQ distance to marked",
        f"PDQ still matches (≤ {fingerprint.MATCH_THRESHOLD})",
    ]
    table = [header]
    cases = (
        ("re-embed, public key", "public", None, None),
        ("re-embed, secret key guessed wrong", "secret", WRONG_GUESS, SECRET_KEY),
    )
    for title, label, attack_key, true_key in cases:
        psnrs, found, distances = [], [], []
        for victim in victims:
            target = marks[label, victim]
            attacked = adv.remove_by_reembed(target.marked, key=attack_key)
            psnrs.append(adv.psnr(target.marked, attacked))
            found.append(invisible.detect(attacked, key=true_key).detected)
            distances.append(pdq_distance(attacked, target.marked))
        table.append(
            [title, str(len(victims)), _span(psnrs, 2), _rate(found), *_pdq_cells(distances)]
        )
    return _table(table)


def copies(
    marks: dict[tuple[str, str], Marked], sources: Sequence[str], psnrs: Sequence[float], seed: int
) -> str:
    header = [
        "attack",
        "pairs",
        "forgery vs target PSNR dB",
        "detect reads the source's ID",
        "PDQ forgery ↔ marked source",
        "PDQ forgery ↔ target",
    ]
    pairs = []
    for s, source in enumerate(sources):
        targets = [n for n in POOL if picture(n) != picture(source)]
        pairs.append(
            (source, targets[np.random.default_rng([seed, 200, s]).integers(len(targets))])
        )
    rows: list[tuple[str, str, str | None, float | None]] = [
        ("(a) read + embed, public key", "public", None, None)
    ]
    rows += [
        (f"(b) one-pair estimate, secret key, {p:g} dB", "secret", SECRET_KEY, p) for p in psnrs
    ]
    table = [header]
    for title, label, key, level in rows:
        quality, success, to_source, to_target = [], [], [], []
        for source, target_name in pairs:
            src = marks[label, source]
            target = marks[label, target_name].original
            if level is None:
                forged = adv.copy_watermark_public(src.marked, target, key=key)
            else:
                pattern = adv.estimate_pattern(src.marked, src.original)
                forged = adv.add_pattern(target, pattern, level)
            quality.append(adv.psnr(target, forged))
            success.append(invisible.detect(forged, key=key).payload == src.payload)
            to_source.append(pdq_distance(forged, src.marked))
            to_target.append(pdq_distance(forged, target))
        table.append(
            [
                title,
                str(len(pairs)),
                _span(quality, 2),
                _rate(success),
                f"{min(to_source)}–{max(to_source)} (median {statistics.median(to_source):.0f})",
                f"{statistics.median(to_target):.0f} (max {max(to_target)})",
            ]
        )
    return _table(table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 victims, 3 colluder counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    args = parser.parse_args(argv)

    victims = VICTIMS[:2] if args.quick else VICTIMS
    colluders = (1, 4, 13) if args.quick else COLLUDERS
    psnrs = (40.0,) if args.quick else COPY_PSNRS
    started = time.perf_counter()
    marks = mark_all(list(PHOTOS), args.seed)
    print(f"marked {len(PHOTOS)} photos × {len(KEYS)} keys", file=sys.stderr)
    sections = [
        "## Collusion\n\n" + collusion(marks, victims, colluders, args.seed, started),
        "## Removal by re-embedding\n\n" + removal(marks, victims),
        "## Copy attacks\n\n" + copies(marks, victims, psnrs, args.seed),
    ]
    text = "\n\n".join(sections)
    print(text)
    print(f"total {time.perf_counter() - started:.0f}s", file=sys.stderr)
    if args.markdown is not None:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
