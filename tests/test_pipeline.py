"""End to end through the public API: mark() then verify(), with real photos and codecs."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from PIL import Image

import aiwatermark
from aiwatermark import imageio, invisible, provenance
from aiwatermark.store import SQLiteManifestStore, default_store_path
from stores import ListStore


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIWATERMARK_HOME", str(tmp_path / "home"))


@pytest.fixture
def generated(photo: Image.Image) -> Image.Image:
    """A 1536×1536 'model output': a real photo at a typical diffusion output size."""
    return photo.resize((1536, 1536), Image.Resampling.LANCZOS)


def share_like_a_platform(data: bytes) -> bytes:
    """Fit into 1080 px, JPEG quality 75 with 4:2:0 chroma, every metadata block dropped."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image.thumbnail((1080, 1080), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=75)
    return out.getvalue()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_mark_then_verify_reads_all_four_layers(photo_paths: list[Path], tmp_path: Path) -> None:
    src = photo_paths[0]
    before = sha256(src)
    out = tmp_path / "marked.jpg"

    result = aiwatermark.mark(src, out, generator="Example Diffusion 2")

    assert sha256(src) == before
    assert result.path == out and result.data is None
    assert result.layers == ("label", "watermark", "disclosure", "c2pa")
    assert result.format == "JPEG" and result.stored
    assert result.payload is not None and len(result.payload) * 8 == 64
    assert result.manifest_label and result.manifest_label.startswith("urn:")

    report = aiwatermark.verify(out)
    assert report.ai_generated is True
    assert report.consistent is True
    assert report.tampered is False
    assert report.manifest_origin == "embedded"
    assert report.content_id == result.content_id
    assert [e.split(":")[0] for e in report.evidence] == [
        "C2PA (embedded)",
        "watermark",
        "label",
        "metadata",
    ]
    assert report.provenance is not None and report.provenance.generator == "Example Diffusion 2"
    assert report.watermark is not None and report.watermark.detected
    assert report.label is not None and report.label.found
    assert report.disclosure is not None and report.disclosure.ai_generated
    summary = report.summary()
    assert summary.startswith("verdict: AI-generated") and result.content_id in summary
    json.dumps(report.to_dict())  # JSON-safe throughout


def test_manifest_is_recovered_from_the_store_after_sharing(
    generated: Image.Image, tmp_path: Path
) -> None:
    marked = aiwatermark.mark(generated, generator="Example Diffusion 2")
    assert marked.data is not None
    shared = tmp_path / "shared.jpg"
    shared.write_bytes(share_like_a_platform(marked.data))
    assert b"c2pa" not in shared.read_bytes() and b"trainedAlgorithmic" not in shared.read_bytes()

    report = aiwatermark.verify(shared)

    assert report.ai_generated is True
    assert report.disclosure is not None and not report.disclosure.ai_generated
    assert report.content_id == marked.content_id
    assert report.manifest_origin == "recovered" and report.recovered
    assert report.tampered is False  # a re-encoded copy of a recovered manifest is expected
    assert report.consistent is True
    assert report.provenance is not None
    assert report.provenance.manifest_label == marked.manifest_label
    assert any(
        "recovered from the manifest store via the watermark" in item for item in report.evidence
    )
    assert report.to_dict()["manifest_origin"] == "recovered"

    without_store = aiwatermark.verify(shared, store=False)
    assert without_store.ai_generated is True  # the watermark alone still says so
    assert without_store.manifest_origin is None and without_store.consistent is None


def test_a_stripped_lossless_copy_recovers_the_manifest(
    photo_paths: list[Path], tmp_path: Path
) -> None:
    marked = aiwatermark.mark(photo_paths[1], tmp_path / "marked.png")
    image = imageio.open(tmp_path / "marked.png")
    image.info = {}
    stripped = imageio.encode(image, "PNG", keep_metadata=False)

    report = aiwatermark.verify(stripped)

    assert report.manifest_origin == "recovered"
    assert report.content_id == marked.content_id
    assert report.consistent is True and report.tampered is False
    assert report.trusted is False  # development identity


@pytest.mark.parametrize(("index", "fmt"), [(0, "JPEG"), (1, "PNG"), (2, "WEBP")])
def test_each_format_keeps_its_format_and_verifies(
    photo_paths: list[Path], index: int, fmt: str
) -> None:
    result = aiwatermark.mark(photo_paths[index])
    assert result.format == fmt and result.data is not None
    assert Image.open(io.BytesIO(result.data)).format == fmt
    report = aiwatermark.verify(result.data)
    assert report.ai_generated and report.consistent and not report.tampered


def test_pil_image_from_a_pipeline_defaults_to_jpeg_bytes(photo: Image.Image) -> None:
    rgba = photo.convert("RGBA")  # what some pipelines hand back
    result = aiwatermark.mark(rgba, payload=bytes.fromhex("00ff00ff00ff00ff"))
    assert result.format == "JPEG" and result.data is not None and result.path is None
    assert result.content_id == "00ff00ff00ff00ff"
    report = aiwatermark.verify(io.BytesIO(result.data))
    assert report.content_id == "00ff00ff00ff00ff"
    assert report.ai_generated and report.consistent


def test_explicit_format_and_suffix(photo_paths: list[Path], tmp_path: Path) -> None:
    assert aiwatermark.mark(photo_paths[0], format="png").format == "PNG"
    assert aiwatermark.mark(photo_paths[0], tmp_path / "x.webp").format == "WEBP"
    with pytest.raises(aiwatermark.UnsupportedImageError, match="BMP"):
        aiwatermark.mark(photo_paths[0], tmp_path / "x.bmp")


def test_layers_can_be_switched_off(photo_paths: list[Path]) -> None:
    result = aiwatermark.mark(photo_paths[0], label=None, watermark=False, signer=False)
    assert result.layers == ("disclosure",)
    assert result.payload is None and result.manifest_label is None and not result.stored
    assert result.data is not None
    report = aiwatermark.verify(result.data)
    assert report.ai_generated is True
    assert report.evidence == ("metadata: trainedAlgorithmicMedia in xmp, exif",)
    assert report.consistent is None and report.manifest_origin is None
    assert not default_store_path().exists()


def test_unmarked_photo_has_no_verdict(photo_paths: list[Path]) -> None:
    for path in photo_paths:
        report = aiwatermark.verify(path)
        assert report.ai_generated is None, path
        assert report.evidence == () and report.consistent is None and not report.tampered
        assert "absence of marks does not prove authenticity" in report.summary()


def test_changed_pixels_after_signing_are_tampered(photo: Image.Image, tmp_path: Path) -> None:
    result = aiwatermark.mark(photo, format="PNG")
    assert result.data is not None
    # Re-draw one pixel and splice the new image data into the signed file: the manifest
    # stays, its hash of the bytes no longer matches.
    original = Image.open(io.BytesIO(result.data))
    edited = original.copy()
    edited.putpixel((5, 5), (255, 0, 0))
    marker = result.data.index(b"IDAT") - 4
    end = result.data.index(b"IEND") - 4
    fresh = imageio.encode(edited, "PNG", keep_metadata=False)
    spliced = (
        result.data[:marker]
        + fresh[fresh.index(b"IDAT") - 4 : fresh.index(b"IEND") - 4]
        + result.data[end:]
    )

    report = aiwatermark.verify(spliced)

    assert report.tampered is True
    assert "INVALID" in report.evidence[0]
    assert "tampered" in report.summary()
    # The watermark still leads to the intact original manifest in the store.
    assert report.manifest_origin == "recovered"
    assert report.consistent is True


def test_credentials_from_another_image_are_inconsistent(photo_paths: list[Path]) -> None:
    watermarked = aiwatermark.mark(photo_paths[0], signer=False)
    assert watermarked.data is not None and watermarked.payload is not None
    other_payload = bytes(reversed(watermarked.payload))
    signed = provenance.sign(
        watermarked.data,
        format="JPEG",
        signer=aiwatermark.keys.dev_signer(),
        soft_binding=other_payload,
    )

    report = aiwatermark.verify(signed.data)

    assert report.ai_generated is True and report.tampered is False
    assert report.consistent is False
    assert "belong to another image" in report.summary()


def test_a_custom_store_replaces_sqlite(photo_paths: list[Path]) -> None:
    store = ListStore()
    result = aiwatermark.mark(photo_paths[1], store=store)
    (entry,) = store.entries
    assert entry.payload == result.payload and entry.meta["format"] == "PNG"
    assert result.fingerprint is not None and entry.fingerprint == result.fingerprint.value
    assert not default_store_path().exists()
    assert result.data is not None
    image = imageio.open(result.data)
    image.info = {}
    report = aiwatermark.verify(imageio.encode(image, "PNG", keep_metadata=False), store=store)
    assert report.manifest_origin == "recovered" and report.content_bound is True


def test_store_path_argument_and_default(photo_paths: list[Path], tmp_path: Path) -> None:
    first = aiwatermark.mark(photo_paths[0], store=tmp_path / "team.sqlite3")
    second = aiwatermark.mark(photo_paths[0])
    assert first.payload is not None and second.payload is not None
    assert SQLiteManifestStore(tmp_path / "team.sqlite3").by_payload(first.payload)
    assert SQLiteManifestStore(default_store_path()).by_payload(second.payload)
    assert default_store_path().parent == tmp_path / "home"


def test_outputs_never_overwrite_by_accident(photo_paths: list[Path], tmp_path: Path) -> None:
    src = tmp_path / "in.jpg"
    src.write_bytes(photo_paths[0].read_bytes())
    before = sha256(src)
    with pytest.raises(aiwatermark.OutputExistsError, match=r"in\.jpg"):
        aiwatermark.mark(src, src)
    out = tmp_path / "out.jpg"
    out.write_bytes(b"keep me")
    with pytest.raises(aiwatermark.OutputExistsError, match="overwrite"):
        aiwatermark.mark(src, out)
    assert out.read_bytes() == b"keep me" and sha256(src) == before
    aiwatermark.mark(src, out, overwrite=True)
    assert aiwatermark.verify(out).ai_generated
    aiwatermark.mark(src, src, overwrite=True)  # in place, when asked
    assert sha256(src) != before


def test_bad_inputs_raise_errors_that_name_the_file(tmp_path: Path, photo: Image.Image) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 definitely not a whole jpeg")
    with pytest.raises(aiwatermark.AiWatermarkError, match=r"broken\.jpg"):
        aiwatermark.mark(broken, tmp_path / "out.jpg")
    with pytest.raises(aiwatermark.AiWatermarkError, match=r"broken\.jpg"):
        aiwatermark.verify(broken)
    with pytest.raises(aiwatermark.UnsupportedImageError, match=r"missing\.png"):
        aiwatermark.verify(tmp_path / "missing.png")
    with pytest.raises(aiwatermark.ImageTooSmallError):
        aiwatermark.mark(photo.resize((64, 64)), label=None)
    assert not (tmp_path / "out.jpg").exists()


def test_mark_below_the_watermark_minimum_is_an_error_not_a_skipped_layer(
    tmp_path: Path, photo: Image.Image
) -> None:
    """The label fits at this size, the watermark does not: mark() raises, naming the
    minimum and what to do, and writes nothing (it never drops the watermark layer)."""
    short = photo.resize((invisible.MIN_SIZE + 100, invisible.MIN_SIZE - 1))
    out = tmp_path / "out.png"
    with pytest.raises(aiwatermark.ImageTooSmallError, match=f"minimum of {invisible.MIN_SIZE}"):
        aiwatermark.mark(short, out, signer=False, store=False)
    assert not out.exists()
    at_minimum = photo.resize((invisible.MIN_SIZE + 100, invisible.MIN_SIZE))
    result = aiwatermark.mark(at_minimum, out, signer=False, store=False)
    assert "watermark" in result.layers


def test_tiny_image_verifies_without_a_verdict(photo: Image.Image) -> None:
    report = aiwatermark.verify(imageio.encode(photo.resize((64, 64)), "PNG"))
    assert report.ai_generated is None and report.evidence == ()


def test_decoded_pixels_verify_watermark_and_label(photo: Image.Image) -> None:
    marked = aiwatermark.mark(photo, signer=False, store=False)
    assert marked.data is not None
    report = aiwatermark.verify(Image.open(io.BytesIO(marked.data)))
    assert report.ai_generated is True and report.disclosure is None
    assert report.content_id == marked.content_id
    assert any("decoded pixels carry no file metadata" in note for note in report.notes)


def test_mark_result_repr_and_dict(photo_paths: list[Path]) -> None:
    result = aiwatermark.mark(photo_paths[0])
    text = repr(result)
    assert "bytes>" in text and "\\x" not in text and len(text) < 400
    assert result.content_id is not None and result.content_id in text
    as_dict = result.to_dict()
    assert as_dict["content_id"] == result.content_id and as_dict["layers"][-1] == "c2pa"
    json.dumps(as_dict)
    with pytest.raises(AttributeError):
        result.format = "PNG"  # type: ignore[misc]
