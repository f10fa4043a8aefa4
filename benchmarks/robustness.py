"""Robustness of the invisible watermark against common edits, by image class, next to peers.

For every image and method a fresh random payload is embedded (64 bits for aiwatermark, the
peer's own size otherwise), each attack from :mod:`attacks` is applied to the marked image,
and the payload is read back. Every method sees the same attacked geometry: the attack's
random generator is seeded from ``(--seed, image index, attack index)``, where both indices
are fixed places (in ``image_sets.SETS["all"]`` and ``attacks.ATTACKS``), so a subset of
images or attacks sees what the full run sees.

Per (method, attack) the first table shows ``exact (bitacc)``: the share of images whose
whole payload came back, and the mean share of correct bits. A read that finds nothing
(aiwatermark reports "not detected", or a peer raises, e.g. on images under 256×256) counts
as bit accuracy 0.5, i.e. chance. Per method it also shows the PSNR and SSIM of the marked
image (mean and worst image), the visibility in flat regions (RMS change over the original's
flat pixels, mean and worst image), the median embed and read times, and for aiwatermark the
false positives: detections on the unmarked originals, on every attack applied to the
unmarked originals, and on marked images read with the wrong key. Peers always output bits,
so they have no false-positive notion.

For the first method (aiwatermark unless ``--no-aiwatermark``) further tables show each
attack per image class with the worst class and the images missed, the thumbnail targets,
and the quality of every image.

Thumbnails under ``invisible.MIN_SIZE`` (thumb-128, thumb-160 and thumb-192 since the
minimum became 256 px) are dropped from the sets by ``image_sets``, not enlarged: ``embed``
refuses them, and ``benchmarks/small_images.py`` measures those sizes. An image a method
refuses all the same (one given with ``--images``) counts as missed under every attack.

Example:
    python benchmarks/robustness.py --quick --out-dir /tmp/wm-diff
    python benchmarks/robustness.py --set all --peers --jobs 2 --markdown /tmp/all.md
    python benchmarks/robustness.py --peers dwtDct blind_watermark --attacks "jpeg q50" hflip
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import multiprocessing
import os
import resource
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

import aiwatermark
import image_sets
from attacks import Attack, index_of, select
from image_sets import SETS, SKIMAGE_PHOTOS, BenchImage
from peers import PEER_NAMES, Peer, available_peers

Bits = npt.NDArray[np.bool_]
RGB = npt.NDArray[np.uint8]

FIXTURES = image_sets.FIXTURES
DEFAULT_IMAGES = (
    *SKIMAGE_PHOTOS,
    *sorted(str(p) for p in FIXTURES.glob("*.*") if p.suffix != ".md"),
)
"""The ``classic`` set as ``--images`` tokens (other benchmarks reuse it)."""
# RivaGAN runs an ONNX network at full resolution (~1.4 s per read of a 512×512 image on two
# cores); including it by default would push a full run past half an hour.
DEFAULT_PEERS = tuple(n for n in PEER_NAMES if n != "rivaGan")
AIWATERMARK = "aiwatermark"

# Targets of issue 15 for the quality rows; the attack targets live in attacks.py.
SSIM_MEAN_TARGET = 0.985
SSIM_MIN_TARGET = 0.975
PSNR_TARGET = 42.0
FLAT_RMS_TARGET = 0.7
THUMBNAIL_JPEG = "jpeg q75"
THUMBNAIL_JPEG_FROM = 192
"""Thumbnails with at least this short side must survive ``THUMBNAIL_JPEG``; every size
``embed`` accepts must be read back untouched."""

FLAT_WINDOW = 9
FLAT_STD = 2.0
"""A pixel is flat when grey's standard deviation over the 9×9 around it is below 2 levels."""
FLAT_MIN_PIXELS = 1024
"""Fewer flat pixels than this (a 32×32 patch) and the flat-region RMS is not reported."""
CROP_SIDE = 128


@dataclass(frozen=True)
class Method:
    """A watermark under test: embed ``bits`` into an image, read bits back (None: nothing)."""

    name: str
    payload_bits: int
    embed: Callable[[Image.Image, Bits], Image.Image]
    read: Callable[[Image.Image], Bits | None]


def load_image(name: str) -> tuple[str, Image.Image]:
    """An RGB image from a file path, a scikit-image ``data`` name or an ``image_sets`` name."""
    spec = image_sets.by_name(name)
    return spec.name, spec.load()


def _to_bits(data: bytes) -> Bits:
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8)).astype(bool)


def aiwatermark_method() -> Method | None:
    try:
        from aiwatermark import invisible
    except ImportError as exc:
        print(f"note: skipping aiwatermark: {exc}", file=sys.stderr)
        return None
    if not hasattr(invisible, "detect"):
        # A source tree where the package is still being written imports as a namespace.
        print("note: skipping aiwatermark: aiwatermark.invisible is incomplete", file=sys.stderr)
        return None

    def embed(im: Image.Image, bits: Bits) -> Image.Image:
        return invisible.embed(im, np.packbits(bits).tobytes()).convert("RGB")

    def read(im: Image.Image) -> Bits | None:
        try:
            found = invisible.detect(im)
        except aiwatermark.AiWatermarkError:
            return None
        return _to_bits(found.payload) if found.detected and found.payload is not None else None

    return Method(AIWATERMARK, invisible.PAYLOAD_BITS, embed, read)


def peer_method(peer: Peer) -> Method:
    def embed(im: Image.Image, bits: Bits) -> Image.Image:
        return Image.fromarray(peer.embed(np.asarray(im), bits), "RGB")

    def read(im: Image.Image) -> Bits | None:
        try:
            return peer.extract(np.asarray(im))
        # Peers fail with whatever their internals raise (RuntimeError for small images in
        # imwatermark, AssertionError/IndexError in blind_watermark); all mean "nothing read".
        except Exception:
            return None

    return Method(peer.name, peer.payload_bits, embed, read)


def build_methods(with_aiwatermark: bool, peer_names: Sequence[str]) -> list[Method]:
    """aiwatermark (unless left out) and the peers that import; ``KeyError`` for an unknown
    peer name."""
    methods: list[Method] = []
    if with_aiwatermark and (ours := aiwatermark_method()) is not None:
        methods.append(ours)
    return methods + [peer_method(p) for p in available_peers(peer_names)]


# --- quality metrics ------------------------------------------------------------------------


def psnr(a: RGB, b: RGB) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def ssim(a: RGB, b: RGB) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, channel_axis=2, data_range=255))


def local_std(original: RGB) -> npt.NDArray[np.float64]:
    """Standard deviation of grey (mean of R, G, B) over the ``FLAT_WINDOW`` square around
    each pixel of the original; clipped pixels (a channel at 0 or 255) get 255, since a
    change there would be clipped away rather than seen."""
    from scipy.ndimage import uniform_filter

    grey = original.astype(np.float64).mean(axis=2)
    mean = uniform_filter(grey, FLAT_WINDOW, mode="reflect")
    var = uniform_filter(grey**2, FLAT_WINDOW, mode="reflect") - mean**2
    std = np.sqrt(np.clip(var, 0, None))
    clipped = (original == 0).any(axis=2) | (original == 255).any(axis=2)
    std[clipped] = 255.0
    return np.asarray(std, dtype=np.float64)


def flat_rms(original: RGB, marked: RGB, std: npt.NDArray[np.float64]) -> tuple[float, float]:
    """(RMS change per RGB channel over the original's flat pixels, share of pixels that are
    flat); the RMS is NaN when fewer than ``FLAT_MIN_PIXELS`` pixels are flat."""
    flat = std < FLAT_STD
    count = int(flat.sum())
    share = count / flat.size
    if count < FLAT_MIN_PIXELS:
        return float("nan"), share
    diff = marked[flat].astype(np.float64) - original[flat].astype(np.float64)
    return float(np.sqrt(np.mean(diff**2))), share


def flattest_window(std: npt.NDArray[np.float64], side: int) -> tuple[int, int]:
    """Top-left (row, col) of the ``side``×``side`` window with the lowest mean local std."""
    padded = np.zeros((std.shape[0] + 1, std.shape[1] + 1))
    padded[1:, 1:] = std.cumsum(0).cumsum(1)
    sums = (
        padded[side:, side:]
        - padded[:-side, side:]
        - padded[side:, :-side]
        + padded[:-side, :-side]
    )
    row, col = np.unravel_index(int(np.argmin(sums)), sums.shape)
    return int(row), int(col)


def flat_crop(original: RGB, marked: RGB, std: npt.NDArray[np.float64]) -> Image.Image:
    """The flattest window, 2× nearest neighbour: original | marked | |marked − original|×10."""
    side = min(CROP_SIDE, *original.shape[:2])
    row, col = flattest_window(std, side)
    window = (slice(row, row + side), slice(col, col + side))
    a, b = original[window], marked[window]
    diff = np.clip(np.abs(b.astype(np.int16) - a) * 10, 0, 255).astype(np.uint8)
    gap = np.full((side, 2, 3), 255, np.uint8)
    strip = np.concatenate([a, gap, b, gap, diff], axis=1)
    return Image.fromarray(strip.repeat(2, axis=0).repeat(2, axis=1), "RGB")


# --- one image ------------------------------------------------------------------------------


@dataclass
class Read:
    """One read of one attacked image: bit accuracy (0.5 for nothing read), exact, wrong."""

    bit_accuracy: float
    exact: bool
    wrong: bool


@dataclass
class MethodResult:
    """What one method did on one image."""

    embed_error: str | None = None
    psnr: float = float("nan")
    ssim: float = float("nan")
    flat_rms: float = float("nan")
    flat_share: float = float("nan")
    embed_ms: float = float("nan")
    embed_cpu_ms: float = float("nan")
    read_ms: list[float] = field(default_factory=list)
    read_cpu_ms: list[float] = field(default_factory=list)
    reads: dict[str, Read] = field(default_factory=dict)
    false_original: bool | None = None
    false_wrong_key: bool | None = None
    false_attacked: list[bool] = field(default_factory=list)


@dataclass
class ImageResult:
    name: str
    image_class: str
    size: tuple[int, int]
    seconds: float
    methods: dict[str, MethodResult]


def _grade(truth: Bits, read: Bits | None) -> Read:
    if read is None or read.shape != truth.shape:
        return Read(0.5, False, False)
    hit = bool(np.array_equal(read, truth))
    return Read(float(np.mean(read == truth)), hit, not hit)


def _is_detected(im: Image.Image, key: str | None = None) -> bool:
    from aiwatermark import invisible

    try:
        return invisible.detect(im, key=key).detected
    except aiwatermark.AiWatermarkError:
        return False


def evaluate(
    spec: BenchImage,
    index: int,
    methods: Sequence[Method],
    attacks: Sequence[Attack],
    seed: int,
    out_dir: Path | None,
) -> ImageResult:
    """Embed, attack and read ``spec`` with every method; ``index`` seeds payloads and attacks."""
    started = time.perf_counter()
    original = spec.load()
    pixels = np.asarray(original)
    std = local_std(pixels)
    payload_rng = np.random.default_rng([seed, index])
    results: dict[str, MethodResult] = {}
    for method in methods:
        res = results[method.name] = MethodResult()
        truth = payload_rng.integers(0, 2, method.payload_bits).astype(bool)
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            marked = method.embed(original, truth)
        except aiwatermark.AiWatermarkError as exc:
            # Refusing an image is the method's documented answer (e.g. below MIN_SIZE), not
            # a benchmark failure; the image counts as missed under every attack.
            res.embed_error = f"{type(exc).__name__}: {exc}"
            for attack in attacks:
                res.reads[attack.name] = Read(0.5, False, False)
            continue
        res.embed_ms = 1000 * (time.perf_counter() - wall)
        res.embed_cpu_ms = 1000 * (time.process_time() - cpu)
        marked_pixels = np.asarray(marked)
        res.psnr = psnr(pixels, marked_pixels)
        res.ssim = ssim(pixels, marked_pixels)
        res.flat_rms, res.flat_share = flat_rms(pixels, marked_pixels, std)
        if out_dir is not None:
            stem = Path(spec.name).stem
            diff = np.abs(marked_pixels.astype(np.int16) - pixels) * 10
            diff_image = Image.fromarray(np.clip(diff, 0, 255).astype(np.uint8), "RGB")
            diff_image.save(out_dir / f"{stem}-{method.name}-diff.png")
            flat_crop(pixels, marked_pixels, std).save(out_dir / f"{stem}-{method.name}-flat.png")
        for attack in attacks:
            rng = np.random.default_rng([seed, index, index_of(attack)])
            attacked = attack.apply(marked, rng)
            wall, cpu = time.perf_counter(), time.process_time()
            read = method.read(attacked)
            res.read_ms.append(1000 * (time.perf_counter() - wall))
            res.read_cpu_ms.append(1000 * (time.process_time() - cpu))
            res.reads[attack.name] = _grade(truth, read)
        if method.name == AIWATERMARK:
            res.false_original = _is_detected(original)
            res.false_wrong_key = _is_detected(marked, key="wrong")
            for attack in attacks:
                rng = np.random.default_rng([seed, index, index_of(attack)])
                res.false_attacked.append(_is_detected(attack.apply(original, rng)))
    return ImageResult(
        spec.name, spec.image_class, original.size, time.perf_counter() - started, results
    )


# --- running in worker processes ------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """Everything a worker needs to rebuild the run (methods hold closures, so they are made
    in each process rather than sent)."""

    with_aiwatermark: bool
    peer_names: tuple[str, ...]
    attack_names: tuple[str, ...]
    seed: int
    out_dir: Path | None


_worker: tuple[Config, list[Method], tuple[Attack, ...]] | None = None


def _init_worker(config: Config) -> None:
    global _worker
    _worker = (
        config,
        build_methods(config.with_aiwatermark, config.peer_names),
        select(config.attack_names),
    )


def _evaluate_in_worker(job: tuple[str, int]) -> ImageResult:
    assert _worker is not None, "worker not initialised"
    config, methods, attacks = _worker
    token, index = job
    return evaluate(image_sets.by_name(token), index, methods, attacks, config.seed, config.out_dir)


def run(tokens: Sequence[str], config: Config, jobs: int) -> list[ImageResult]:
    """Every image (``image_sets.by_name`` tokens) through :func:`evaluate`, in ``jobs``
    processes; results in the order given."""
    specs = [image_sets.by_name(token) for token in tokens]
    work = [
        (token, image_sets.seed_index(spec, i))
        for i, (token, spec) in enumerate(zip(tokens, specs, strict=True))
    ]
    started = time.perf_counter()
    results: list[ImageResult] = []

    def progress(res: ImageResult) -> None:
        results.append(res)
        elapsed = time.perf_counter() - started
        print(
            f"[{len(results)}/{len(work)}] {res.name} {res.size} {res.seconds:.0f}s "
            f"(total {elapsed:.0f}s)",
            file=sys.stderr,
        )

    if jobs <= 1:
        _init_worker(config)
        for job in work:
            progress(_evaluate_in_worker(job))
    else:
        # spawn, not fork: the peers load torch and OpenCV, whose threads do not survive fork.
        context = multiprocessing.get_context("spawn")
        # Largest first, so the 12 MP image does not start last and leave a core idle.
        order = sorted(work, key=lambda job: image_sets.by_name(job[0]).image_class != "12 MP")
        with context.Pool(jobs, _init_worker, (config,)) as pool:
            for res in pool.imap_unordered(_evaluate_in_worker, order):
                progress(res)
    rank = {spec.name: i for i, spec in enumerate(specs)}
    return sorted(results, key=lambda r: rank[r.name])


# --- tables ---------------------------------------------------------------------------------


def _markdown(rows: list[list[str]]) -> str:
    lines = [rows[0], ["---"] * len(rows[0]), *rows[1:]]
    return "\n".join("| " + " | ".join(r) + " |" for r in lines)


def _check(ok: bool) -> str:
    return " ✓" if ok else " ✗"


def _finite(values: Iterable[float]) -> list[float]:
    return [v for v in values if np.isfinite(v)]


def _embedded(results: Sequence[ImageResult], method: str) -> list[MethodResult]:
    return [r.methods[method] for r in results if r.methods[method].embed_error is None]


def _worst(
    results: Sequence[ImageResult], method: str, metric: Callable[[MethodResult], float], low: bool
) -> tuple[float, str]:
    scored = [
        (metric(r.methods[method]), r.name)
        for r in results
        if r.methods[method].embed_error is None and np.isfinite(metric(r.methods[method]))
    ]
    if not scored:
        return float("nan"), "–"
    return min(scored) if low else max(scored)


def attack_table(
    results: Sequence[ImageResult], methods: Sequence[str], attacks: Sequence[Attack]
) -> str:
    """One row per attack, one column per method: ``exact (bitacc)``; then quality, speed and
    false positives per method."""
    ours = AIWATERMARK if AIWATERMARK in methods else None
    rows = [["attack", "target", *methods]]

    def rate(method: str, attack: Attack) -> tuple[float, float]:
        reads = [r.methods[method].reads[attack.name] for r in results]
        return (
            sum(x.exact for x in reads) / len(reads),
            sum(x.bit_accuracy for x in reads) / len(reads),
        )

    for attack in attacks:
        verdict = _check(rate(ours, attack)[0] >= attack.target) if ours else ""
        cells = [f"{e:.2f} ({b:.2f})" for e, b in (rate(m, attack) for m in methods)]
        rows.append([attack.name, f"{attack.target:.2f}{verdict}", *cells])

    def per_method(
        label: str,
        fmt: Callable[[str], str],
        target: str = "",
        ok: Callable[[str], bool] | None = None,
    ) -> None:
        if target and ours is not None and ok is not None:
            target += _check(ok(ours))
        rows.append([label, target, *(fmt(m) for m in methods)])

    def mean(metric: Callable[[MethodResult], float]) -> Callable[[str], float]:
        return lambda m: statistics.fmean(
            _finite(metric(x) for x in _embedded(results, m)) or [float("nan")]
        )

    def worst(
        metric: Callable[[MethodResult], float], low: bool
    ) -> Callable[[str], tuple[float, str]]:
        return lambda m: _worst(results, m, metric, low)

    psnr_mean, ssim_mean, flat_mean = (
        mean(lambda x: x.psnr),
        mean(lambda x: x.ssim),
        mean(lambda x: x.flat_rms),
    )
    psnr_min, ssim_min = worst(lambda x: x.psnr, True), worst(lambda x: x.ssim, True)
    flat_max = worst(lambda x: x.flat_rms, False)
    per_method(
        "PSNR dB (mean)",
        lambda m: f"{psnr_mean(m):.1f}",
        f"≥ {PSNR_TARGET:.0f}",
        lambda m: psnr_mean(m) >= PSNR_TARGET,
    )
    per_method("PSNR dB (min, image)", lambda m: "{:.1f} {}".format(*psnr_min(m)))
    per_method(
        "SSIM (mean)",
        lambda m: f"{ssim_mean(m):.4f}",
        f"≥ {SSIM_MEAN_TARGET}",
        lambda m: ssim_mean(m) >= SSIM_MEAN_TARGET,
    )
    per_method(
        "SSIM (min, image)",
        lambda m: "{:.4f} {}".format(*ssim_min(m)),
        f"≥ {SSIM_MIN_TARGET}",
        lambda m: ssim_min(m)[0] >= SSIM_MIN_TARGET,
    )
    per_method("flat RMS (mean)", lambda m: f"{flat_mean(m):.2f}")
    per_method(
        "flat RMS (max, image)",
        lambda m: "{:.2f} {}".format(*flat_max(m)),
        f"≤ {FLAT_RMS_TARGET}",
        lambda m: flat_max(m)[0] <= FLAT_RMS_TARGET,
    )

    def median(values: Callable[[MethodResult], list[float]]) -> Callable[[str], str]:
        return lambda m: (
            f"{statistics.median([v for x in _embedded(results, m) for v in values(x)]):.0f}"
        )

    per_method("embed ms (median)", median(lambda x: [x.embed_ms]))
    per_method("read ms (median)", median(lambda x: x.read_ms))
    per_method("embed CPU ms (median)", median(lambda x: [x.embed_cpu_ms]))
    per_method("read CPU ms (median)", median(lambda x: x.read_cpu_ms))
    per_method(
        "embed refused",
        lambda m: f"{sum(r.methods[m].embed_error is not None for r in results)}/{len(results)}",
    )

    def ours_only(count: Callable[[list[MethodResult]], tuple[int, int]]) -> Callable[[str], str]:
        def fmt(m: str) -> str:
            if m != ours:
                return "n/a"
            hits, trials = count(_embedded(results, m))
            return f"{hits}/{trials}"

        return fmt

    per_method(
        "wrong payload reported",
        ours_only(
            lambda xs: (
                sum(r.wrong for x in xs for r in x.reads.values()),
                sum(len(x.reads) for x in xs),
            )
        ),
    )
    per_method(
        "false pos: unmarked",
        ours_only(lambda xs: (sum(bool(x.false_original) for x in xs), len(xs))),
    )
    per_method(
        "false pos: unmarked+attack",
        ours_only(
            lambda xs: (
                sum(sum(x.false_attacked) for x in xs),
                sum(len(x.false_attacked) for x in xs),
            )
        ),
    )
    per_method(
        "false pos: wrong key",
        ours_only(lambda xs: (sum(bool(x.false_wrong_key) for x in xs), len(xs))),
    )
    return _markdown(rows)


def class_table(results: Sequence[ImageResult], method: str, attacks: Sequence[Attack]) -> str:
    """Per attack: the exact rate over all images, the worst class, the images missed and the
    rate in each class; then quality per class."""
    classes = list(dict.fromkeys(r.image_class for r in results))
    members = {c: [r for r in results if r.image_class == c] for c in classes}
    header = [
        "attack",
        "target",
        "all",
        "worst class",
        "missed",
        *(f"{c} ({len(members[c])})" for c in classes),
    ]
    rows = [header]
    for attack in attacks:
        rates = {
            c: sum(r.methods[method].reads[attack.name].exact for r in members[c]) / len(members[c])
            for c in classes
        }
        overall = sum(r.methods[method].reads[attack.name].exact for r in results) / len(results)
        worst_class = min(classes, key=lambda c: rates[c])
        missed = [r.name for r in results if not r.methods[method].reads[attack.name].exact]
        rows.append(
            [
                attack.name,
                f"{attack.target:.2f}{_check(overall >= attack.target)}",
                f"{overall:.2f}",
                f"{rates[worst_class]:.2f} {worst_class}",
                ", ".join(missed) if missed else "–",
                *(f"{rates[c]:.2f}" for c in classes),
            ]
        )

    def quality(label: str, metric: Callable[[MethodResult], float], low: bool, fmt: str) -> None:
        cells = []
        for c in classes:
            values = _finite(
                metric(r.methods[method])
                for r in members[c]
                if r.methods[method].embed_error is None
            )
            cells.append(format(min(values) if low else max(values), fmt) if values else "–")
        rows.append([label, "", "", "", "", *cells])

    quality("PSNR dB (min)", lambda x: x.psnr, True, ".1f")
    quality("SSIM (min)", lambda x: x.ssim, True, ".4f")
    quality("flat RMS (max)", lambda x: x.flat_rms, False, ".2f")
    return _markdown(rows)


def thumbnail_table(
    results: Sequence[ImageResult], method: str, attacks: Sequence[Attack]
) -> str | None:
    """Issue 15's thumbnail targets: every size embed accepts reads back untouched, and from
    ``THUMBNAIL_JPEG_FROM`` px on after ``THUMBNAIL_JPEG``."""
    names = {a.name for a in attacks}
    thumbs = [r for r in results if r.image_class == "thumbnail"]
    if not thumbs or not {"none", THUMBNAIL_JPEG} <= names:
        return None
    rows = [["image", "size", "embed", "untouched", THUMBNAIL_JPEG, "PSNR dB", "target"]]
    for r in thumbs:
        res = r.methods[method]
        short = min(r.size)
        untouched = res.reads["none"].exact
        jpeg = res.reads[THUMBNAIL_JPEG].exact
        ok = res.embed_error is not None or (untouched and (jpeg or short < THUMBNAIL_JPEG_FROM))
        rows.append(
            [
                r.name,
                f"{r.size[0]}×{r.size[1]}",
                "refused" if res.embed_error else "ok",
                "read" if untouched else "missed",
                "read" if jpeg else "missed",
                f"{res.psnr:.1f}",
                ("untouched" + (f" + {THUMBNAIL_JPEG}" if short >= THUMBNAIL_JPEG_FROM else ""))
                + _check(ok),
            ]
        )
    return _markdown(rows)


def image_table(results: Sequence[ImageResult], method: str, attacks: Sequence[Attack]) -> str:
    """Per image: class, size, quality, flat share and the attacks it was missed under."""
    rows = [["image", "class", "size", "PSNR dB", "SSIM", "flat share", "flat RMS", "missed", "s"]]
    for r in results:
        res = r.methods[method]
        missed = [a.name for a in attacks if not res.reads[a.name].exact]
        if len(missed) > len(attacks) / 2:
            kept = [a.name for a in attacks if res.reads[a.name].exact]
            missed = [
                f"all {len(attacks)} but: {', '.join(kept)}" if kept else f"all {len(attacks)}"
            ]
        rows.append(
            [
                r.name,
                r.image_class,
                f"{r.size[0]}×{r.size[1]}",
                "refused" if res.embed_error else f"{res.psnr:.1f}",
                f"{res.ssim:.4f}",
                f"{res.flat_share:.2%}",
                "–" if not np.isfinite(res.flat_rms) else f"{res.flat_rms:.2f}",
                ", ".join(missed) if missed else "–",
                f"{r.seconds:.0f}",
            ]
        )
    return _markdown(rows)


def report(
    results: Sequence[ImageResult], methods: Sequence[str], attacks: Sequence[Attack], header: str
) -> str:
    first = methods[0]
    parts = [header, attack_table(results, methods, attacks)]
    parts += [f"Per image class ({first}):", class_table(results, first, attacks)]
    if (thumbs := thumbnail_table(results, first, attacks)) is not None:
        parts += [f"Thumbnails ({first}):", thumbs]
    parts += [f"Per image ({first}):", image_table(results, first, attacks)]
    return "\n\n".join(parts)


def save_results(path: Path, header: str, results: Sequence[ImageResult]) -> None:
    raw = {"header": header, "results": [dataclasses.asdict(r) for r in results]}
    # NaN (no flat pixels, refused embed) is written as null.
    path.write_text(json.dumps(_nan_to_none(raw), indent=1) + "\n", encoding="utf-8")


def load_results(path: Path) -> tuple[str, list[ImageResult]]:
    """The header and results that ``--json`` wrote."""
    raw = json.loads(path.read_text(encoding="utf-8"))

    def number(value: float | None) -> float:
        return float("nan") if value is None else float(value)

    def method(d: dict[str, object]) -> MethodResult:
        fields = dict(d)
        reads = fields.pop("reads")
        assert isinstance(reads, dict)
        for name in ("psnr", "ssim", "flat_rms", "flat_share", "embed_ms", "embed_cpu_ms"):
            fields[name] = number(fields[name])  # type: ignore[arg-type]
        res = MethodResult(**fields)  # type: ignore[arg-type]
        res.reads = {k: Read(**v) for k, v in reads.items()}
        return res

    results = [
        ImageResult(
            r["name"],
            r["image_class"],
            tuple(r["size"]),
            r["seconds"],
            {k: method(v) for k, v in r["methods"].items()},
        )
        for r in raw["results"]
    ]
    return str(raw["header"]), results


def _attacks_of(results: Sequence[ImageResult]) -> tuple[Attack, ...]:
    first = next(iter(results[0].methods.values()))
    return select(first.reads)


def compare_table(before: Sequence[ImageResult], after: Sequence[ImageResult], method: str) -> str:
    """Per attack: exact rate and worst class before and after, and the images lost (read
    before, missed after) and gained; then quality, CPU time and false positives."""
    if [r.name for r in before] != [r.name for r in after]:
        raise SystemExit("the two runs have different images; compare runs of the same --set")
    attacks = [a for a in _attacks_of(before) if a.name in after[0].methods[method].reads]
    rows = [
        [
            "attack",
            "target",
            "before",
            "after",
            "worst class before",
            "worst class after",
            "lost",
            "gained",
        ]
    ]

    def summary(results: Sequence[ImageResult], attack: Attack) -> tuple[float, str, set[str]]:
        hits = {r.name for r in results if r.methods[method].reads[attack.name].exact}
        classes = list(dict.fromkeys(r.image_class for r in results))
        rates = {
            c: sum(r.name in hits for r in results if r.image_class == c)
            / sum(r.image_class == c for r in results)
            for c in classes
        }
        worst = min(classes, key=lambda c: rates[c])
        return len(hits) / len(results), f"{rates[worst]:.2f} {worst}", hits

    for attack in attacks:
        rate_b, worst_b, hits_b = summary(before, attack)
        rate_a, worst_a, hits_a = summary(after, attack)
        lost = [r.name for r in before if r.name in hits_b - hits_a]
        gained = [r.name for r in before if r.name in hits_a - hits_b]
        rows.append(
            [
                attack.name,
                f"{attack.target:.2f}",
                f"{rate_b:.2f}",
                f"{rate_a:.2f}{_check(rate_a >= attack.target)}",
                worst_b,
                worst_a,
                ", ".join(lost) or "–",
                ", ".join(gained) or "–",
            ]
        )

    def quality(label: str, value: Callable[[Sequence[ImageResult]], str]) -> None:
        rows.append([label, "", value(before), value(after), "", "", "", ""])

    def metric(
        pick: Callable[[MethodResult], float], how: Callable[[list[float]], float], fmt: str
    ) -> Callable[[Sequence[ImageResult]], str]:
        return lambda results: format(
            how(_finite(pick(x) for x in _embedded(results, method)) or [float("nan")]), fmt
        )

    quality("PSNR dB (mean)", metric(lambda x: x.psnr, statistics.fmean, ".1f"))
    quality("PSNR dB (min)", metric(lambda x: x.psnr, min, ".1f"))
    quality("SSIM (mean)", metric(lambda x: x.ssim, statistics.fmean, ".4f"))
    quality("SSIM (min)", metric(lambda x: x.ssim, min, ".4f"))
    quality("flat RMS (mean)", metric(lambda x: x.flat_rms, statistics.fmean, ".2f"))
    quality("flat RMS (max)", metric(lambda x: x.flat_rms, max, ".2f"))
    quality("embed CPU ms (median)", metric(lambda x: x.embed_cpu_ms, statistics.median, ".0f"))
    quality(
        "read CPU ms (median)",
        lambda results: format(
            statistics.median([v for x in _embedded(results, method) for v in x.read_cpu_ms]), ".0f"
        ),
    )
    quality(
        "wrong payload reported",
        lambda results: str(
            sum(r.wrong for x in _embedded(results, method) for r in x.reads.values())
        ),
    )
    quality(
        "false positives (all kinds)",
        lambda results: str(
            sum(
                bool(x.false_original) + bool(x.false_wrong_key) + sum(x.false_attacked)
                for x in _embedded(results, method)
            )
        ),
    )
    return _markdown(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--set",
        choices=sorted(SETS),
        default="classic",
        help="image set (default classic: 12 scikit-image photos + fixtures; classes: the "
        "issue-15 classes; all: both)",
    )
    parser.add_argument(
        "--images",
        nargs="+",
        help="image set names, files or scikit-image data names (instead of --set)",
    )
    parser.add_argument(
        "--peers",
        nargs="*",
        default=list(DEFAULT_PEERS),
        help=f"peers to compare (known: {', '.join(PEER_NAMES)}; 'all' for every one; "
        "default: all but rivaGan, which is slow); give no name for none",
    )
    parser.add_argument("--attacks", nargs="+", help="attack names (default: all)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="classic: the first 3 images; classes/all: the first image of each class but 12 MP",
    )
    parser.add_argument("--no-aiwatermark", action="store_true", help="benchmark peers only")
    parser.add_argument(
        "--out-dir",
        type=Path,
        help="write |marked - original| x 10 and the flattest crop (original | marked | diff) here",
    )
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument(
        "--json", type=Path, help="also write every image's results (per method, per attack) here"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (one image each)")
    parser.add_argument(
        "--report",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="run nothing: print the tables of a --json file, or with two files (before, "
        "after) what changed for aiwatermark, attack by attack and image by image",
    )
    args = parser.parse_args(argv)

    if args.report:
        if len(args.report) > 2:
            parser.error("--report takes one results file, or two to compare")
        header, results = load_results(args.report[0])
        if len(args.report) == 1:
            print(report(results, list(results[0].methods), _attacks_of(results), header))
            return 0
        header_after, after = load_results(args.report[1])
        method = (
            AIWATERMARK if AIWATERMARK in results[0].methods else next(iter(results[0].methods))
        )
        print(f"before: {header}\n\nafter: {header_after}\n")
        print(compare_table(results, after, method))
        return 0

    try:
        attacks = select(args.attacks)
    except KeyError as exc:
        parser.error(str(exc.args[0]))
    peer_names = tuple(PEER_NAMES) if args.peers == ["all"] else tuple(args.peers)
    try:
        methods = build_methods(not args.no_aiwatermark, peer_names)
    except KeyError as exc:
        parser.error(str(exc.args[0]))
    if not methods:
        parser.error("nothing to benchmark: aiwatermark.invisible and every peer are missing")
    if args.images:
        tokens = list(args.images)
    elif not args.quick:
        tokens = [spec.name for spec in SETS[args.set]]
    elif args.set == "classic":
        tokens = [spec.name for spec in SETS["classic"][:3]]
    else:
        tokens = [spec.name for spec in _one_per_class(SETS[args.set])]
    if args.out_dir is not None:
        args.out_dir.mkdir(parents=True, exist_ok=True)

    load_before = os.getloadavg()
    started = time.perf_counter()
    cpu_started = _cpu_seconds()
    config = Config(
        not args.no_aiwatermark,
        tuple(m.name for m in methods if m.name != AIWATERMARK),
        tuple(a.name for a in attacks),
        args.seed,
        args.out_dir,
    )
    results = run(tokens, config, args.jobs)
    header = (
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{len(tokens)} images, seed {args.seed}, {time.perf_counter() - started:.0f} s wall "
        f"and {_cpu_seconds() - cpu_started:.0f} s CPU with --jobs {args.jobs}, "
        f"load average {load_before[0]:.1f} before / "
        f"{os.getloadavg()[0]:.1f} after; aiwatermark from {Path(aiwatermark.__file__).parent}; "
        f"command: robustness.py {shlex.join(sys.argv[1:] if argv is None else argv)}"
    )
    text = report(results, [m.name for m in methods], attacks, header)
    print(text)
    if args.markdown is not None:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    if args.json is not None:
        save_results(args.json, header, results)
    return 0


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished workers."""
    own, workers = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def _nan_to_none(value: object) -> object:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_to_none(v) for v in value]
    return value


def _one_per_class(images: Sequence[BenchImage]) -> list[BenchImage]:
    firsts: dict[str, BenchImage] = {}
    for spec in images:
        if spec.image_class != "12 MP":
            firsts.setdefault(spec.image_class, spec)
    return list(firsts.values())


if __name__ == "__main__":
    sys.exit(main())
