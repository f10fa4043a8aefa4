"""Pixels as generation pipelines hand them over — numpy arrays and torch tensors — as 8 bits.

Conventions (the ones diffusers uses, so its outputs go in unchanged):

- numpy arrays are channels-last: H×W, H×W×C or a batch N×H×W×C (C = 1, 3 or 4);
  ``uint8`` holds 0..255, floating point holds 0..1 (``output_type="np"``).
- torch tensors are channels-first: H×W, C×H×W or N×C×H×W; ``uint8`` holds 0..255
  (``torchvision.io.read_image``), floating point holds 0..1 (``output_type="pt"``).
- A VAE's raw output, in -1..1, is read only where it is asked for (``low=-1``), as the
  diffusers watermark hook does: the two ranges cannot be told apart from the values.

Floats become 8 bits as diffusers' ``numpy_to_pil`` does (``round(x * 255)``), so a marked
image is the very image the pipeline would have saved. torch is never imported here: a
tensor is recognised by its class's module, and converted with its own methods.

Example:
    >>> import numpy as np
    >>> from aiwatermark import _arrays
    >>> batch = _arrays.to_batch(np.full((2, 4, 4, 3), 0.5, dtype=np.float32))
    >>> batch.pixels.shape, int(batch.pixels[0, 0, 0, 0])
    ((2, 4, 4, 3), 128)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PIL import Image

from .errors import InvalidArgumentError, UnsupportedImageError

CHANNELS = (1, 3, 4)
"""Channel counts an image may have: grey, RGB, RGBA."""

# Values within half an 8-bit step of the range round to its ends anyway; further out, the
# caller has another range in mind (a VAE's -1..1, 0..255 stored as floats).
_SLACK = 0.5 / 255


class TensorLike(Protocol):
    """What a torch tensor offers that we use; any ``torch.Tensor`` matches."""

    @property
    def shape(self) -> Any: ...

    def detach(self) -> Any: ...


def is_tensor(obj: object) -> bool:
    """True for a torch tensor (or a subclass), decided without importing torch.

    Example:
        >>> import numpy as np
        >>> from aiwatermark import _arrays
        >>> _arrays.is_tensor(np.zeros(3))
        False
    """
    return any(c.__module__ == "torch" and c.__name__ == "Tensor" for c in type(obj).__mro__)


def is_pixels(obj: object) -> bool:
    """True for decoded pixels this module reads: a numpy array or a torch tensor.

    Example:
        >>> import numpy as np
        >>> from aiwatermark import _arrays
        >>> _arrays.is_pixels(np.zeros((8, 8))), _arrays.is_pixels(b"PNG")
        (True, False)
    """
    return isinstance(obj, np.ndarray) or is_tensor(obj)


@dataclass(frozen=True)
class PixelBatch:
    """Images as ``uint8`` N×H×W×C ``pixels``, and how to hand 8-bit results back in the
    caller's own type, layout, dtype, device and value range (:meth:`restore`).

    Example:
        >>> import numpy as np
        >>> from aiwatermark import _arrays
        >>> batch = _arrays.to_batch(np.zeros((1, 3, 8, 8), np.float32), low=-1.0,
        ...                          channels_first=True)
        >>> batch.restore(batch.pixels).shape
        (1, 3, 8, 8)
    """

    pixels: np.ndarray
    source: Any
    channels_first: bool
    batched: bool
    low: float
    grey_2d: bool = False

    def restore(self, pixels: np.ndarray) -> Any:
        """``pixels`` (``uint8``, N×H×W×C like :attr:`pixels`) in the source's form.

        Example:
            >>> import numpy as np
            >>> from aiwatermark import _arrays
            >>> batch = _arrays.to_batch(np.ones((4, 4, 3), np.float16))
            >>> batch.restore(batch.pixels).dtype
            dtype('float16')
        """
        out: np.ndarray = pixels if self.batched else pixels[0]
        if self.grey_2d:
            out = out[:, :, 0]
        elif self.channels_first:
            out = np.moveaxis(out, -1, -3)
        dtype = str(self.source.dtype).removeprefix("torch.")
        if dtype != "uint8":
            work = np.float64 if dtype == "float64" else np.float32
            out = out.astype(work) * work((1.0 - self.low) / 255.0) + work(self.low)
        if is_tensor(self.source):
            # new_tensor copies onto the source's device with its dtype (bfloat16 included).
            return self.source.new_tensor(np.ascontiguousarray(out))
        return out.astype(self.source.dtype, copy=False)


def to_batch(
    src: Any,
    *,
    low: float = 0.0,
    channels_first: bool | None = None,
    clip: bool = False,
    check_size: Callable[[int, int], None] | None = None,
) -> PixelBatch:
    """Read a numpy array or torch tensor of one image or a batch as 8-bit N×H×W×C pixels.

    Floats are expected in ``low``..1 (``low`` is 0 or -1); ``clip=True`` clamps them there
    first, as diffusers' post-processing does with a VAE's output, instead of refusing.
    ``channels_first`` defaults to False for arrays and True for tensors. ``check_size(w, h)``
    is called before any pixel is converted.

    Raises:
        aiwatermark.UnsupportedImageError: a dtype or shape that is not an image.
        aiwatermark.InvalidArgumentError: NaN or infinite values, or values out of range.

    Example:
        >>> import numpy as np
        >>> from aiwatermark import _arrays
        >>> _arrays.to_batch(np.zeros((64, 48), np.uint8)).pixels.shape
        (1, 64, 48, 1)
    """
    tensor = is_tensor(src)
    if not tensor and not isinstance(src, np.ndarray):
        raise UnsupportedImageError(f"expected a numpy array or a torch tensor, not {type(src)}")
    kind = "torch tensor" if tensor else "numpy array"
    first = tensor if channels_first is None else channels_first
    shape = tuple(int(n) for n in src.shape)
    batched, height, width = _layout(shape, first, kind)
    if check_size is not None:
        check_size(width, height)
    values = _to_numpy(src) if tensor else src
    grey_2d = values.ndim == 2
    if grey_2d:
        values = values[:, :, None]
    elif first:
        values = np.moveaxis(values, -3, -1)
    if not batched:
        values = values[None]
    pixels = _to_uint8(values, low=low, clip=clip, kind=kind)
    return PixelBatch(np.ascontiguousarray(pixels), src, first, batched, low, grey_2d)


def to_image(src: Any, check_size: Callable[[int, int], None] | None = None) -> Image.Image:
    """One image as a ``PIL.Image`` (L, RGB or RGBA); a batch of more than one is refused.

    Example:
        >>> import numpy as np
        >>> from aiwatermark import _arrays
        >>> _arrays.to_image(np.zeros((1, 32, 48, 3), np.float32)).size
        (48, 32)
    """
    batch = to_batch(src, check_size=check_size)
    if len(batch.pixels) != 1:
        raise InvalidArgumentError(
            f"this is a batch of {len(batch.pixels)} images and this call takes one; mark "
            "them one by one (`for image in batch`), with the batch API "
            "(aiwatermark.mark_many / verify_many), or, inside a diffusers pipeline, with "
            "aiwatermark.integrations.diffusers.AiWatermarker"
        )
    return to_pil(batch.pixels[0])


def to_pil(pixels: np.ndarray) -> Image.Image:
    """One image of a :class:`PixelBatch` (``uint8`` H×W×C) as an L, RGB or RGBA image.

    Example:
        >>> import numpy as np
        >>> from aiwatermark import _arrays
        >>> _arrays.to_pil(np.zeros((4, 4, 1), np.uint8)).mode
        'L'
    """
    channels = pixels.shape[2]
    if channels == 1:
        return Image.fromarray(pixels[:, :, 0], "L")
    return Image.fromarray(pixels, "RGB" if channels == 3 else "RGBA")


def _layout(shape: tuple[int, ...], channels_first: bool, kind: str) -> tuple[bool, int, int]:
    """(batched, height, width) of an image or batch shape, or a message saying what to do."""
    expected = (
        "H×W, C×H×W or N×C×H×W (channels first)"
        if channels_first
        else "H×W, H×W×C or N×H×W×C (channels last)"
    )
    axis = -3 if channels_first else -1
    if len(shape) == 2:
        return False, shape[0], shape[1]
    if len(shape) in (3, 4) and shape[axis] in CHANNELS:
        height, width = (shape[-2], shape[-1]) if channels_first else (shape[-3], shape[-2])
        if len(shape) == 4 and shape[0] == 0:
            raise UnsupportedImageError(f"{kind} of shape {shape} is an empty batch")
        if height and width:
            return len(shape) == 4, height, width
    hint = ""
    other = -1 if channels_first else -3
    if len(shape) in (3, 4) and shape[other] in CHANNELS:
        fix = "t.permute(2, 0, 1)" if channels_first else "a.transpose(1, 2, 0)"
        if len(shape) == 4:
            fix = "t.permute(0, 3, 1, 2)" if channels_first else "a.transpose(0, 2, 3, 1)"
        hint = f"; it looks {'channels-last' if channels_first else 'channels-first'}: pass {fix}"
    raise UnsupportedImageError(
        f"{kind} of shape {shape} is not an image; expected {expected} with C in 1, 3 or 4{hint}"
    )


def _to_numpy(tensor: Any) -> np.ndarray:
    dtype = str(tensor.dtype)
    values = tensor.detach().cpu()
    if dtype == "torch.uint8":
        return np.asarray(values.numpy())
    if values.is_floating_point():
        # numpy has no bfloat16; float32 holds every 8-bit level of any float exactly.
        return np.asarray(values.float().numpy())
    raise UnsupportedImageError(
        f"torch tensor has dtype {dtype}; pass uint8 (0..255) or floating point (0..1)"
    )


def _to_uint8(values: np.ndarray, *, low: float, clip: bool, kind: str) -> np.ndarray:
    if values.dtype == np.uint8:
        return values
    if values.dtype.kind != "f":
        raise UnsupportedImageError(
            f"{kind} has dtype {values.dtype}; pass uint8 (0..255) or floating point "
            f"({low:g}..1), e.g. a.astype(np.uint8) for integers already in 0..255"
        )
    # float32 is exact for every 8-bit level and halves the memory of float64.
    values = values.astype(np.float32, copy=False)
    if not np.isfinite(values).all():
        raise InvalidArgumentError(
            f"{kind} holds NaN or infinite values; the generator produced a broken image "
            "(in float16 pipelines often the VAE: run it in float32 or use a VAE fixed for "
            "float16)"
        )
    smallest, largest = float(values.min()), float(values.max())
    if not clip and (smallest < low - _SLACK or largest > 1 + _SLACK):
        ranges = "-1..1 (a VAE's output) pass (x + 1) / 2" if smallest < 0 else ""
        if largest > 1 + _SLACK and smallest >= 0:
            cast = "t.to(torch.uint8)" if kind == "torch tensor" else "a.astype(np.uint8)"
            ranges = f"0..255 stored as floats pass {cast} (or x / 255)"
        raise InvalidArgumentError(
            f"{kind} values run from {smallest:.4g} to {largest:.4g}; floating point images "
            f"must be in {low:g}..1" + (f" — for {ranges}" if ranges else "")
        )
    scaled = (values - np.float32(low)) * np.float32(255.0 / (1.0 - low))
    pixels: np.ndarray = np.rint(np.clip(scaled, 0, 255)).astype(np.uint8)
    return pixels


__all__ = [
    "CHANNELS",
    "PixelBatch",
    "TensorLike",
    "is_pixels",
    "is_tensor",
    "to_batch",
    "to_image",
    "to_pil",
]
