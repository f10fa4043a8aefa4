"""PDQ fingerprints: robustness to edits, false matches between distinct pictures, index speed.

Three measurements of :mod:`aiwatermark.fingerprint`, printed as markdown tables:

1. **Robustness.** Every image of the watermark benchmark (``robustness.DEFAULT_IMAGES``) is
   marked with ``invisible.embed`` and fingerprinted; each attack of :mod:`attacks` is applied
   to the marked image (generator seeded from ``(--seed, image index, attack index)``, as in
   ``robustness.py``) and the Hamming distance between the two fingerprints is recorded.
   Extra rows: centred crops keeping 95/90/80 % of the area, and the issue's genuine-share
   path (fit the long side to 1080 px, downscale only, then JPEG 75), once on the images as
   they are (≤ 1000 px, so nothing is downscaled) and once on the images upscaled ×3 before
   marking, so that the fit really shrinks them. Section 1b repeats the edits on
   ``--crop-edits`` crops of the corpus below (quality ≥ MIN_QUALITY), for a larger sample.
2. **False matches.** A corpus of square crops (20–60 % of the short side, random place)
   of the photographs that installed packages ship (scikit-image's bundled photos with a
   short side of at least 256 px, scikit-learn's two sample images when it is installed),
   each resized to ``--crop-size`` px.
   Pairs of crops of *different* photos are distinct pictures; pairs of crops of the *same*
   photo are reported by overlap (intersection over union of the two crop boxes), with
   extra re-crops of some crops (75–100 % of the side, shifted up to 5 %) so the high-overlap
   bins are populated. Pairwise distances use a vectorised popcount, chunked.
3. **Index speed.** A :class:`~aiwatermark.fingerprint.FingerprintIndex` of ``--index-size``
   fingerprints: the corpus's real hashes plus copies of them with each bit flipped with a
   probability drawn from 15–50 % (distinct pictures whose word statistics still look like
   real PDQ hashes), and a variant whose filler is uniformly random. Queries are fingerprints
   of attacked registered crops and of crops that were never registered; each is timed with
   ``search(q, MATCH_THRESHOLD)`` and with a brute-force numpy scan of the same array, and the
   two answers are compared.

Example:
    python benchmarks/fingerprint.py --quick                          # about 25 s
    python benchmarks/fingerprint.py --markdown /tmp/fingerprint.md   # full run, about 3 minutes
    python benchmarks/fingerprint.py --parts robustness corpus
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from PIL import Image

from aiwatermark import fingerprint, invisible
from attacks import ATTACKS, Attack, jpeg, resize
from robustness import DEFAULT_IMAGES, load_image

U8 = npt.NDArray[np.uint8]
THRESHOLDS = (24, 31, 40, 48)
HASH_BYTES = 32
# Photographs bundled in the scikit-image wheel whose short side is at least 256 px (text,
# page, microaneurysms and the 25 px lfw faces are too small to crop from). chelsea is the
# same photo as cat; motorcycle is the left view only (the right one is the same scene).
SKIMAGE_SOURCES = (
    "astronaut",
    "brick",
    "camera",
    "cell",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "motorcycle",
    "retina",
    "rocket",
)
OVERLAP_BINS: tuple[tuple[str, float, float], ...] = (
    ("0 (disjoint)", -1.0, 0.0),
    ("(0, 0.25]", 0.0, 0.25),
    ("(0.25, 0.5]", 0.25, 0.5),
    ("(0.5, 0.75]", 0.5, 0.75),
    ("(0.75, 0.85]", 0.75, 0.85),
    ("(0.85, 0.95]", 0.85, 0.95),
    ("(0.95, 1]", 0.95, 1.0),
)
# Edits a re-share applies without changing the framing; used to make "registered" queries.
QUERY_ATTACKS = (
    "jpeg q75",
    "jpeg q50",
    "webp q75",
    "resize x0.5",
    "upload path",
    "blur r1",
    "noise sigma8",
)


# --------------------------------------------------------------------------- helpers


def fp_of(image: Image.Image) -> fingerprint.Fingerprint:
    """``fingerprint.compute`` (which hashes every image at 512×512)."""
    return fingerprint.compute(image)


def _as_row(fp: fingerprint.Fingerprint) -> U8:
    return np.frombuffer(fp.value, dtype=np.uint8)


def popcount_rows(x: U8) -> npt.NDArray[np.int64]:
    """Set bits per row of an (..., 32) uint8 array (np.bitwise_count on uint64 words)."""
    if hasattr(np, "bitwise_count"):
        words = np.ascontiguousarray(x).view(np.uint64)
        return np.bitwise_count(words).sum(axis=-1, dtype=np.int64)
    lut = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
    return lut[x].sum(axis=-1, dtype=np.int64)


def pairwise(a: U8, b: U8, chunk: int = 256) -> npt.NDArray[np.int16]:
    """All Hamming distances between rows of ``a`` and ``b``, ``chunk`` rows at a time."""
    out = np.empty((len(a), len(b)), dtype=np.int16)
    for start in range(0, len(a), chunk):
        block = a[start : start + chunk, None, :] ^ b[None, :, :]
        out[start : start + chunk] = popcount_rows(block)
    return out


def upper_bound(hits: int, trials: int) -> float:
    """One-sided 95 % upper bound on a rate: rule of three at 0, Clopper–Pearson otherwise."""
    if trials == 0:
        return float("nan")
    if hits == 0:
        return 3.0 / trials
    from scipy.stats import beta

    return float(beta.ppf(0.95, hits + 1, trials - hits))


def rate(value: float) -> str:
    return "0" if value == 0 else f"{value:.1e}"


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _ms_since(start: float) -> float:
    return 1000 * (time.perf_counter() - start)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- 1. robustness


def genuine_share(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The issue's share path: fit the long side into 1080 px (downscale only), JPEG 75."""
    fit = min(1.0, 1080 / max(im.size))
    if fit < 1.0:
        im = resize(fit)(im, rng)
    return jpeg(75)(im, rng)


@dataclass
class Robustness:
    distances: dict[str, list[int]] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    qualities: list[int] = field(default_factory=list)
    sizes: list[tuple[int, int]] = field(default_factory=list)

    def add(self, row: str, d: int) -> None:
        self.distances.setdefault(row, []).append(d)


EMBED_ROW = "embed (unmarked → marked)"
SHARE_ROW = "genuine share: fit 1080 + JPEG 75"
LARGE_ROW = "genuine share, original upscaled ×3"
# Light centred trims, to see how little cropping the fingerprint tolerates.
TRIMS = (0.95, 0.90, 0.80)


def centre_crop(im: Image.Image, area: float) -> Image.Image:
    """The centred crop keeping ``area`` of the image (each side × √area)."""
    side = math.sqrt(area)
    w, h = max(1, round(im.width * side)), max(1, round(im.height * side))
    x, y = (im.width - w) // 2, (im.height - h) // 2
    return im.crop((x, y, x + w, y + h))


def measure(
    result: Robustness,
    name: str,
    original: Image.Image,
    payload: bytes,
    attacks: Sequence[Attack],
    key: Sequence[int],
    large: bool,
) -> None:
    """Mark ``original``, then add the distance of every edit to ``result``.

    Attack ``i`` draws from a generator seeded with ``(*key, i)``, as ``robustness.py`` does
    with ``key = (seed, image index)``.
    """
    marked = invisible.embed(original, payload).convert("RGB")
    fp = fp_of(marked)
    result.names.append(name)
    result.qualities.append(fp.quality)
    result.sizes.append(original.size)
    result.add(EMBED_ROW, fp.distance(fp_of(original)))
    for attack_index, attack in enumerate(attacks):
        rng = np.random.default_rng([*key, attack_index])
        result.add(attack.name, fp.distance(fp_of(attack.apply(marked, rng))))
    rng = np.random.default_rng([*key, len(attacks)])
    result.add(SHARE_ROW, fp.distance(fp_of(genuine_share(marked, rng))))
    for area in TRIMS:
        trimmed = centre_crop(marked, area)
        result.add(f"centre crop {area:.0%}", fp.distance(fp_of(trimmed)))
    if large:
        big = original.resize((original.width * 3, original.height * 3), Image.Resampling.LANCZOS)
        big_marked = invisible.embed(big, payload).convert("RGB")
        big_fp = fp_of(big_marked)
        shared = genuine_share(big_marked, rng)
        result.add(LARGE_ROW, big_fp.distance(fp_of(shared)))


def robustness(images: Sequence[str], attacks: Sequence[Attack], seed: int) -> Robustness:
    result = Robustness()
    started = time.perf_counter()
    for index, token in enumerate(images):
        name, original = load_image(token)
        payload = np.random.default_rng([seed, index]).bytes(invisible.PAYLOAD_BITS // 8)
        measure(result, name, original, payload, attacks, (seed, index), large=True)
        _log(f"[robustness {index + 1}/{len(images)}] {name} {time.perf_counter() - started:.0f}s")
    return result


def crop_robustness(
    corpus: Corpus,
    sources: dict[str, Image.Image],
    attacks: Sequence[Attack],
    count: int,
    size: int,
    seed: int,
) -> Robustness:
    """The same edits on ``count`` random corpus crops with quality ≥ MIN_QUALITY."""
    rng = np.random.default_rng([seed, 5])
    eligible = np.flatnonzero(~corpus.recrop & (corpus.quality >= fingerprint.MIN_QUALITY))
    picked = rng.choice(eligible, min(count, len(eligible)), replace=False)
    result = Robustness()
    for n, k in enumerate(picked):
        name = corpus.names[int(corpus.source[k])]
        im = crop(sources[name], corpus.box[k], size)
        payload = rng.bytes(invisible.PAYLOAD_BITS // 8)
        measure(result, name, im, payload, attacks, (seed, 5, int(k)), large=False)
        if (n + 1) % 100 == 0:
            _log(f"[crop robustness {n + 1}/{len(picked)}]")
    return result


def _verdict(values: Sequence[int], threshold: int) -> str:
    if max(values) <= threshold:
        return "holds"
    if statistics.median(values) > threshold:
        return "**breaks**"
    return "partly"


def robustness_table(result: Robustness, p99: bool = False) -> str:
    threshold = fingerprint.MATCH_THRESHOLD
    header = [
        "edit",
        "n",
        "median",
        "p95",
        *(["p99"] if p99 else []),
        "max",
        "worst image",
        *(f"≤ {t}" for t in THRESHOLDS),
        f"at {threshold}",
    ]
    rows = []
    for name, values in result.distances.items():
        arr = np.array(values)
        worst = int(np.argmax(arr))
        digits = 3 if len(arr) >= 100 else 2
        rows.append(
            [
                name,
                str(len(arr)),
                f"{np.median(arr):.0f}",
                f"{np.percentile(arr, 95):.0f}",
                *([f"{np.percentile(arr, 99):.0f}"] if p99 else []),
                str(int(arr.max())),
                f"{result.names[worst]} (q {result.qualities[worst]})" if arr.max() else "",
                *(f"{np.mean(arr <= t):.{digits}f}" for t in THRESHOLDS),
                _verdict(values, threshold),
            ]
        )
    return md_table(header, rows)


# --------------------------------------------------------------------------- 2. corpus


def load_sources() -> dict[str, Image.Image]:
    """Every photograph shipped inside installed packages, as RGB."""
    sources = {name: load_image(name)[1] for name in SKIMAGE_SOURCES}
    try:
        from sklearn.datasets import load_sample_images
    except ImportError:
        _log("note: scikit-learn is not installed; its china/flower photos are left out")
    else:
        for path in load_sample_images().filenames:
            sources[Path(path).stem] = Image.open(path).convert("RGB")
    return sources


@dataclass
class Corpus:
    """Fingerprints of crops: ``box`` is (x, y, side) in the source photo."""

    names: list[str]
    values: U8
    quality: npt.NDArray[np.int64]
    source: npt.NDArray[np.int64]
    box: npt.NDArray[np.int64]
    recrop: npt.NDArray[np.bool_]


def crop(im: Image.Image, box: Sequence[int], size: int) -> Image.Image:
    x, y, side = (int(v) for v in box)
    return im.crop((x, y, x + side, y + side)).resize((size, size), Image.Resampling.LANCZOS)


def random_boxes(
    im: Image.Image, count: int, rng: np.random.Generator
) -> list[tuple[int, int, int]]:
    short = min(im.size)
    boxes = []
    for _ in range(count):
        side = max(16, round(float(rng.uniform(0.2, 0.6)) * short))
        x = int(rng.integers(0, im.width - side + 1))
        y = int(rng.integers(0, im.height - side + 1))
        boxes.append((x, y, side))
    return boxes


def recrop_box(
    im: Image.Image, box: tuple[int, int, int], rng: np.random.Generator
) -> tuple[int, int, int]:
    """A crop of 75–100 % of ``box``'s side, shifted by up to 5 % of it, inside the image."""
    x, y, side = box
    new = max(16, round(side * float(rng.uniform(0.75, 1.0))))
    slack = round(0.05 * side)
    nx = int(rng.integers(x - slack, x + side - new + slack + 1))
    ny = int(rng.integers(y - slack, y + side - new + slack + 1))
    nx = min(max(nx, 0), im.width - new)
    ny = min(max(ny, 0), im.height - new)
    return nx, ny, new


def build_corpus(
    sources: dict[str, Image.Image],
    per_source: int,
    recrop_bases: int,
    size: int,
    seed: int,
) -> Corpus:
    values, quality, source, boxes, recrop = [], [], [], [], []
    for index, im in enumerate(sources.values()):
        rng = np.random.default_rng([seed, 1, index])
        base = random_boxes(im, per_source, rng)
        extra = [recrop_box(im, b, rng) for b in base[:recrop_bases] for _ in range(3)]
        for is_recrop, box in [(False, b) for b in base] + [(True, b) for b in extra]:
            fp = fp_of(crop(im, box, size))
            values.append(_as_row(fp))
            quality.append(fp.quality)
            source.append(index)
            boxes.append(box)
            recrop.append(is_recrop)
    return Corpus(
        names=list(sources),
        values=np.array(values, dtype=np.uint8),
        quality=np.array(quality, dtype=np.int64),
        source=np.array(source, dtype=np.int64),
        box=np.array(boxes, dtype=np.int64),
        recrop=np.array(recrop, dtype=bool),
    )


def box_iou(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    ax, ay, aside = a.T
    bx, by, bside = b.T
    ix = np.clip(np.minimum(ax + aside, bx + bside) - np.maximum(ax, bx), 0, None)
    iy = np.clip(np.minimum(ay + aside, by + bside) - np.maximum(ay, by), 0, None)
    inter = (ix * iy).astype(np.float64)
    return inter / (aside**2 + bside**2 - inter)


@dataclass
class PairStats:
    """Distances of one population of pairs, plus the two quality gates of each pair."""

    distances: npt.NDArray[np.int16]
    min_quality: npt.NDArray[np.int64]
    first: npt.NDArray[np.int64]
    second: npt.NDArray[np.int64]


def corpus_pairs(corpus: Corpus) -> tuple[PairStats, PairStats, npt.NDArray[np.float64]]:
    """(different-source pairs of random crops, same-source pairs of all crops, their IoU)."""
    n = len(corpus.values)
    distances = pairwise(corpus.values, corpus.values)
    i, j = np.triu_indices(n, 1)
    d = distances[i, j]
    q = np.minimum(corpus.quality[i], corpus.quality[j])
    same = corpus.source[i] == corpus.source[j]
    distinct = ~same & ~corpus.recrop[i] & ~corpus.recrop[j]
    iou = box_iou(corpus.box[i[same]], corpus.box[j[same]])
    return (
        PairStats(d[distinct], q[distinct], i[distinct], j[distinct]),
        PairStats(d[same], q[same], i[same], j[same]),
        iou,
    )


QUANTILES = (1e-5, 1e-4, 1e-3, 1e-2, 0.5)


def distinct_tables(stats: PairStats) -> tuple[str, str]:
    subsets = (
        ("all pairs", np.ones(len(stats.distances), dtype=bool)),
        (
            f"both quality ≥ {fingerprint.MIN_QUALITY}",
            stats.min_quality >= fingerprint.MIN_QUALITY,
        ),
    )
    header = ["pairs", "count", "min", "0.001 %", "0.01 %", "0.1 %", "1 %", "median", "mean ± sd"]
    rows, fmr_rows = [], []
    for label, mask in subsets:
        d = stats.distances[mask].astype(np.int64)
        qs = np.quantile(d, QUANTILES, method="inverted_cdf")
        rows.append(
            [
                label,
                f"{len(d):,}",
                str(int(d.min())),
                *(f"{int(v)}" for v in qs),
                f"{d.mean():.1f} ± {d.std():.1f}",
            ]
        )
        for t in THRESHOLDS:
            hits = int(np.count_nonzero(d <= t))
            fmr_rows.append(
                [
                    label,
                    str(t),
                    f"{hits:,} / {len(d):,}",
                    rate(hits / len(d)),
                    rate(upper_bound(hits, len(d))),
                ]
            )
    fmr_header = ["pairs", "threshold", "matches", "false-match rate", "95 % upper bound"]
    return md_table(header, rows), md_table(fmr_header, fmr_rows)


def closest_table(stats: PairStats, corpus: Corpus, count: int = 5) -> str:
    """The closest distinct pairs, over all crops and over crops with quality ≥ MIN_QUALITY."""
    rows = []
    gated = stats.min_quality >= fingerprint.MIN_QUALITY
    for label, mask in (
        ("all", np.ones_like(gated)),
        (f"quality ≥ {fingerprint.MIN_QUALITY}", gated),
    ):
        picked = np.flatnonzero(mask)
        order = picked[np.argsort(stats.distances[picked], kind="stable")[:count]]
        for k in order:
            a, b = int(stats.first[k]), int(stats.second[k])
            rows.append(
                [
                    label,
                    str(int(stats.distances[k])),
                    f"{corpus.names[corpus.source[a]]} (q {corpus.quality[a]})",
                    f"{corpus.names[corpus.source[b]]} (q {corpus.quality[b]})",
                ]
            )
    return md_table(["closest distinct pairs", "distance", "crop of", "crop of"], rows)


def near_duplicate_table(stats: PairStats, iou: npt.NDArray[np.float64]) -> str:
    header = ["crop-box IoU", "pairs", "min", "p5", "median", *(f"≤ {t}" for t in THRESHOLDS)]
    rows = []
    reliable = stats.min_quality >= fingerprint.MIN_QUALITY
    for label, lo, hi in OVERLAP_BINS:
        mask = (iou > lo) & (iou <= hi) & reliable
        d = stats.distances[mask]
        if not len(d):
            rows.append([label, "0", *["–"] * (3 + len(THRESHOLDS))])
            continue
        rows.append(
            [
                label,
                f"{len(d):,}",
                str(int(d.min())),
                f"{np.percentile(d, 5):.0f}",
                f"{np.median(d):.0f}",
                *(f"{np.mean(d <= t):.3f}" for t in THRESHOLDS),
            ]
        )
    return md_table(header, rows)


def quality_tables(corpus: Corpus, sources: dict[str, Image.Image]) -> tuple[str, str]:
    edges = (0, 10, 30, 50, 70, 90, 101)
    counts = np.histogram(corpus.quality, bins=edges)[0]
    header = [f"{lo}–{hi - 1}" for lo, hi in itertools.pairwise(edges)]
    hist = md_table(["quality", *header], [["crops", *(str(int(c)) for c in counts)]])
    rows = []
    for index, name in enumerate(corpus.names):
        mine = corpus.source == index
        low = int(np.count_nonzero(corpus.quality[mine] < fingerprint.MIN_QUALITY))
        w, h = sources[name].size
        rows.append(
            [
                name,
                f"{w}×{h}",
                str(int(np.count_nonzero(mine & ~corpus.recrop))),
                str(int(np.count_nonzero(mine & corpus.recrop))),
                f"{low} ({low / int(mine.sum()):.0%})",
                f"{np.median(corpus.quality[mine]):.0f}",
            ]
        )
    per_source = md_table(
        [
            "source",
            "size",
            "crops",
            "re-crops",
            f"quality < {fingerprint.MIN_QUALITY}",
            "median quality",
        ],
        rows,
    )
    return hist, per_source


# --------------------------------------------------------------------------- 3. index


def fill_perturbed(real: U8, total: int, rng: np.random.Generator, chunk: int = 50_000) -> U8:
    """``real`` followed by copies of random rows with each bit flipped at 15–50 %."""
    out = np.empty((total, HASH_BYTES), dtype=np.uint8)
    out[: len(real)] = real
    for start in range(len(real), total, chunk):
        stop = min(total, start + chunk)
        parents = real[rng.integers(0, len(real), stop - start)]
        p = rng.uniform(0.15, 0.5, (stop - start, 1)).astype(np.float32)
        flips = np.packbits(
            rng.random((stop - start, 8 * HASH_BYTES), dtype=np.float32) < p, axis=1
        )
        out[start:stop] = parents ^ flips
    return out


def fill_random(real: U8, total: int, rng: np.random.Generator) -> U8:
    out = rng.integers(0, 256, (total, HASH_BYTES), dtype=np.uint8)
    out[: len(real)] = real
    return out


Query = tuple[bytes, int | None, bool]


def make_queries(
    corpus: Corpus,
    sources: dict[str, Image.Image],
    count: int,
    size: int,
    seed: int,
) -> dict[str, list[Query]]:
    """Half: registered random crops after a re-share edit; half: crops never registered.

    Each query carries the key its picture is registered under (its row among the random
    crops) or None, and whether every fingerprint involved has quality ≥ MIN_QUALITY.
    """
    rng = np.random.default_rng([seed, 3])
    rows = np.flatnonzero(~corpus.recrop)
    edits = [a for a in ATTACKS if a.name in QUERY_ATTACKS]
    names = list(sources)
    registered: list[Query] = []
    for key in rng.choice(len(rows), count // 2, replace=False):
        k = rows[key]
        im = crop(sources[names[int(corpus.source[k])]], corpus.box[k], size)
        edit = edits[int(rng.integers(len(edits)))]
        fp = fp_of(edit.apply(im, rng))
        reliable = min(fp.quality, int(corpus.quality[k])) >= fingerprint.MIN_QUALITY
        registered.append((fp.value, int(key), reliable))
    unregistered: list[Query] = []
    for _ in range(count - count // 2):
        name = names[int(rng.integers(len(names)))]
        box = random_boxes(sources[name], 1, rng)[0]
        fp = fp_of(crop(sources[name], box, size))
        unregistered.append((fp.value, None, fp.reliable))
    return {"registered, re-shared": registered, "unregistered": unregistered}


@dataclass
class IndexRun:
    label: str
    add_s: float
    first_search_s: float
    index_ms: dict[str, list[float]] = field(default_factory=dict)
    brute_ms: list[float] = field(default_factory=list)
    hits: dict[str, list[int]] = field(default_factory=dict)
    own_found: dict[str, list[bool]] = field(default_factory=dict)
    own_distance: dict[str, list[int]] = field(default_factory=dict)
    own_reliable: dict[str, list[bool]] = field(default_factory=dict)
    agree: bool = True


def brute_force(values: U8, query: bytes, radius: int) -> list[int]:
    """Row numbers within ``radius`` bits of ``query``: XOR and popcount over every row."""
    d = popcount_rows(values ^ np.frombuffer(query, dtype=np.uint8))
    return [int(k) for k in np.flatnonzero(d <= radius)]


T = TypeVar("T")


def best_of(repeat: int, fn: Callable[[], T]) -> tuple[T, float]:
    """``fn()``'s result and its fastest time in ms over ``repeat`` calls (at least one)."""
    best = math.inf
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = fn()
        best = min(best, _ms_since(start))
    return result, best


def time_index(
    label: str, values: U8, queries: dict[str, list[Query]], radius: int, repeat: int
) -> IndexRun:
    """Build an index over ``values`` (key = row) and time every query both ways."""
    index = fingerprint.FingerprintIndex()
    start = time.perf_counter()
    index.add_many(range(len(values)), values)
    add_s = time.perf_counter() - start
    start = time.perf_counter()
    index.search(bytes(HASH_BYTES), radius)  # the first search sorts the word columns
    run = IndexRun(label, add_s, time.perf_counter() - start)
    for kind, qs in queries.items():
        for value, key, reliable in qs:
            found, ms = best_of(repeat, lambda v=value: index.search(v, radius))
            run.index_ms.setdefault(kind, []).append(ms)
            expected, ms = best_of(repeat, lambda v=value: brute_force(values, v, radius))
            run.brute_ms.append(ms)
            keys = sorted(k for k, _ in found)
            run.agree &= keys == expected
            run.hits.setdefault(kind, []).append(len(keys))
            if key is not None:
                run.own_found.setdefault(kind, []).append(key in keys)
                own = fingerprint.distance(value, values[key].tobytes())
                run.own_distance.setdefault(kind, []).append(own)
                run.own_reliable.setdefault(kind, []).append(reliable)
    return run


def _own_cell(run: IndexRun, kind: str) -> str:
    found = run.own_found.get(kind)
    if not found:
        return ""
    ok = run.own_reliable[kind]
    gated = [f for f, keep in zip(found, ok, strict=True) if keep]
    distances = [d for d, keep in zip(run.own_distance[kind], ok, strict=True) if keep]
    text = f"{sum(found)}/{len(found)}; quality ≥ {fingerprint.MIN_QUALITY}: "
    if not gated:
        return text + "none"
    return (
        text + f"{sum(gated)}/{len(gated)} (distance median "
        f"{statistics.median(distances):.0f}, max {max(distances)})"
    )


def index_table(runs: Sequence[IndexRun], size: int) -> str:
    header = [
        f"index of {size:,}",
        "queries",
        "median ms",
        "p95 ms",
        "max ms",
        "brute-force median ms",
        "brute / index (medians)",
        "results per query",
        "own entry found",
        "p95 ≤ 10 ms",
    ]
    rows = []
    for run in runs:
        brute = statistics.median(run.brute_ms)
        groups = [(kind, ts, run.hits[kind]) for kind, ts in run.index_ms.items()]
        groups.append(
            (
                "all",
                [t for ts in run.index_ms.values() for t in ts],
                [h for hs in run.hits.values() for h in hs],
            )
        )
        for kind, ts, hs in groups:
            median = statistics.median(ts)
            p95 = float(np.percentile(ts, 95))
            rows.append(
                [
                    f"{run.label}: {kind}",
                    str(len(ts)),
                    f"{median:.2f}",
                    f"{p95:.2f}",
                    f"{max(ts):.1f}",
                    f"{brute:.1f}" if kind == "all" else "",
                    f"{brute / median:.0f}×" if kind == "all" else "",
                    f"{statistics.fmean(hs):.2f}",
                    _own_cell(run, kind),
                    "✓" if p95 <= 10 else "✗",
                ]
            )
    build = md_table(
        [
            "index",
            "add_many s",
            "first search (sorts the columns) s",
            "same answers as brute force",
        ],
        [
            [r.label, f"{r.add_s:.2f}", f"{r.first_search_s:.2f}", "yes" if r.agree else "**no**"]
            for r in runs
        ],
    )
    return md_table(header, rows) + "\n\n" + build


# --------------------------------------------------------------------------- main


def _section(title: str, *blocks: str) -> str:
    return f"## {title}\n\n" + "\n\n".join(blocks)


def header(args: argparse.Namespace) -> str:
    from importlib.metadata import version

    command = shlex.join(["python", "benchmarks/fingerprint.py", *sys.argv[1:]])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return "\n".join(
        [
            "# PDQ fingerprint benchmark",
            "",
            f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
            f"- command: `{command}`",
            f"- python {platform.python_version()}, numpy {np.__version__}, "
            f"pdqhash {version('pdqhash')}, Pillow {Image.__version__}; "
            f"{platform.machine()}, {cores} cores",
            f"- under test: MATCH_THRESHOLD = {fingerprint.MATCH_THRESHOLD}, "
            f"MIN_QUALITY = {fingerprint.MIN_QUALITY}; seed {args.seed}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--images",
        nargs="+",
        default=list(DEFAULT_IMAGES),
        help="robustness images: files or scikit-image data names (default: robustness.py's)",
    )
    parser.add_argument("--crops-per-source", type=int, default=96)
    parser.add_argument(
        "--recrop-bases", type=int, default=16, help="crops per source given 3 re-crops each"
    )
    parser.add_argument("--crop-size", type=int, default=256, help="side crops are resized to")
    parser.add_argument("--index-size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300, help="timed index queries")
    parser.add_argument(
        "--crop-edits", type=int, default=300, help="corpus crops put through every edit"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="time each query this often, keep the fastest"
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=("robustness", "corpus", "index"),
        default=["robustness", "corpus", "index"],
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 images, 24 crops per source, 60 crop edits, an index of 100,000, 100 queries",
    )
    parser.add_argument("--markdown", type=Path, help="also write the output to this file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.images = args.images[:3]
        args.crops_per_source, args.recrop_bases = 24, 6
        args.index_size, args.queries, args.crop_edits = 100_000, 100, 60

    printed: list[str] = []

    def emit(text: str) -> None:
        print(text + "\n", flush=True)
        printed.append(text)

    emit(header(args))
    if "robustness" in args.parts:
        result = robustness(args.images, ATTACKS, args.seed)
        sizes = ", ".join(f"{w}×{h}" for w, h in sorted(set(result.sizes)))
        emit(
            _section(
                "1. Robustness: distance between the marked image and the edited copy",
                f"{len(args.images)} images (sizes: {sizes}); PDQ quality of the marked "
                f"images: min {min(result.qualities)}, median "
                f"{statistics.median(result.qualities):.0f}. Last column: holds = every "
                "image within 31 bits; partly = the median is within; breaks = the median "
                "is beyond.",
                robustness_table(result),
            )
        )

    corpus: Corpus | None = None
    sources: dict[str, Image.Image] = {}
    if args.parts:
        sources = load_sources()
        start = time.perf_counter()
        corpus = build_corpus(
            sources, args.crops_per_source, args.recrop_bases, args.crop_size, args.seed
        )
        _log(f"[corpus] {len(corpus.values)} crops in {time.perf_counter() - start:.0f}s")
    if corpus is not None and "robustness" in args.parts and args.crop_edits:
        crops = crop_robustness(
            corpus, sources, ATTACKS, args.crop_edits, args.crop_size, args.seed
        )
        emit(
            _section(
                "1b. Robustness on corpus crops",
                f"The same edits on {len(crops.names)} random crops of section 2's corpus "
                f"({args.crop_size}×{args.crop_size}, quality ≥ {fingerprint.MIN_QUALITY} "
                "before marking), each marked with its own payload first. Crops are "
                "upscaled from 20–60 % of the photo, so they are softer than the photos "
                "above. 'worst image' names the source photo of the worst crop.",
                robustness_table(crops, p99=True),
            )
        )
    if corpus is not None and "corpus" in args.parts:
        distinct, same, iou = corpus_pairs(corpus)
        stats_table, fmr_table = distinct_tables(distinct)
        hist, per_source = quality_tables(corpus, sources)
        n_random = int(np.count_nonzero(~corpus.recrop))
        photo_pairs = len(sources) * (len(sources) - 1) // 2
        emit(
            _section(
                "2. False matches between distinct pictures",
                f"{len(sources)} source photographs, {n_random:,} random crops "
                f"({args.crops_per_source} per source, 20–60 % of the short side, resized to "
                f"{args.crop_size}×{args.crop_size}) and {int(corpus.recrop.sum()):,} "
                "re-crops (3 each of the first "
                f"{args.recrop_bases} crops per source: 75–100 % of the side, shifted up to "
                "5 %).",
                "(a) Pairs of random crops of different photographs. Quantile columns: the "
                "distance below which that share of pairs falls. The upper bound treats the "
                f"pairs as independent; they are not (they come from {photo_pairs} pairs of "
                "photographs).",
                stats_table,
                fmr_table,
                closest_table(distinct, corpus),
                "(b) Pairs of crops of the same photograph (random crops and re-crops), by "
                "crop-box overlap (intersection over union), both crops with quality ≥ "
                f"{fingerprint.MIN_QUALITY}: share of pairs within each threshold. Disjoint "
                "crops of one photograph are different parts of one scene.",
                near_duplicate_table(same, iou),
                "(c) PDQ quality of all crops, and per source photograph.",
                hist,
                per_source,
            )
        )
    if corpus is not None and "index" in args.parts:
        real = corpus.values[~corpus.recrop]
        queries = make_queries(corpus, sources, args.queries, args.crop_size, args.seed)
        rng = np.random.default_rng([args.seed, 4])
        builders: tuple[tuple[str, Callable[[], U8]], ...] = (
            ("perturbed real", lambda: fill_perturbed(real, args.index_size, rng)),
            ("uniform random", lambda: fill_random(real, args.index_size, rng)),
        )
        runs = []
        for label, build in builders:
            values = build()
            runs.append(
                time_index(label, values, queries, fingerprint.MATCH_THRESHOLD, args.repeat)
            )
            _log(f"[index] {label} done")
        emit(
            _section(
                f"3. Index speed: search(q, {fingerprint.MATCH_THRESHOLD}) over "
                f"{args.index_size:,} fingerprints",
                f"{len(real):,} real corpus hashes plus filler: 'perturbed real' flips each "
                "bit of a random real hash with a probability of 15–50 %; 'uniform random' "
                "is random bytes. Queries: registered crops after one re-share edit "
                f"({', '.join(QUERY_ATTACKS)}), and crops that were never registered. Brute "
                "force: numpy XOR + popcount over every row, one query at a time, in the "
                "same process. Each query is timed --repeat times (here "
                f"{args.repeat}) and its fastest time kept, since the machine is shared; both "
                "run on one thread.",
                index_table(runs, args.index_size),
            )
        )
    if args.markdown is not None:
        args.markdown.write_text("\n\n".join(printed) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
