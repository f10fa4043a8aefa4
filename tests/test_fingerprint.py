"""The perceptual fingerprint (PDQ) and its exact Hamming index."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from aiwatermark import AiWatermarkError, InvalidArgumentError, fingerprint
from aiwatermark.fingerprint import Fingerprint, FingerprintIndex


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def test_the_same_picture_after_sharing_matches_and_others_do_not(
    photo: Image.Image, photo_paths: list
) -> None:
    original = fingerprint.compute(photo)
    assert len(original.value) == 32 and original.reliable
    shared = _jpeg(photo.resize((400, 400), Image.Resampling.LANCZOS), 60)
    assert original.distance(fingerprint.compute(shared)) <= 12
    for other in photo_paths[1:]:
        assert not original.matches(fingerprint.compute(other))  # about 128 bits apart


def test_large_images_are_reduced_first_as_the_reference_hasher_does(photo: Image.Image) -> None:
    big = photo.resize((2048, 2048), Image.Resampling.LANCZOS)
    assert fingerprint.compute(big).distance(fingerprint.compute(photo)) <= 6


def test_alpha_and_grey_inputs(photo: Image.Image) -> None:
    rgba = photo.convert("RGBA")
    assert fingerprint.compute(rgba) == fingerprint.compute(photo)
    assert fingerprint.compute(photo.convert("L")).distance(fingerprint.compute(photo)) <= 12


def test_a_flat_image_is_not_reliable() -> None:
    flat = fingerprint.compute(Image.new("RGB", (256, 256), (200, 200, 200)))
    assert not flat.reliable and flat.quality < fingerprint.MIN_QUALITY


def test_hex_form_and_errors() -> None:
    value = bytes(range(32))
    assert Fingerprint.from_hex(value.hex()).value == value
    assert Fingerprint(value, 100).to_dict()["alg"] == fingerprint.FINGERPRINT_ALG
    with pytest.raises(InvalidArgumentError):
        Fingerprint.from_hex("xyz")
    with pytest.raises(InvalidArgumentError):
        Fingerprint(b"short", 100)
    with pytest.raises(AiWatermarkError):
        fingerprint.compute(b"not an image")


def _flip(value: bytes, bits: list[int]) -> bytes:
    array = np.unpackbits(np.frombuffer(value, np.uint8))
    array[bits] ^= 1
    return np.packbits(array).tobytes()


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(1, 400),
    max_distance=st.integers(0, 60),
)
def test_index_finds_exactly_what_a_full_scan_finds(
    seed: int, size: int, max_distance: int
) -> None:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, 32, dtype=np.uint8).tobytes()
    # A mix of near neighbours (what the threshold is about) and unrelated values.
    values = [
        _flip(base, list(rng.choice(256, int(rng.integers(0, 48)), replace=False)))
        if i % 2
        else rng.integers(0, 256, 32, dtype=np.uint8).tobytes()
        for i in range(size)
    ]
    index = FingerprintIndex()
    index.add_many(range(size // 2), values[: size // 2])
    index.search(base, 0)  # a search between adds must not lose later ones
    for key in range(size // 2, size):
        index.add(key, values[key])
    expected = sorted(
        ((k, fingerprint.distance(v, base)) for k, v in enumerate(values)),
        key=lambda kd: (kd[1], kd[0]),
    )
    assert index.search(base, max_distance) == [kd for kd in expected if kd[1] <= max_distance]
    assert len(index) == size


def test_index_argument_errors() -> None:
    index = FingerprintIndex()
    with pytest.raises(InvalidArgumentError):
        index.search(b"short")
    with pytest.raises(InvalidArgumentError):
        index.search(bytes(32), 256)
    with pytest.raises(InvalidArgumentError):
        index.add_many([1, 2], [bytes(32)])
