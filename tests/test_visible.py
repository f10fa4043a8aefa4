"""The visible label: legible, high-contrast, placed where asked, and found again later."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

import aiwatermark
from aiwatermark.visible import POSITIONS, LabelDetection, add_label, detect_label

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG relative luminance, computed here independently of the library."""
    c = rgb.astype(np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return linear @ np.array([0.2126, 0.7152, 0.0722])


def contrast(a: np.ndarray, b: np.ndarray) -> float:
    la, lb = float(luminance(a)), float(luminance(b))
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def changed_box(before: Image.Image, after: Image.Image) -> tuple[int, int, int, int]:
    diff = np.any(
        np.asarray(before.convert("RGB"), dtype=int) != np.asarray(after.convert("RGB")), axis=2
    )
    ys, xs = np.nonzero(diff)
    assert len(xs), "nothing was drawn"
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def text_and_box(labelled: Image.Image, box: tuple[int, int, int, int]):
    """Split the label's pixels into text and box by luminance; return both colours + mask."""
    x0, y0, x1, y1 = box
    # Stay clear of the rounded, anti-aliased rim of the box.
    inner = np.asarray(labelled.convert("RGB"))[y0 + 2 : y1 - 2, x0 + 4 : x1 - 4].reshape(-1, 3)
    lum = luminance(inner)
    low, high = np.percentile(lum, 2), np.percentile(lum, 98)
    middle = (low + high) / 2
    dark, light = inner[lum < middle], inner[lum >= middle]
    # The box is the majority class; text pixels are the minority.
    box_pixels, text_pixels = (dark, light) if len(dark) > len(light) else (light, dark)
    # Pure glyph cores, not anti-aliased edges: the extreme end of the text class.
    text_lum = luminance(text_pixels)
    core = text_pixels[
        text_lum >= np.percentile(text_lum, 50)
        if luminance(np.median(box_pixels, 0)) < middle
        else text_lum <= np.percentile(text_lum, 50)
    ]
    return np.median(core, axis=0), np.median(box_pixels, axis=0), len(text_pixels)


@pytest.fixture(scope="module")
def skimage_photos() -> list[Image.Image]:
    from skimage import data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [Image.fromarray(getattr(data, name)()) for name in ("camera", "rocket", "coffee")]


# --- drawing -------------------------------------------------------------------------------


def test_label_is_drawn_in_the_bottom_right_corner_only(photo: Image.Image) -> None:
    labelled = add_label(photo)
    x0, y0, x1, y1 = changed_box(photo, labelled)
    assert labelled.size == photo.size and labelled.mode == "RGB"
    assert x0 > photo.width / 2 and y0 > photo.height * 0.8
    assert photo.width - x1 < 20 and photo.height - y1 < 20
    _, _, text_pixels = text_and_box(labelled, (x0, y0, x1, y1))
    assert text_pixels > 100


@pytest.mark.parametrize("side", [128, 512, 2000])
def test_capital_letters_are_at_least_11_px_tall(side: int) -> None:
    plain = Image.new("RGB", (side, side), (90, 140, 60))
    labelled = add_label(plain, "AI")
    box = changed_box(plain, labelled)
    text, _, _ = text_and_box(labelled, box)
    x0, y0, x1, y1 = box
    inner = np.asarray(labelled)[y0:y1, x0:x1].astype(int)
    is_text = np.abs(inner - text).sum(axis=2) < 60
    rows = np.nonzero(is_text.any(axis=1))[0]
    assert rows.max() - rows.min() + 1 >= 11
    if side == 2000:
        assert rows.max() - rows.min() + 1 >= 0.015 * side  # scales with the image


@pytest.mark.parametrize(
    "colour", [(255, 255, 255), (0, 0, 0), (128, 128, 128), (118, 118, 118), (255, 0, 0)]
)
def test_auto_colours_meet_wcag_contrast_on_flat_colours(colour: tuple[int, int, int]) -> None:
    plain = Image.new("RGB", (400, 300), colour)
    labelled = add_label(plain)
    text, box, _ = text_and_box(labelled, changed_box(plain, labelled))
    assert contrast(text, box) >= 4.5
    assert contrast(box, np.array(colour)) >= 3.0


def test_auto_colours_meet_wcag_contrast_on_photos(photo_paths: list[Path]) -> None:
    for path in photo_paths:
        original = aiwatermark.imageio.open(path).convert("RGB")
        for position in ("top-left", "center", "bottom-right"):
            labelled = add_label(original, position=position)
            box = changed_box(original, labelled)
            text, box_colour, _ = text_and_box(labelled, box)
            assert contrast(text, box_colour) >= 4.5, (path.name, position)
            under = np.asarray(original)[box[1] : box[3], box[0] : box[2]].reshape(-1, 3)
            assert contrast(box_colour, under.mean(axis=0)) >= 3.0, (path.name, position)


def test_low_opacity_is_raised_only_as_far_as_contrast_needs(photo: Image.Image) -> None:
    labelled = add_label(photo, opacity=0.1, position="top-left")
    text, box, _ = text_and_box(labelled, changed_box(photo, labelled))
    assert contrast(text, box) >= 4.5


def test_explicit_background_colour_and_no_box(photo: Image.Image) -> None:
    navy = add_label(photo, background="navy", opacity=1.0)
    text, box, _ = text_and_box(navy, changed_box(photo, navy))
    assert np.allclose(box, (0, 0, 128), atol=2) and np.allclose(text, 255, atol=2)
    bare = add_label(photo, background=None, position="top-left")
    x0, y0, x1, y1 = changed_box(photo, bare)
    drawn = np.asarray(bare)[y0:y1, x0:x1].astype(int)
    # Outlined text: both pure black and pure white pixels, and the photo in between.
    assert (drawn.sum(axis=2) == 0).sum() > 20 and (drawn.sum(axis=2) == 765).sum() > 20


@pytest.mark.parametrize("side", [128, 1024])
@pytest.mark.parametrize("position", POSITIONS)
def test_every_position(position: str, side: int) -> None:
    plain = Image.new("RGB", (side, side), (200, 180, 90))
    labelled = add_label(plain, position=position)
    x0, y0, x1, y1 = changed_box(plain, labelled)
    centre_x, centre_y = (x0 + x1) / 2 / side, (y0 + y1) / 2 / side
    expected_x = 0.5 if position in ("top", "bottom", "center") else None
    expected_y = 0.5 if position in ("left", "right", "center") else None
    if expected_x is not None:
        assert abs(centre_x - expected_x) < 0.01
    else:
        assert (centre_x < 0.5) == position.endswith("left")
    if expected_y is not None:
        assert abs(centre_y - expected_y) < 0.01
    else:
        assert (centre_y < 0.5) == position.startswith("top")
    assert detect_label(labelled).position == position


def test_alpha_and_metadata_are_kept() -> None:
    rgba = np.zeros((300, 400, 4), dtype=np.uint8)
    rgba[..., :3] = (30, 120, 200)
    rgba[..., 3] = np.linspace(0, 255, 400, dtype=np.uint8)[None, :]
    source = Image.fromarray(rgba, "RGBA")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source.info["icc_profile"] = icc
    labelled = add_label(source)
    assert labelled.mode == "RGBA" and labelled.info["icc_profile"] == icc
    x0, y0, x1, y1 = changed_box(source, labelled)
    alpha_in, alpha_out = np.asarray(source)[..., 3], np.asarray(labelled)[..., 3]
    outside = np.ones(alpha_in.shape, bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(alpha_in[outside], alpha_out[outside])
    assert (alpha_out >= alpha_in).all()
    # Saved and re-read, the colour profile is still there.
    buffer = io.BytesIO(aiwatermark.imageio.encode(labelled, "PNG"))
    assert Image.open(buffer).info.get("icc_profile") == icc


def test_greyscale_stays_greyscale(fixtures_dir: Path) -> None:
    grey = Image.open(fixtures_dir / "coffee.png").convert("L")
    labelled = add_label(grey)
    assert labelled.mode == "L"
    assert detect_label(labelled).found


def test_input_is_never_modified(photo: Image.Image) -> None:
    before = photo.tobytes()
    array = np.asarray(photo).copy()
    add_label(photo)
    add_label(array)
    assert photo.tobytes() == before
    assert np.array_equal(array, np.asarray(photo))


def test_paths_and_bytes_are_accepted(photo_paths: list[Path]) -> None:
    for path in photo_paths:
        assert add_label(path).size == Image.open(path).size
        assert add_label(path.read_bytes()).size == Image.open(path).size


def test_custom_truetype_font_for_other_languages(photo: Image.Image) -> None:
    if not DEJAVU.exists():
        pytest.skip("DejaVu Sans is not installed")
    labelled = add_label(photo, "KI-generiert · ÆØÅ", font=DEJAVU)
    assert changed_box(photo, labelled)
    assert detect_label(labelled, "KI-generiert · ÆØÅ", font=DEJAVU).found
    with pytest.raises(ValueError, match="no glyphs"):
        add_label(photo, "ÆØÅ")  # Pillow's built-in font is Latin-only


def _cjk_font() -> str | None:
    if shutil.which("fc-list") is None:
        return None
    listing = subprocess.run(
        ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, check=False
    ).stdout
    files = [line.split(":")[0].strip() for line in listing.splitlines() if line.strip()]
    return next((f for f in files if f.endswith((".ttf", ".otf", ".ttc"))), None)


def test_chinese_label_with_a_cjk_font(photo: Image.Image) -> None:
    font = _cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (fc-list :lang=zh is empty)")
    labelled = add_label(photo, "由AI生成", font=font)
    assert detect_label(labelled, "由AI生成", font=font).found


def test_logo_goes_before_the_text(photo: Image.Image, fixtures_dir: Path) -> None:
    logo = Image.new("RGBA", (60, 60), (255, 0, 0, 255))
    labelled = add_label(photo, logo=logo, position="top-left", opacity=1.0)
    x0, y0, x1, y1 = changed_box(photo, labelled)
    drawn = np.asarray(labelled)[y0:y1, x0:x1].astype(int)
    red = (drawn[..., 0] > 200) & (drawn[..., 1] < 40) & (drawn[..., 2] < 40)
    columns = np.nonzero(red.any(axis=0))[0]
    rows = np.nonzero(red.any(axis=1))[0]
    assert columns.max() < (x1 - x0) / 4  # on the left, before the text
    assert columns.max() - columns.min() == rows.max() - rows.min()  # square stays square
    with_photo_logo = add_label(photo, logo=fixtures_dir / "chelsea.webp")
    assert detect_label(with_photo_logo, logo=fixtures_dir / "chelsea.webp").found


def test_tiny_image_still_gets_a_legible_label() -> None:
    tiny = Image.new("RGB", (128, 128), (40, 40, 40))
    labelled = add_label(tiny)
    x0, _, x1, _ = changed_box(tiny, labelled)
    assert x0 >= 0 and x1 <= 128
    assert detect_label(labelled).found


def test_large_image() -> None:
    big = Image.new("RGB", (3840, 2160), (250, 240, 230))
    labelled = add_label(big, position="bottom-left")
    x0, y0, _, y1 = changed_box(big, labelled)
    assert y1 - y0 > 0.025 * 2160  # scaled up, not a 16 px label lost in a 4K frame
    found = detect_label(labelled)
    assert found.found and found.position == "bottom-left"
    assert found.box is not None and abs(found.box[0] - x0) < 8 and abs(found.box[1] - y0) < 8


@pytest.mark.slow
def test_8k_image(photo: Image.Image) -> None:
    big = photo.resize((7680, 4320))
    labelled = add_label(big)
    assert detect_label(labelled).found
    assert detect_label(labelled.resize((3840, 2160))).found


# --- argument checking ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"position": "middle"}, ValueError, "not one of"),
        ({"opacity": 1.5}, ValueError, "opacity"),
        ({"opacity": -0.1}, ValueError, "opacity"),
        ({"opacity": "high"}, TypeError, "opacity"),
        ({"text": "   "}, ValueError, "empty"),
        ({"text": "two\nlines"}, ValueError, "single line"),
        ({"text": 42}, TypeError, "str"),
        ({"size": 5}, ValueError, "too small to read"),
        ({"margin": -1}, ValueError, "margin"),
        ({"background": "no-such-colour"}, ValueError, "colour"),
        ({"font": "/no/such/font.ttf"}, ValueError, "font.ttf"),
        ({"text": "AI-generated " * 20}, aiwatermark.ImageTooSmallError, "shorter text"),
    ],
)
def test_bad_arguments_give_clear_errors(
    photo: Image.Image, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        add_label(photo, **kwargs)  # type: ignore[arg-type]


def test_image_problems_are_aiwatermark_errors() -> None:
    with pytest.raises(aiwatermark.AiWatermarkError):
        add_label(b"not an image")
    with pytest.raises(aiwatermark.ImageTooSmallError, match="40×40"):
        add_label(Image.new("RGB", (40, 40)))
    with pytest.raises(aiwatermark.AiWatermarkError):
        detect_label(b"not an image")


# --- detection -----------------------------------------------------------------------------


def _jpeg(image: Image.Image, quality: int = 50) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def _half(image: Image.Image) -> Image.Image:
    return image.resize((image.width // 2, image.height // 2), Image.Resampling.BICUBIC)


ATTACKS = {
    "none": lambda im: im,
    "jpeg50": _jpeg,
    "half": _half,
    "half+jpeg50": lambda im: _jpeg(_half(im)),
}


def test_detection_rates_on_real_photos(
    photo_paths: list[Path], skimage_photos: list[Image.Image]
) -> None:
    rng = np.random.default_rng(7)
    images = [aiwatermark.imageio.open(p) for p in photo_paths] + skimage_photos
    found, false_alarms, runs = 0, 0, 0
    for index, image in enumerate(images):
        w, h = image.size
        side = int(rng.integers(256, min(w, h) + 1))
        x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        crop = image.crop((x, y, x + side, y + side))
        labelled = add_label(crop, position=POSITIONS[index % len(POSITIONS)])
        for attack in ATTACKS.values():
            runs += 1
            found += detect_label(attack(labelled)).found
            false_alarms += detect_label(attack(crop)).found
    assert found / runs >= 0.95
    assert false_alarms == 0


def test_detection_result_and_box(photo: Image.Image) -> None:
    labelled = add_label(photo, position="top-right")
    result = detect_label(labelled)
    assert isinstance(result, LabelDetection)
    assert result.found and result.score > 0.9 and result.position == "top-right"
    assert result.box == changed_box(photo, labelled)
    assert json.loads(json.dumps(result.to_dict()))["box"] == list(result.box)
    assert detect_label(labelled, position="top-right").found
    assert not detect_label(labelled, position="bottom-left").found
    assert not detect_label(labelled, "Human-made").found
    missing = detect_label(photo)
    assert not missing.found and missing.box is None and missing.score < 0.65


def test_detection_of_a_label_without_box(photo: Image.Image) -> None:
    labelled = add_label(photo, background=None)
    for attack in ATTACKS.values():
        assert detect_label(attack(labelled), background=None).found
    assert not detect_label(photo, background=None).found


def _crop_keeping(
    image: Image.Image, label: tuple[int, int, int, int], share: float, rng: np.random.Generator
) -> tuple[int, int, int, int]:
    """A random crop of ``share`` of each side that keeps the whole label."""
    width, height = round(image.width * share), round(image.height * share)
    x = int(rng.integers(max(0, label[2] - width), min(label[0], image.width - width) + 1))
    y = int(rng.integers(max(0, label[3] - height), min(label[1], image.height - height) + 1))
    return x, y, x + width, y + height


def test_label_is_found_after_crops_that_keep_it(
    photo_paths: list[Path], skimage_photos: list[Image.Image]
) -> None:
    rng = np.random.default_rng(15)
    photos = [aiwatermark.imageio.open(p).convert("RGB") for p in photo_paths] + [
        im.convert("RGB") for im in skimage_photos
    ]
    found, false_alarms, runs = 0, 0, 0
    for index, photo in enumerate(photos):
        # At 1024 px the font follows the image size, so a crop changes the size the label
        # "should" have; below ~570 px the legible minimum holds it fixed.
        for side in (1024, 600):
            image = photo.resize((side, side), Image.Resampling.LANCZOS)
            position = POSITIONS[(2 * index + side) % len(POSITIONS)]
            labelled = add_label(image, position=position)
            box = changed_box(image, labelled)
            for share, after in ((0.8**0.5, 1.0), (0.8, 1.0), (0.75, 0.5)):
                crop = _crop_keeping(image, box, share, rng)

                def attack(im: Image.Image, crop=crop, after=after) -> Image.Image:
                    cropped = im.crop(crop)
                    size = (round(cropped.width * after), round(cropped.height * after))
                    return _jpeg(cropped.resize(size, Image.Resampling.BICUBIC), 85)

                result = detect_label(attack(labelled))
                runs += 1
                found += result.found
                false_alarms += detect_label(attack(image)).found
                if result.found and after == 1.0:
                    # The box is where the label went in the cropped picture.
                    expected = (box[0] - crop[0], box[1] - crop[1], box[2] - crop[0])
                    assert all(
                        abs(a - b) <= 2 for a, b in zip(result.box[:3], expected, strict=True)
                    )
    assert found / runs >= 0.95, f"{found}/{runs}"
    assert false_alarms == 0


def test_a_given_position_is_searched_alone(photo: Image.Image) -> None:
    image = photo.resize((1024, 1024), Image.Resampling.LANCZOS)
    labelled = add_label(image, position="top-left")
    cropped = labelled.crop((0, 0, 800, 800))
    assert detect_label(cropped).found
    assert detect_label(cropped).position == "top-left"
    # The caller says where the label is: a label elsewhere does not count.
    assert not detect_label(cropped, position="bottom-right").found


@pytest.mark.parametrize("preset", ["eu-ai", "eu-ai-generated", "eu-ai-modified"])
def test_eu_icon_presets_are_drawn_and_found(photo: Image.Image, preset: str) -> None:
    labelled = add_label(photo, preset)
    box = changed_box(photo, labelled)
    plain = changed_box(photo, add_label(photo, "AI"))
    # The icon is the acronym in a frame, wider than the same letters as plain text; with
    # the word it is wider still.
    assert box[2] - box[0] > plain[2] - plain[0]
    if preset != "eu-ai":
        assert box[2] - box[0] > 2 * (plain[2] - plain[0])
    text_colour, box_colour, _ = text_and_box(labelled, box)
    assert contrast(text_colour, box_colour) >= 4.5
    for attack in ATTACKS.values():
        result = detect_label(attack(labelled), preset)
        assert result.found, preset
    assert detect_label(labelled, preset).box == box
    assert not detect_label(photo, preset).found
    assert not detect_label(labelled).found  # the default "AI-generated" is another label
    others = {"eu-ai-generated", "eu-ai-modified"} - {preset}
    assert all(not detect_label(labelled, other).found for other in others)


def test_eu_icon_presets_find_nothing_on_unlabelled_photos(
    photo_paths: list[Path], skimage_photos: list[Image.Image]
) -> None:
    photos = [aiwatermark.imageio.open(p) for p in photo_paths] + skimage_photos
    for image in photos:
        for side in (1024, 256):
            scale = side / min(image.size)
            size = (round(image.width * scale), round(image.height * scale))
            resized = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
            for preset in ("eu-ai", "eu-ai-generated", "eu-ai-modified"):
                assert not detect_label(resized, preset).found
                assert not detect_label(_jpeg(resized, 75), preset).found


def test_mark_and_verify_the_eu_icon(photo_paths: list[Path]) -> None:
    result = aiwatermark.mark(photo_paths[0], label="eu-ai-generated", store=False)
    assert result.data is not None and result.layers[0] == "label"
    report = aiwatermark.verify(result.data, label="eu-ai-generated", store=False)
    assert report.label is not None and report.label.found
    assert any("label: visible AI label found" in line for line in report.evidence)
    # verify is told which label to look for: the default text is not this icon.
    other = aiwatermark.verify(result.data, store=False)
    assert other.label is not None and not other.label.found


def test_mark_and_verify_draw_and_find_a_label_in_the_font_given(photo_paths: list[Path]) -> None:
    font = _cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (fc-list :lang=zh is empty)")
    with pytest.raises(aiwatermark.InvalidArgumentError, match="font="):
        aiwatermark.mark(photo_paths[0], label="由AI生成", store=False, signer=False)
    result = aiwatermark.mark(photo_paths[0], label="由AI生成", font=font, store=False)
    assert result.data is not None
    report = aiwatermark.verify(result.data, label="由AI生成", font=font, store=False)
    assert report.label is not None and report.label.found
    assert any("label: visible AI label found" in line for line in report.evidence)


def test_large_images_are_shrunk_to_the_same_grey_pixels_band_by_band() -> None:
    from aiwatermark.visible._detect import _shrunk_grey

    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (2100, 3001, 3), dtype=np.uint8))
    work = 1024 / 2100
    whole = image.convert("L").resize((round(3001 * work), 1024), Image.Resampling.BOX)
    assert np.array_equal(np.asarray(_shrunk_grey(image, whole.size)), np.asarray(whole))
