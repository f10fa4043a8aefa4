"""The diffusers watermarker hook, fed batches shaped like a pipeline's decoded output.

No model is downloaded: real photographs are laid out as a Stable Diffusion XL pipeline
hands them to ``pipe.watermark.apply_watermark`` (N×C×H×W, -1..1, the VAE's dtype), and the
result goes through the same post-processing as diffusers' ``VaeImageProcessor``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import aiwatermark
from aiwatermark import invisible
from aiwatermark.integrations.diffusers import AiWatermarker

try:
    import torch
except ImportError:  # torch is optional; the tensor tests need it
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (it is optional)")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _decoded_batch() -> np.ndarray:
    """Two real photographs as a VAE decodes them: 1×3×384×512 each, -1..1, float32."""
    images = []
    for name in ("astronaut.jpg", "coffee.png"):
        with Image.open(FIXTURES / name) as photo:
            rgb = np.asarray(photo.convert("RGB"))[:384, :512]
        images.append(rgb.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1)
    return np.stack(images)


def _postprocess(images: np.ndarray) -> list[Image.Image]:
    """diffusers' denormalize → numpy_to_pil (what output_type="pil" returns)."""
    unit = np.clip(images.astype(np.float32) / 2 + 0.5, 0, 1).transpose(0, 2, 3, 1)
    return [Image.fromarray(np.round(u * 255).astype(np.uint8)) for u in unit]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean(((a.astype(np.float64) - b) * 127.5) ** 2))
    return 10 * np.log10(255**2 / mse)


def test_a_numpy_batch_comes_back_in_kind_and_carries_one_id_per_image() -> None:
    decoded = _decoded_batch() * np.float32(1.04)  # VAEs overshoot -1..1 a little
    watermarker = AiWatermarker(store=False, signer=False)
    marked = watermarker.apply_watermark(decoded)
    assert isinstance(marked, np.ndarray)
    assert marked.shape == decoded.shape and marked.dtype == decoded.dtype
    assert marked.min() >= -1 and marked.max() <= 1
    assert _psnr(marked, np.clip(decoded, -1, 1)) > 38
    ids = watermarker.content_ids
    assert len(set(ids)) == 2
    for image, content_id in zip(_postprocess(marked), ids, strict=True):
        detection = invisible.detect(image)
        assert detection.detected and detection.payload is not None
        assert detection.payload.hex() == content_id


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_a_tensor_batch_keeps_its_dtype_and_the_pipeline_output_verifies(dtype: str) -> None:
    decoded = torch.from_numpy(_decoded_batch()).to(getattr(torch, dtype))
    watermarker = AiWatermarker(store=False, signer=False)
    marked = watermarker.apply_watermark(decoded)
    assert isinstance(marked, torch.Tensor)
    assert marked.dtype == decoded.dtype and marked.shape == decoded.shape
    assert marked.device == decoded.device
    # VaeImageProcessor.postprocess(output_type="pil"), in the tensor's own dtype first.
    unit = (marked / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).float().numpy()
    for u, content_id in zip(unit, watermarker.content_ids, strict=True):
        pil = Image.fromarray(np.round(u * 255).astype(np.uint8))
        report = aiwatermark.verify(pil, store=False)
        assert report.ai_generated is True
        assert report.content_id == content_id


def test_finish_adds_disclosure_and_credentials_without_a_second_watermark(
    tmp_path: Path,
) -> None:
    store = tmp_path / "manifests.sqlite3"
    watermarker = AiWatermarker(store=store, generator="Test Diffusion XL")
    pil = _postprocess(watermarker.apply_watermark(_decoded_batch()))
    content_id = watermarker.content_ids[1]

    result = watermarker.finish(pil[1], tmp_path / "coffee.jpg")
    assert result.layers == ("watermark", "disclosure", "c2pa")
    assert result.content_id == content_id and result.stored
    # The pixels are the marked ones, only encoded: no second pattern was added on top.
    with Image.open(result.path) as written:
        assert _psnr(np.asarray(written, np.float64) / 127.5, np.asarray(pil[1]) / 127.5) > 40
    report = aiwatermark.verify(result.path, store=store)
    assert report.ai_generated is True and report.consistent is True
    assert report.disclosure is not None and report.content_id == content_id

    # Metadata stripped by a platform: the store still answers for the watermark.
    stripped = aiwatermark.verify(np.asarray(pil[1]), store=store)
    assert stripped.manifest_origin == "recovered" and stripped.content_id == content_id


def test_finish_recognises_a_changed_image_by_its_watermark(tmp_path: Path) -> None:
    watermarker = AiWatermarker(store=False, signer=False, label="AI-generated")
    pil = _postprocess(watermarker.apply_watermark(_decoded_batch()))
    smaller = pil[0].resize((384, 288), Image.Resampling.LANCZOS)
    result = watermarker.finish(smaller, format="PNG")
    assert result.content_id == watermarker.content_ids[0]
    assert result.layers == ("label", "watermark", "disclosure")
    assert aiwatermark.verify(result.data, store=False).label is not None


def test_finish_refuses_an_image_it_did_not_mark() -> None:
    watermarker = AiWatermarker(store=False, signer=False)
    with pytest.raises(aiwatermark.InvalidArgumentError, match=r"aiwatermark\.mark\(\)"):
        watermarker.finish(FIXTURES / "coffee.png")


def test_broken_and_too_small_batches_raise_instead_of_passing_unmarked() -> None:
    watermarker = AiWatermarker(store=False, signer=False)
    broken = _decoded_batch()
    broken[0, 1, 10, 10] = np.nan
    with pytest.raises(aiwatermark.InvalidArgumentError, match="NaN"):
        watermarker.apply_watermark(broken)
    with pytest.raises(aiwatermark.ImageTooSmallError):
        watermarker.apply_watermark(_decoded_batch()[:, :, :96, :96])
    with pytest.raises(aiwatermark.InvalidArgumentError, match="label"):
        AiWatermarker(label="")
