"""Which formats mark writes and verify reads: AVIF through Pillow's own codec, animated
images refused, never flattened to their first frame."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, features

import aiwatermark
from aiwatermark import (
    AiWatermarkError,
    CorruptImageError,
    UnsupportedImageError,
    imageio,
    metadata,
    provenance,
)

needs_avif = pytest.mark.skipif(
    not features.check("avif"), reason="this Pillow was built without AVIF (libavif)"
)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIWATERMARK_HOME", str(tmp_path / "home"))


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


# --- AVIF ---------------------------------------------------------------------------------


@needs_avif
def test_avif_is_marked_and_verified_with_every_layer(photo: Image.Image, tmp_path: Path) -> None:
    out = tmp_path / "marked.avif"
    result = aiwatermark.mark(photo, out, generator="Example Diffusion 2")
    assert result.format == "AVIF"
    assert result.layers == ("label", "watermark", "disclosure", "c2pa")
    assert out.read_bytes()[4:12] == b"ftypavif"

    report = aiwatermark.verify(out)
    assert report.ai_generated is True and report.tampered is False
    assert report.provenance is not None and report.provenance.intact
    assert report.watermark is not None and report.watermark.payload == result.payload
    assert report.disclosure is not None and report.disclosure.format == "AVIF"
    assert report.disclosure.found_in == ("xmp", "exif")
    assert report.disclosure.generator == "Example Diffusion 2"


@needs_avif
def test_an_avif_input_is_marked_as_avif_keeping_its_xmp(photo: Image.Image) -> None:
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        b'rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="image/avif"/>'
        b"</rdf:RDF></x:xmpmeta>"
    )
    source = encode(photo, "AVIF", quality=90, xmp=xmp)
    result = aiwatermark.mark(source, generator="G", signer=False, store=False)
    assert result.format == "AVIF" and result.data is not None
    assert metadata.read_disclosure(result.data).ai_generated
    with Image.open(io.BytesIO(result.data)) as marked:
        assert b'dc:format="image/avif"' in marked.info["xmp"]


@needs_avif
def test_avif_metadata_is_not_edited_in_place(photo: Image.Image) -> None:
    avif = encode(photo, "AVIF")
    with pytest.raises(UnsupportedImageError, match=r"AVIF.*aiwatermark\.mark"):
        metadata.disclose(avif)
    info = metadata.read_disclosure(avif)
    assert info.format == "AVIF" and not info.ai_generated
    with pytest.raises(CorruptImageError):
        metadata.read_disclosure(avif[: len(avif) // 3])


def test_encoder_params_merge_like_disclose() -> None:
    params = metadata.encoder_params(
        {"xmp": '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Other"/>'}, generator="G"
    )
    jpeg = encode(Image.new("RGB", (8, 8)), "JPEG", exif=params["exif"], xmp=params["xmp"])
    info = metadata.read_disclosure(jpeg)
    assert info.found_in == ("xmp", "exif") and info.generator == "G"


@needs_avif
@settings(max_examples=100, deadline=None)
@given(rest=st.binary(max_size=400))
def test_random_avif_bytes_raise_only_our_errors(rest: bytes) -> None:
    with contextlib.suppress(AiWatermarkError):
        metadata.read_disclosure(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + rest)


# --- animated images ----------------------------------------------------------------------


def _frames(count: int) -> list[Image.Image]:
    with Image.open(Path(__file__).resolve().parent.parent / "fixtures" / "astronaut.jpg") as im:
        photo = im.convert("RGB").resize((256, 256))
    return [photo.rotate(20 * index) for index in range(count)]


def _animation(fmt: str, count: int) -> bytes:
    first, *rest = _frames(count)
    return encode(first, fmt, save_all=True, append_images=rest, duration=100, loop=0)


ANIMATED = ["GIF", "WEBP", "PNG"] + (["AVIF"] if features.check("avif") else [])


@pytest.mark.parametrize("fmt", ANIMATED)
def test_animated_images_are_refused_not_flattened(fmt: str, tmp_path: Path) -> None:
    source = tmp_path / f"animated.{fmt.lower()}"
    source.write_bytes(_animation(fmt, 3))
    out = tmp_path / "marked.png"
    with Image.open(source) as check:
        assert check.n_frames == 3  # a real animation, as Pillow sees it
    message = "animated images are not supported: 3 frames; marking only the first"
    for given_as in (source, source.read_bytes(), io.BytesIO(source.read_bytes())):
        with pytest.raises(UnsupportedImageError, match=message):
            aiwatermark.mark(given_as, out, store=False)
    with Image.open(source) as opened, pytest.raises(UnsupportedImageError, match=message):
        aiwatermark.mark(opened, out, store=False)
    assert not out.exists()


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_a_single_frame_animation_file_is_a_still(fmt: str) -> None:
    data = _animation(fmt, 1)
    assert imageio.frame_count(data) == 1
    result = aiwatermark.mark(data, signer=False, store=False)
    assert result.format == ("PNG" if fmt == "GIF" else fmt)


def test_an_mpo_counts_as_one_picture() -> None:
    # Cameras write MPO (a JPEG plus previews or a depth map); the JPEG written keeps the first.
    mpo = _animation("MPO", 2)
    with Image.open(io.BytesIO(mpo)) as check:
        assert check.format == "MPO" and check.n_frames == 2
    assert imageio.frame_count(mpo) == 1
    assert aiwatermark.mark(mpo, signer=False, store=False).format == "JPEG"


def test_refusals_name_what_mark_writes(photo_paths: list[Path], tmp_path: Path) -> None:
    with pytest.raises(UnsupportedImageError, match=r"cannot mark as GIF; mark writes JPEG, PNG"):
        aiwatermark.mark(photo_paths[0], tmp_path / "x.gif")
    expected = "JPEG, PNG, WebP or AVIF" if features.check("avif") else "JPEG, PNG or WebP"
    with pytest.raises(UnsupportedImageError, match=expected):
        aiwatermark.mark(photo_paths[0], tmp_path / "x.tiff")


@needs_avif
def test_provenance_signs_what_c2pa_says_it_supports(photo: Image.Image) -> None:
    # c2pa-python reports its formats at run time; AVIF must be among them for mark to sign it.
    import c2pa

    assert "image/avif" in c2pa.Builder.get_supported_mime_types()
    assert "image/avif" in c2pa.Reader.get_supported_mime_types()
    avif = encode(photo.resize((128, 128)), "AVIF")
    signed = provenance.sign(avif, format="AVIF", signer=aiwatermark.keys.dev_signer())
    assert provenance.read_provenance(signed.data).intact
