"""imageio.open_reduced: large files decoded at a reduced size, and verify reading them so."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import aiwatermark
from aiwatermark import (
    CorruptImageError,
    UnsupportedImageError,
    _pngbands,
    fingerprint,
    imageio,
    invisible,
    visible,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _paeth(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def _png(
    samples: np.ndarray, colour_type: int, extra: bytes = b"", *, crc_ok: bool = True
) -> bytes:
    """An 8-bit PNG whose rows use the five filter types in turn (Pillow's encoder uses only
    some of them), its data split over several IDAT chunks."""
    height, width = samples.shape[:2]
    raw = samples.reshape(height, -1).astype(np.int32)
    bpp = 1 if samples.ndim == 2 else samples.shape[2]
    rows = []
    previous = np.zeros_like(raw[0])
    for y in range(height):
        x = raw[y]
        a = np.concatenate([np.zeros(bpp, np.int32), x[:-bpp]])
        c = np.concatenate([np.zeros(bpp, np.int32), previous[:-bpp]])
        kind = y % 5
        predicted = [0, a, previous, (a + previous) // 2, _paeth(a, previous, c)][kind]
        rows.append(bytes([kind]) + ((x - predicted) % 256).astype(np.uint8).tobytes())
        previous = x
    data = zlib.compress(b"".join(rows), 9)
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    idat = b"".join(_chunk(b"IDAT", data[i : i + 1000]) for i in range(0, len(data), 1000))
    if not crc_ok:
        idat = idat[:-1] + bytes([idat[-1] ^ 1])
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + extra + idat + _chunk(b"IEND", b"")


def _samples(channels: int) -> np.ndarray:
    rng = np.random.default_rng(channels)
    smooth = np.cumsum(rng.integers(-6, 7, (257, 301, max(channels, 1))), axis=0) % 256
    noisy = rng.integers(0, 256, smooth.shape)
    pixels = np.where(rng.random(smooth.shape) < 0.2, noisy, smooth).astype(np.uint8)
    return pixels[:, :, 0] if channels == 1 else pixels


PALETTE = bytes(range(256)) * 3
CASES = {
    "L": (0, _samples(1), b""),
    "RGB": (2, _samples(3), b""),
    "P": (3, _samples(1), _chunk(b"PLTE", PALETTE) + _chunk(b"tRNS", bytes(range(0, 256, 4)))),
    "LA": (4, _samples(2), b""),
    "RGBA": (6, _samples(4), b""),
}


@pytest.mark.parametrize("mode", sorted(CASES))
def test_png_bands_decode_to_the_same_pixels_as_the_whole_file(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    colour_type, samples, extra = CASES[mode]
    data = _png(samples, colour_type, extra)
    whole = imageio.open(data)
    if mode != "P":
        assert np.array_equal(np.asarray(whole), samples)  # the test's encoder is right
    # Bands of a few rows: every filter type meets a band boundary.
    monkeypatch.setattr(_pngbands, "_BAND_BYTES", 4000)
    reduced, size = imageio.open_reduced(data, min_side=80)
    assert size == (301, 257)
    assert reduced.mode == whole.mode
    assert np.array_equal(np.asarray(reduced), np.asarray(whole.reduce(3)))


def test_pngs_the_band_decoder_does_not_take_are_decoded_whole() -> None:
    deep = io.BytesIO()
    Image.fromarray(np.arange(300 * 200, dtype=np.uint16).reshape(200, 300)).save(deep, "PNG")
    reduced, size = imageio.open_reduced(deep.getvalue(), min_side=50)
    assert reduced.size == size == (300, 200)
    assert np.array_equal(np.asarray(reduced), np.asarray(imageio.open(deep.getvalue())))


def test_damaged_pngs_give_what_the_whole_file_decoder_gives() -> None:
    data = _png(_samples(3), 2)
    truncated = data[: len(data) // 2]
    with pytest.raises(CorruptImageError):
        imageio.open(truncated)
    with pytest.raises(CorruptImageError):
        imageio.open_reduced(truncated, min_side=80)
    # Pillow skips the image data's checksums, and so does the band decoder.
    damaged = _png(_samples(3), 2, crc_ok=False)
    reduced, size = imageio.open_reduced(damaged, min_side=80)
    assert size == (301, 257)
    assert np.array_equal(np.asarray(reduced), np.asarray(imageio.open(damaged).reduce(3)))
    # A damaged header checksum, which Pillow does check, fails as before.
    broken = bytearray(data)
    broken[29] ^= 1  # IHDR's CRC
    with pytest.raises(UnsupportedImageError):
        imageio.open(bytes(broken))
    with pytest.raises(UnsupportedImageError):
        imageio.open_reduced(bytes(broken), min_side=80)


def test_large_jpegs_are_decoded_by_dct_scaling_upright() -> None:
    with Image.open(FIXTURES / "astronaut.jpg") as im:
        photo = im.convert("RGB").resize((2600, 2100), Image.Resampling.LANCZOS)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side: shown rotated 90° clockwise
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=92, exif=exif)
    reduced, size = imageio.open_reduced(buffer.getvalue())
    whole = imageio.open(buffer.getvalue())
    assert size == whole.size == (2100, 2600)
    assert reduced.size == (1050, 1300)  # libjpeg's 1/2 scale: the short side stays >= 1024
    difference = np.abs(
        np.asarray(reduced, np.float32)
        - np.asarray(whole.resize(reduced.size, Image.Resampling.BOX), np.float32)
    )
    assert float(difference.mean()) < 2.0


def test_small_files_and_pixels_are_not_reduced() -> None:
    image, size = imageio.open_reduced(FIXTURES / "astronaut.jpg")
    assert image.size == size == (512, 512)
    pixels = Image.new("RGB", (3000, 2000))
    same, size = imageio.open_reduced(pixels)
    assert same is pixels and size == (3000, 2000)


def test_a_bad_min_side_is_refused() -> None:
    with pytest.raises(aiwatermark.InvalidArgumentError, match="min_side"):
        imageio.open_reduced(FIXTURES / "astronaut.jpg", min_side=0)


def test_detect_label_refuses_a_full_size_the_copy_cannot_come_from() -> None:
    image = Image.new("RGB", (1200, 1100), "skyblue")
    with pytest.raises(aiwatermark.InvalidArgumentError, match="full_size"):
        visible.detect_label(image, full_size=(1000, 900))
    with pytest.raises(aiwatermark.InvalidArgumentError, match="full_size"):
        visible.detect_label(image, full_size=(1200,))  # type: ignore[arg-type]


def _marked_photo(tmp_path: Path, size: tuple[int, int], suffix: str) -> tuple[Path, bytes]:
    with Image.open(FIXTURES / "coffee.png") as im:
        photo = im.convert("RGB").resize(size, Image.Resampling.BICUBIC)
    source = tmp_path / f"source{suffix}"
    photo.save(source, quality=95)
    del photo
    marked = tmp_path / f"marked{suffix}"
    result = aiwatermark.mark(source, marked, signer=False, store=False)
    assert result.payload is not None
    return marked, result.payload


def test_verify_reads_a_large_jpeg_as_its_full_decode(tmp_path: Path) -> None:
    marked, payload = _marked_photo(tmp_path, (4400, 3000), ".jpg")
    report = aiwatermark.verify(marked, store=False)
    whole = imageio.open(marked)
    assert report.watermark is not None and report.watermark.payload == payload
    full_detection = invisible.detect(whole)
    assert full_detection.scale is not None and report.watermark.scale is not None
    assert report.watermark.scale == pytest.approx(full_detection.scale, rel=0.02)
    full_label = visible.detect_label(whole)
    assert report.label is not None and report.label.found and full_label.found
    assert report.label.box is not None and full_label.box is not None
    assert np.allclose(report.label.box, full_label.box, atol=12)
    assert report.fingerprint == fingerprint.compute(marked)
    assert report.fingerprint is not None
    assert report.fingerprint.distance(fingerprint.compute(whole)) <= 4


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's VmHWM")
def test_verify_of_a_144_megapixel_png_stays_under_700_mb(tmp_path: Path) -> None:
    marked, payload = _marked_photo(tmp_path, (12000, 12000), ".png")
    code = f"""
import json, pathlib, aiwatermark
report = aiwatermark.verify({str(marked)!r}, store=False)
status = pathlib.Path("/proc/self/status").read_text().splitlines()
print(json.dumps({{
    "payload": report.watermark.payload.hex() if report.watermark.payload else None,
    "label": report.label.found,
    "peak_mb": int(next(l for l in status if l.startswith("VmHWM:")).split()[1]) / 1024,
}}))
"""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forked parent, this
    # test process, which has just marked the 144-megapixel image.
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    found = json.loads(child.stdout.splitlines()[-1])
    assert found["payload"] == payload.hex()
    assert found["label"] is True
    assert found["peak_mb"] <= 700
