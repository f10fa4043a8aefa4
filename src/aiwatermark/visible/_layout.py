"""Where the label goes and how big it is: one set of rules shared by drawing and detection."""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from ..errors import ImageTooSmallError, InvalidArgumentError

POSITIONS = (
    "top-left",
    "top",
    "top-right",
    "left",
    "center",
    "right",
    "bottom-left",
    "bottom",
    "bottom-right",
)
"""Where a label can go: the four corners, the middle of each edge, and the centre."""

PRESETS = {
    "eu-ai": ("AI", ""),
    "eu-ai-generated": ("AI", "GENERATED"),
    "eu-ai-modified": ("AI", "MODIFIED"),
}
"""Label texts drawn as the EU's common icon for AI content: a bold "AI", with a word or not.

The EU Code of Practice on marking and labelling AI-generated content (June 2026) gives
deployers one icon, the capitalised acronym "AI", optionally with "GENERATED" or
"MODIFIED". These are drawn here in that style (not a copy of the published artwork):
``text="eu-ai-generated"`` draws a heavy "AI" followed by "GENERATED", in a box coloured
for contrast like any other label.
"""

MIN_CAP_HEIGHT = 11
"""Capital letters are never drawn shorter than this many pixels, however small the image."""

SIZE_FRACTION = 0.028
"""Automatic font size (em height) as a fraction of the image's short side."""

MARGIN_FRACTION = 0.02
"""Automatic gap between the label and the image edge, as a fraction of the short side."""

_FontSource = str | os.PathLike[str] | None


@functools.lru_cache(maxsize=64)
def _load(path: str | None, px: int) -> ImageFont.FreeTypeFont:
    if path is None:
        # Pillow's built-in font (Aileron) needs FreeType, which every Pillow wheel has.
        font = ImageFont.load_default(size=px)
        if not isinstance(font, ImageFont.FreeTypeFont):  # pragma: no cover - no FreeType
            raise InvalidArgumentError(
                "this Pillow build has no FreeType support; pass font= a .ttf path"
            )
        return font
    try:
        return ImageFont.truetype(path, px)
    except OSError as exc:
        raise InvalidArgumentError(
            f"font {path!r} cannot be loaded as a TrueType/OpenType font ({exc})"
        ) from None


def load_font(font: _FontSource, px: int) -> ImageFont.FreeTypeFont:
    """The font at ``px`` pixels per em: ``font`` (a .ttf/.otf path) or Pillow's built-in one."""
    if font is not None and not isinstance(font, (str, os.PathLike)):
        raise InvalidArgumentError(
            f"font must be a path to a .ttf/.otf file or None, not {type(font).__name__}"
        )
    return _load(None if font is None else os.fspath(font), px)


def cap_height(font: ImageFont.FreeTypeFont) -> int:
    """Height in pixels of a capital H drawn in ``font``."""
    _, top, _, bottom = font.getbbox("H", anchor="ls")
    return int(bottom - top)


@functools.lru_cache(maxsize=16)
def _min_px(path: str | None) -> int:
    px = MIN_CAP_HEIGHT
    while cap_height(_load(path, px)) < MIN_CAP_HEIGHT and px < 20 * MIN_CAP_HEIGHT:
        px += 1
    return px


def min_font_px(font: _FontSource) -> int:
    """Smallest font size (pixels per em) at which ``font``'s capitals are legible."""
    load_font(font, MIN_CAP_HEIGHT)  # fails early on a bad font
    return _min_px(None if font is None else os.fspath(font))


def missing_glyphs(font: ImageFont.FreeTypeFont, text: str) -> str:
    """The characters of ``text`` that ``font`` would draw as an empty "tofu" box."""
    # A private-use code point in plane 16 is in no ordinary font: it shows the .notdef box.
    notdef = font.getmask("\U0010fffd")
    tofu = (notdef.size, bytes(notdef))
    missing = []
    for char in dict.fromkeys(text):
        if char.isspace():
            continue
        mask = font.getmask(char)
        if (mask.size, bytes(mask)) == tofu:
            missing.append(char)
    return "".join(missing)


@dataclass(frozen=True)
class Layout:
    """The geometry of one label on one image size (all values in pixels)."""

    font: ImageFont.FreeTypeFont
    font_px: int
    box: tuple[int, int, int, int]
    """(left, top, right, bottom) of the label's box in image coordinates."""
    text_origin: tuple[int, int]
    """Left end of the text's baseline, relative to the box."""
    logo_box: tuple[int, int, int, int] | None
    """Where the logo goes, relative to the box."""
    radius: int
    halo: int
    """Outline width used when the label has no box."""

    @property
    def size(self) -> tuple[int, int]:
        return self.box[2] - self.box[0], self.box[3] - self.box[1]


def _parts(text: str, font: ImageFont.FreeTypeFont, px: int) -> list[tuple[int, str, int]]:
    """(x offset from the text origin, text, extra stroke for weight) of each run drawn."""
    if text not in PRESETS:
        return [(0, text, 0)]
    mark, word = PRESETS[text]
    # Pillow's built-in font has one weight: the acronym is made heavy with a stroke in its
    # own colour, which is what makes the icon read as a mark rather than as a word.
    weight = max(1, round(0.07 * px))
    parts = [(0, mark, weight)]
    if word:
        frame = _frame(text, font, px)
        right = frame[2] if frame is not None else round(font.getlength(mark)) + weight
        parts.append((right + round(0.3 * px), word, 0))
    return parts


def _frame(text: str, font: ImageFont.FreeTypeFont, px: int) -> tuple[int, int, int, int] | None:
    """The outlined square around a preset's "AI" (relative to the text origin), or None."""
    if text not in PRESETS:
        return None
    # The frame makes the short acronym a shape of its own: an icon people learn to spot,
    # and a pattern that ordinary image texture does not match by chance.
    weight = max(1, round(0.07 * px))
    left, top, right, bottom = font.getbbox(PRESETS[text][0], anchor="ls", stroke_width=weight)
    pad = round(0.2 * px) + _frame_width(px)
    return int(left) - pad, int(top) - pad, int(right) + pad, int(bottom) + pad


def _frame_width(px: int) -> int:
    return max(1, round(0.07 * px))


def _bbox(text: str, font: ImageFont.FreeTypeFont, px: int) -> tuple[int, int, int, int]:
    """Bounding box of ``text`` (or of a preset's runs and frame) around its baseline origin."""
    boxes = []
    for dx, run, weight in _parts(text, font, px):
        left, top, right, bottom = font.getbbox(run, anchor="ls", stroke_width=weight)
        boxes.append((int(left) + dx, int(top), int(right) + dx, int(bottom)))
    frame = _frame(text, font, px)
    if frame is not None:
        boxes.append(frame)
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _measure(
    text: str, font: ImageFont.FreeTypeFont, px: int, logo_aspect: float | None
) -> tuple[int, int, tuple[int, int], tuple[int, int, int, int] | None]:
    left, top, right, bottom = _bbox(text, font, px)
    text_w, text_h = right - left, bottom - top
    pad_x, pad_y = max(3, round(0.4 * px)), max(2, round(0.25 * px))
    x = pad_x
    logo_box = None
    if logo_aspect is not None:
        logo_w = max(1, round(text_h * logo_aspect))
        logo_box = (x, pad_y, x + logo_w, pad_y + text_h)
        x += logo_w + max(2, round(0.3 * px))
    origin = (x - left, pad_y - top)
    return x + text_w + pad_x, text_h + 2 * pad_y, origin, logo_box


def plan(
    image_size: tuple[int, int],
    text: str,
    *,
    position: str,
    size: int | None,
    margin: int | None,
    font: _FontSource,
    logo_aspect: float | None,
) -> Layout:
    """Lay out ``text`` (and a logo of the given width/height ratio) on an image of this size.

    With ``size=None`` the font is :data:`SIZE_FRACTION` of the short side, never below the
    legible minimum, and shrunk towards that minimum when the text would not fit across.
    """
    width, height = image_size
    short = min(width, height)
    floor = min_font_px(font)
    if margin is None:
        margin = max(2, round(MARGIN_FRACTION * short))
    px = size if size is not None else max(floor, round(SIZE_FRACTION * short))
    while True:
        face = load_font(font, px)
        box_w, box_h, origin, logo_box = _measure(text, face, px, logo_aspect)
        room_w, room_h = width - 2 * margin, height - 2 * margin
        if box_w <= room_w and box_h <= room_h:
            break
        if size is not None or px <= floor:
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise ImageTooSmallError(
                f"the label {shown!r} needs {box_w}×{box_h} px (font size {px}) plus a "
                f"{margin} px margin, but the image is only {width}×{height}; use shorter "
                f"text{', a smaller size' if size is not None else ''} or a larger image"
            )
        px = max(floor, min(px - 1, math.floor(px * min(room_w / box_w, room_h / box_h))))
    columns = {"left": margin, "center": (width - box_w) // 2, "right": width - margin - box_w}
    rows = {"top": margin, "center": (height - box_h) // 2, "bottom": height - margin - box_h}
    vertical, _, horizontal = position.rpartition("-")
    if not vertical:
        # An edge name alone ("top", "left", ...) means the middle of that edge.
        vertical, horizontal = (
            (horizontal, "center") if horizontal in rows else ("center", horizontal)
        )
    x0, y0 = columns[horizontal], rows[vertical]
    return Layout(
        font=face,
        font_px=px,
        box=(x0, y0, x0 + box_w, y0 + box_h),
        text_origin=origin,
        logo_box=logo_box,
        radius=max(2, round(0.2 * px)),
        halo=max(1, round(0.08 * px)),
    )


RGBA = tuple[int, int, int, int]


def draw(
    layout: Layout,
    text: str,
    *,
    box: RGBA | None,
    ink: RGBA,
    halo: RGBA | None,
    logo: Image.Image | None,
) -> Image.Image:
    """Render the label as an RGBA image the size of its box, ready to composite.

    ``logo=None`` with a logo box in the layout leaves the logo area fully transparent.
    """
    label = Image.new("RGBA", layout.size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(label)
    if box is not None:
        pen.rounded_rectangle(
            (0, 0, layout.size[0] - 1, layout.size[1] - 1), radius=layout.radius, fill=box
        )
    if layout.logo_box is not None:
        x0, y0, x1, y1 = layout.logo_box
        if logo is None:
            label.paste((0, 0, 0, 0), layout.logo_box)
        else:
            scaled = logo.convert("RGBA").resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS)
            label.alpha_composite(scaled, (x0, y0))
    x, y = layout.text_origin
    frame = _frame(text, layout.font, layout.font_px)
    if frame is not None:
        corners = (x + frame[0], y + frame[1], x + frame[2] - 1, y + frame[3] - 1)
        width = _frame_width(layout.font_px)
        radius = max(1, round(0.15 * layout.font_px))
        if halo is not None:
            h = layout.halo
            around = (corners[0] - h, corners[1] - h, corners[2] + h, corners[3] + h)
            pen.rounded_rectangle(around, radius=radius + h, outline=halo, width=width + 2 * h)
        pen.rounded_rectangle(corners, radius=radius, outline=ink, width=width)
    for dx, run, weight in _parts(text, layout.font, layout.font_px):
        # Without a box the text is outlined in the halo colour; a heavy run (the icon's
        # "AI") is then drawn again over its outline, thickened in its own colour.
        strokes = [] if halo is None else [(weight + layout.halo, halo)]
        if halo is None or weight:
            strokes.append((weight, ink))
        for stroke_width, stroke_fill in strokes:
            pen.text(
                (x + dx, y),
                run,
                font=layout.font,
                fill=ink,
                anchor="ls",
                stroke_width=stroke_width,
                stroke_fill=stroke_fill,
            )
    return label
