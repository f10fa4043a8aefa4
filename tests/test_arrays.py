"""Pipeline pixels (numpy arrays, torch tensors) as mark/verify inputs: the conversion rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

import aiwatermark
from aiwatermark import _arrays, imageio

try:
    import torch
except ImportError:  # torch is optional; the tensor tests need it
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (it is optional)")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

sides = st.integers(1, 12)
channels = st.sampled_from(_arrays.CHANNELS)


def _shapes(batched: bool) -> st.SearchStrategy[tuple[int, ...]]:
    image = st.tuples(sides, sides, channels)
    if not batched:
        return image
    return st.tuples(st.integers(1, 3), sides, sides, channels)


@settings(max_examples=60, deadline=None)
@given(st.booleans().flatmap(lambda b: hnp.arrays(np.uint8, _shapes(b))))
def test_uint8_arrays_pass_through_exactly(array: np.ndarray) -> None:
    batch = _arrays.to_batch(array)
    expected = array if array.ndim == 4 else array[None]
    assert np.array_equal(batch.pixels, expected)
    assert np.array_equal(batch.restore(batch.pixels), array)


unit_floats = st.floats(0, 1, width=32)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([np.float16, np.float32, np.float64]).flatmap(
        lambda dtype: hnp.arrays(dtype, _shapes(True), elements=unit_floats)
    )
)
def test_floats_in_0_1_round_to_the_nearest_8_bit_level(array: np.ndarray) -> None:
    pixels = _arrays.to_batch(array).pixels.astype(np.float64)
    # diffusers' numpy_to_pil: round(x * 255); half a level of slack for float32 arithmetic.
    assert np.all(np.abs(pixels - array.astype(np.float64) * 255) <= 0.5 + 1e-3)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.uint8, _shapes(True)),
    st.sampled_from([np.float16, np.float32, np.float64]),
    st.sampled_from([0.0, -1.0]),
)
def test_8_bit_levels_survive_a_round_trip_through_floats(
    pixels: np.ndarray, dtype: type, low: float
) -> None:
    source = np.zeros(pixels.shape, dtype)
    batch = _arrays.PixelBatch(pixels, source, channels_first=False, batched=True, low=low)
    floats = batch.restore(pixels)
    assert floats.dtype == dtype
    assert floats.min() >= low and floats.max() <= 1
    assert np.array_equal(_arrays.to_batch(floats, low=low).pixels, pixels)


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(np.float32, _shapes(False), elements=unit_floats),
    st.sampled_from([-2.0, -0.01, 1.01, 255.0]),
)
def test_floats_out_of_range_are_refused_unless_clipped(array: np.ndarray, bad: float) -> None:
    array = array.copy()
    array.flat[0] = bad
    with pytest.raises(aiwatermark.InvalidArgumentError, match=r"must be in 0\.\.1"):
        _arrays.to_batch(array)
    clipped = _arrays.to_batch(array, clip=True).pixels
    assert clipped.flat[0] == (0 if bad < 0 else 255)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_infinity_are_refused_even_when_clipping(bad: float) -> None:
    array = np.zeros((16, 16, 3), np.float32)
    array[3, 4, 1] = bad
    with pytest.raises(aiwatermark.InvalidArgumentError, match="NaN or infinite"):
        _arrays.to_batch(array, clip=True)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((16, 16), np.int64), "dtype int64"),
        (np.zeros((16, 16, 3), bool), "dtype bool"),
        (np.zeros((3, 16, 16), np.float32), r"channels-first: pass a\.transpose\(1, 2, 0\)"),
        (np.zeros((2, 3, 16, 16), np.uint8), r"a\.transpose\(0, 2, 3, 1\)"),
        (np.zeros((16, 16, 2), np.uint8), "not an image"),
        (np.zeros(16, np.uint8), "not an image"),
        (np.zeros((0, 16, 16, 3), np.uint8), "empty batch"),
        (np.zeros((1, 1, 16, 16, 3), np.uint8), "not an image"),
    ],
)
def test_wrong_dtypes_and_shapes_say_what_to_pass(array: np.ndarray, message: str) -> None:
    with pytest.raises(aiwatermark.UnsupportedImageError, match=message):
        imageio.open(array)


def test_a_batch_of_one_is_an_image_and_a_larger_batch_points_to_the_batch_api() -> None:
    with Image.open(FIXTURES / "astronaut.jpg") as photo:
        pixels = np.asarray(photo.convert("RGB"))
    floats = pixels.astype(np.float32) / 255
    assert np.array_equal(np.asarray(imageio.open(floats[None])), pixels)
    with pytest.raises(aiwatermark.InvalidArgumentError, match="mark_many"):
        aiwatermark.mark(np.stack([floats, floats]), store=False, signer=False)


def test_the_pixel_limit_is_checked_before_conversion() -> None:
    # Broadcast: 40 megapixels of floats that never exist in memory.
    huge = np.broadcast_to(np.float32(0.5), (1, 8000, 5000, 3))
    with pytest.raises(aiwatermark.ImageTooLargeError, match="40,000,000 pixels"):
        imageio.open(huge, max_pixels=10_000_000)


def test_a_float_array_from_a_pipeline_is_marked_and_verified() -> None:
    with Image.open(FIXTURES / "coffee.png") as photo:
        floats = np.asarray(photo.convert("RGB"), dtype=np.float32) / 255  # output_type="np"
    result = aiwatermark.mark(floats, store=False, signer=False)
    assert result.format == "JPEG"
    report = aiwatermark.verify(result.data, store=False)
    assert report.ai_generated is True
    assert report.content_id == result.content_id


def test_torch_is_never_imported_for_other_inputs() -> None:
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, aiwatermark\n"
        "aiwatermark.imageio.open(np.zeros((8, 8, 3), np.float32))\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@needs_torch
@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(np.uint8, _shapes(True)),
    st.sampled_from(["float32", "float16", "bfloat16", "uint8"]),
    st.sampled_from([0.0, -1.0]),
)
def test_tensors_are_channels_first_and_round_trip_in_their_dtype(
    pixels: np.ndarray, dtype: str, low: float
) -> None:
    tensor = torch.zeros(pixels.shape, dtype=getattr(torch, dtype)).permute(0, 3, 1, 2)
    batch = _arrays.PixelBatch(pixels, tensor, channels_first=True, batched=True, low=low)
    restored = batch.restore(pixels)
    assert isinstance(restored, torch.Tensor)
    assert restored.dtype == tensor.dtype and tuple(restored.shape) == tuple(tensor.shape)
    again = _arrays.to_batch(restored, low=low).pixels
    if dtype == "bfloat16":
        # 8 bits of mantissa cannot hold every level near 1: at most one level off.
        assert np.abs(again.astype(int) - pixels).max() <= 1
    else:
        assert np.array_equal(again, pixels)


@needs_torch
def test_a_tensor_is_read_like_the_array_it_came_from() -> None:
    with Image.open(FIXTURES / "chelsea.webp") as photo:
        pixels = np.asarray(photo.convert("RGB"))
    chw = torch.from_numpy(pixels.copy()).permute(2, 0, 1)
    assert np.array_equal(np.asarray(imageio.open(chw)), pixels)  # read_image's uint8
    assert np.array_equal(np.asarray(imageio.open(chw.float()[None] / 255)), pixels)
    assert imageio.describe(chw) == "torch tensor"


@needs_torch
@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: torch.zeros(8, 8, 3), aiwatermark.UnsupportedImageError, r"permute\(2, 0, 1\)"),
        (
            lambda: torch.zeros(3, 8, 8, dtype=torch.int32),
            aiwatermark.UnsupportedImageError,
            "int32",
        ),
        (lambda: torch.full((3, 8, 8), -0.5), aiwatermark.InvalidArgumentError, r"\(x \+ 1\) / 2"),
        (lambda: torch.full((3, 8, 8), 200.0), aiwatermark.InvalidArgumentError, "torch.uint8"),
    ],
)
def test_wrong_tensors_say_what_to_pass(make: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        imageio.open(make())  # type: ignore[operator]
