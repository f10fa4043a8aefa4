"""Robustness of the invisible watermark against common edits, next to open-source peers.

For every image and method a fresh random payload is embedded (64 bits for aiwatermark, the
peer's own size otherwise), each attack from :mod:`attacks` is applied to the marked image,
and the payload is read back. Every method sees the same attacked geometry: the attack's
random generator is seeded from ``(--seed, image index, attack index)``.

Per (method, attack) the table shows ``exact (bitacc)``: the share of images whose whole
payload came back, and the mean share of correct bits. A read that finds nothing (aiwatermark
reports "not detected", or a peer raises, e.g. on images under 256×256) counts as bit
accuracy 0.5, i.e. chance. Per method it also shows the mean PSNR and SSIM of the marked
image, the median embed and read times, and for aiwatermark the false positives: detections
on the unmarked originals, on every attack applied to the unmarked originals, and on marked
images read with the wrong key. Peers always output bits, so they have no false-positive
notion.

Example:
    python benchmarks/robustness.py --quick --out-dir /tmp/wm-diff
    python benchmarks/robustness.py --peers dwtDct blind_watermark --attacks "jpeg q50" hflip
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

import aiwatermark
from attacks import Attack, select
from peers import PEER_NAMES, Peer, available_peers

Bits = npt.NDArray[np.bool_]

# Bundled in the scikit-image wheel (no download), all photographs. retina (1411×1411) is left
# out on purpose: alone it would double the run time.
SKIMAGE_PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "camera",
    "immunohistochemistry",
    "hubble_deep_field",
    "moon",
    "coins",
    "motorcycle",
    "clock",
    "brick",
)
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DEFAULT_IMAGES = (
    *SKIMAGE_PHOTOS,
    *sorted(str(p) for p in FIXTURES.glob("*.*") if p.suffix != ".md"),
)
# RivaGAN runs an ONNX network at full resolution (~1.4 s per read of a 512×512 image on two
# cores); including it by default would push a full run past half an hour.
DEFAULT_PEERS = tuple(n for n in PEER_NAMES if n != "rivaGan")
AIWATERMARK = "aiwatermark"


@dataclass(frozen=True)
class Method:
    """A watermark under test: embed ``bits`` into an image, read bits back (None: nothing)."""

    name: str
    payload_bits: int
    embed: Callable[[Image.Image, Bits], Image.Image]
    read: Callable[[Image.Image], Bits | None]


def load_image(name: str) -> tuple[str, Image.Image]:
    """An RGB image from a file path or a scikit-image ``data`` name."""
    path = Path(name)
    if path.is_file():
        return path.name, aiwatermark.imageio.open(path).convert("RGB")
    import skimage.data
    import skimage.io

    if name == "motorcycle":
        arr = skimage.data.stereo_motorcycle()[0]
    elif name == "clock":
        # skimage.data has no clock() loader for the bundled, motion-blurred clock photo.
        arr = skimage.io.imread(Path(skimage.data.__file__).parent / "clock_motion.png")
    else:
        arr = getattr(skimage.data, name)()
    return name, Image.fromarray(np.asarray(arr, dtype=np.uint8)).convert("RGB")


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


@dataclass
class Tally:
    exact: int = 0
    wrong: int = 0
    bit_accuracy: float = 0.0
    trials: int = 0

    def add(self, truth: Bits, read: Bits | None) -> None:
        self.trials += 1
        if read is None or read.shape != truth.shape:
            self.bit_accuracy += 0.5
            return
        self.bit_accuracy += float(np.mean(read == truth))
        hit = bool(np.array_equal(read, truth))
        self.exact += hit
        self.wrong += not hit

    @property
    def rate(self) -> float:
        return self.exact / self.trials if self.trials else float("nan")

    def cell(self) -> str:
        return f"{self.rate:.2f} ({self.bit_accuracy / self.trials:.2f})" if self.trials else "–"


@dataclass
class MethodStats:
    tallies: dict[str, Tally] = field(default_factory=dict)
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    embed_ms: list[float] = field(default_factory=list)
    read_ms: list[float] = field(default_factory=list)
    false_originals: list[int] = field(default_factory=lambda: [0, 0])
    false_attacked: list[int] = field(default_factory=lambda: [0, 0])
    false_wrong_key: list[int] = field(default_factory=lambda: [0, 0])


def psnr(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def ssim(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, channel_axis=2, data_range=255))


def _ms_since(start: float) -> float:
    return 1000 * (time.perf_counter() - start)


def _is_detected(im: Image.Image, key: str | None = None) -> bool:
    from aiwatermark import invisible

    try:
        return invisible.detect(im, key=key).detected
    except aiwatermark.AiWatermarkError:
        return False


def _count(counter: list[int], hit: bool) -> None:
    counter[0] += hit
    counter[1] += 1


def run(
    images: Sequence[str],
    methods: Sequence[Method],
    attacks: Sequence[Attack],
    seed: int,
    out_dir: Path | None,
) -> dict[str, MethodStats]:
    stats = {m.name: MethodStats({a.name: Tally() for a in attacks}) for m in methods}
    started = time.perf_counter()
    for index, token in enumerate(images):
        name, original = load_image(token)
        pixels = np.asarray(original)
        payload_rng = np.random.default_rng([seed, index])
        for method in methods:
            st = stats[method.name]
            truth = payload_rng.integers(0, 2, method.payload_bits).astype(bool)
            start = time.perf_counter()
            marked = method.embed(original, truth)
            st.embed_ms.append(_ms_since(start))
            marked_pixels = np.asarray(marked)
            st.psnr.append(psnr(pixels, marked_pixels))
            st.ssim.append(ssim(pixels, marked_pixels))
            if out_dir is not None:
                diff = np.abs(marked_pixels.astype(np.int16) - pixels) * 10
                out = out_dir / f"{Path(name).stem}-{method.name}-diff.png"
                Image.fromarray(np.clip(diff, 0, 255).astype(np.uint8), "RGB").save(out)
            for attack_index, attack in enumerate(attacks):
                attacked = attack.apply(marked, np.random.default_rng([seed, index, attack_index]))
                start = time.perf_counter()
                read = method.read(attacked)
                st.read_ms.append(_ms_since(start))
                st.tallies[attack.name].add(truth, read)
            if method.name == AIWATERMARK:
                _count(st.false_originals, _is_detected(original))
                _count(st.false_wrong_key, _is_detected(marked, key="wrong"))
                for attack_index, attack in enumerate(attacks):
                    rng = np.random.default_rng([seed, index, attack_index])
                    _count(st.false_attacked, _is_detected(attack.apply(original, rng)))
        elapsed = time.perf_counter() - started
        print(f"[{index + 1}/{len(images)}] {name} {original.size} {elapsed:.0f}s", file=sys.stderr)
    return stats


def table(stats: dict[str, MethodStats], attacks: Sequence[Attack]) -> str:
    names = list(stats)
    ours = stats.get(AIWATERMARK)
    header = ["attack", "target", *names]
    rows = [header, ["---"] * len(header)]
    for attack in attacks:
        verdict = ""
        if ours is not None:
            verdict = " ✓" if ours.tallies[attack.name].rate >= attack.target else " ✗"
        rows.append(
            [attack.name, f"{attack.target:.2f}{verdict}"]
            + [stats[n].tallies[attack.name].cell() for n in names]
        )

    def per_method(label: str, fmt: Callable[[MethodStats], str]) -> None:
        rows.append([label, ""] + [fmt(stats[n]) for n in names])

    per_method("PSNR dB (mean)", lambda s: f"{statistics.fmean(s.psnr):.1f}")
    per_method("SSIM (mean)", lambda s: f"{statistics.fmean(s.ssim):.4f}")
    per_method("embed ms (median)", lambda s: f"{statistics.median(s.embed_ms):.0f}")
    per_method("read ms (median)", lambda s: f"{statistics.median(s.read_ms):.0f}")

    def false_positives(
        counter: Callable[[MethodStats], list[int]],
    ) -> Callable[[MethodStats], str]:
        return lambda s: f"{counter(s)[0]}/{counter(s)[1]}" if counter(s)[1] else "n/a"

    per_method(
        "wrong payload reported",
        lambda s: (
            f"{sum(t.wrong for t in s.tallies.values())}/"
            f"{sum(t.trials for t in s.tallies.values())}"
            if s is ours
            else "n/a"
        ),
    )
    per_method("false pos: unmarked", false_positives(lambda s: s.false_originals))
    per_method("false pos: unmarked+attack", false_positives(lambda s: s.false_attacked))
    per_method("false pos: wrong key", false_positives(lambda s: s.false_wrong_key))
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--images",
        nargs="+",
        default=list(DEFAULT_IMAGES),
        help="image files or scikit-image data names (default: 12 bundled photos + fixtures)",
    )
    parser.add_argument(
        "--peers",
        nargs="*",
        default=list(DEFAULT_PEERS),
        help=f"peers to compare (known: {', '.join(PEER_NAMES)}; 'all' for every one; "
        "default: all but rivaGan, which is slow); give no name for none",
    )
    parser.add_argument("--attacks", nargs="+", help="attack names (default: all)")
    parser.add_argument("--quick", action="store_true", help="only the first 3 images")
    parser.add_argument("--no-aiwatermark", action="store_true", help="benchmark peers only")
    parser.add_argument("--out-dir", type=Path, help="write |marked - original| x 10 PNGs here")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    try:
        attacks = select(args.attacks)
    except KeyError as exc:
        parser.error(str(exc.args[0]))
    peer_names = list(PEER_NAMES) if args.peers == ["all"] else args.peers
    methods: list[Method] = []
    if not args.no_aiwatermark and (ours := aiwatermark_method()) is not None:
        methods.append(ours)
    try:
        methods += [peer_method(p) for p in available_peers(peer_names)]
    except KeyError as exc:
        parser.error(str(exc.args[0]))
    if not methods:
        parser.error("nothing to benchmark: aiwatermark.invisible and every peer are missing")
    images = args.images[:3] if args.quick else args.images
    if args.out_dir is not None:
        args.out_dir.mkdir(parents=True, exist_ok=True)

    stats = run(images, methods, attacks, args.seed, args.out_dir)
    text = table(stats, attacks)
    print(text)
    if args.markdown is not None:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
