"""Draw a legible "AI-generated" label onto an image."""

from __future__ import annotations

import math
import os

import numpy as np
from PIL import Image, ImageColor

from .. import imageio
from ..errors import InvalidArgumentError
from ._contrast import RGB, auto_colours, best_text_colour
from ._layout import POSITIONS, Layout, draw, load_font, min_font_px, missing_glyphs, plan

Background = str | tuple[int, int, int] | None
"""``"auto"``, a colour (Pillow colour name, ``"#rrggbb"`` or an RGB tuple) or ``None``."""


def check_text(text: object) -> str:
    """Reject label text that cannot be drawn as one line."""
    if not isinstance(text, str):
        raise InvalidArgumentError(f"text must be a str, not {type(text).__name__}")
    if not text.strip():
        raise InvalidArgumentError("text is empty; give the words the label should show")
    if any(not char.isprintable() for char in text):
        raise InvalidArgumentError(f"text {text!r} must be a single line of printable characters")
    return text.strip()


def check_position(position: object) -> str:
    """Reject a position that is not one of :data:`POSITIONS`."""
    if position not in POSITIONS:
        raise InvalidArgumentError(f"position {position!r} is not one of {', '.join(POSITIONS)}")
    return str(position)


def check_layout_options(
    size: int | None, margin: int | None, font: str | os.PathLike[str] | None, text: str
) -> None:
    """Reject a size, margin or font that would give an illegible or broken label."""
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int):
            raise InvalidArgumentError(
                f"size must be an int (font size in pixels) or None, not {size!r}"
            )
        floor = min_font_px(font)
        if size < floor:
            raise InvalidArgumentError(
                f"size={size} is too small to read; capital letters need at least font size "
                f"{floor} in this font (or pass size=None to scale with the image)"
            )
    if margin is not None and (isinstance(margin, bool) or not isinstance(margin, int)):
        raise InvalidArgumentError(f"margin must be an int (pixels) or None, not {margin!r}")
    if margin is not None and margin < 0:
        raise InvalidArgumentError(f"margin must be >= 0 pixels, not {margin}")
    missing = missing_glyphs(load_font(font, min_font_px(font)), text)
    if missing:
        source = "Pillow's built-in font" if font is None else repr(os.fspath(font))
        raise InvalidArgumentError(
            f"{source} has no glyphs for {missing!r}; pass font= the path of a .ttf/.otf "
            "font that covers this script (e.g. a Noto font)"
        )


def parse_colour(background: object) -> RGB:
    """The RGB colour ``background`` names, or an error saying what is accepted."""
    if isinstance(background, str):
        try:
            red, green, blue = ImageColor.getrgb(background)[:3]
        except ValueError:
            raise InvalidArgumentError(
                f"background {background!r} is not 'auto', None or a colour Pillow knows "
                "(a name like 'black', '#rrggbb', 'rgb(…)')"
            ) from None
        return red, green, blue
    if (
        isinstance(background, tuple)
        and len(background) == 3
        and all(isinstance(v, int) and 0 <= v <= 255 for v in background)
    ):
        return background[0], background[1], background[2]
    raise InvalidArgumentError(
        f"background {background!r} must be 'auto', None, a colour name or (r, g, b)"
    )


def _check_opacity(opacity: object) -> float:
    if isinstance(opacity, bool) or not isinstance(opacity, (int, float)):
        raise InvalidArgumentError(f"opacity must be a number from 0 to 1, not {opacity!r}")
    if not (math.isfinite(opacity) and 0.0 <= opacity <= 1.0):
        raise InvalidArgumentError(
            f"opacity must be from 0 (see-through box) to 1 (solid box), not {opacity}"
        )
    return float(opacity)


def _colours(
    background: Background, under: np.ndarray, opacity: float
) -> tuple[RGB | None, RGB, RGB | None, float]:
    """(box colour or None, text colour, halo colour or None, box opacity)."""
    if background == "auto":
        box, ink, alpha = auto_colours(under, opacity)
        return box, ink, None, alpha
    mean = under.reshape(-1, 3).mean(axis=0)
    if background is None:
        ink = best_text_colour(mean)
        halo = best_text_colour(np.asarray(ink, dtype=np.float64))
        return None, ink, halo, opacity
    box = parse_colour(background)
    seen = opacity * np.asarray(box, dtype=np.float64) + (1.0 - opacity) * mean
    return box, best_text_colour(seen), None, opacity


def add_label(
    image: imageio.ImageSource,
    text: str = "AI-generated",
    *,
    position: str = "bottom-right",
    size: int | None = None,
    opacity: float = 0.85,
    margin: int | None = None,
    background: Background = "auto",
    font: str | os.PathLike[str] | None = None,
    logo: imageio.ImageSource | None = None,
) -> Image.Image:
    """Return a copy of ``image`` with a visible label such as "AI-generated" drawn on it.

    The label is a rounded box with one line of text (after an optional ``logo``). Its
    size follows the image: the font is 2.8 % of the short side, but capital letters are
    never shorter than 11 px, and it shrinks towards that minimum when long text would
    not fit across the image. The input is never modified; alpha, ICC profile, EXIF and
    XMP are kept (save with :func:`aiwatermark.imageio.save`).

    Args:
        image: any :data:`aiwatermark.imageio.ImageSource`.
        text: one line of text; any script the font has glyphs for. A name in
            :data:`PRESETS` (``"eu-ai"``, ``"eu-ai-generated"``, ``"eu-ai-modified"``) draws
            the EU's common icon instead: a heavy "AI" in a frame, with the word or not.
        position: one of :data:`POSITIONS`: a corner ("bottom-right"), an edge's middle
            ("top", "bottom", "left", "right") or "center".
        size: font size in pixels per em; ``None`` scales it with the image.
        opacity: opacity of the box from 0 to 1; the text itself is always opaque.
        margin: gap to the image edge in pixels; ``None`` is 2 % of the short side.
        background: ``"auto"`` picks a dark box with white text on light surroundings and a
            light box with black text on dark ones, raising the box opacity where needed so
            the text keeps a WCAG contrast ratio of at least 4.5:1 with the box and the box
            3:1 with the average of what it covers. A colour (name, ``"#rrggbb"`` or RGB
            tuple) fixes the box colour (text black or white, whichever contrasts more).
            ``None`` draws no box: black or white text (>= 4.5:1 against the average of
            the pixels underneath) with an outline in the other one.
        font: path of a TrueType/OpenType font, for scripts Pillow's built-in font lacks
            (e.g. a Noto CJK font for "由AI生成").
        logo: an image drawn before the text, scaled to the text's height.

    Raises:
        InvalidArgumentError: a bad argument (unknown position, opacity outside 0..1,
            empty text, size too small to read, a font that cannot be loaded or lacks
            glyphs for the text). These are programming errors, not image problems.
        aiwatermark.ImageTooSmallError: the label cannot fit on the image at a legible size.
        aiwatermark.AiWatermarkError: ``image`` or ``logo`` cannot be read.

    Example:
        >>> from PIL import Image
        >>> from aiwatermark.visible import add_label
        >>> labelled = add_label(Image.new("RGB", (640, 480), "skyblue"), position="top-left")
        >>> labelled.size, labelled.getpixel((20, 20)) != (135, 206, 235)
        ((640, 480), True)
    """
    text = check_text(text)
    position = check_position(position)
    opacity = _check_opacity(opacity)
    if background not in ("auto", None):
        parse_colour(background)
    check_layout_options(size, margin, font, text)
    opened = imageio.open_for_reading(image)
    logo_image = None if logo is None else imageio.open(logo).convert("RGBA")
    colour, alpha = imageio.split_alpha(opened)
    layout = plan(
        colour.size,
        text,
        position=position,
        size=size,
        margin=margin,
        font=font,
        logo_aspect=None if logo_image is None else logo_image.width / logo_image.height,
    )
    region = colour.crop(layout.box)
    under = np.asarray(region.convert("RGB"))
    box, ink, halo, box_alpha = _colours(background, under, opacity)
    label = draw(
        layout,
        text,
        box=None if box is None else (*box, round(255 * box_alpha)),
        ink=(*ink, 255),
        halo=None if halo is None else (*halo, 255),
        logo=logo_image,
    )
    return _composite(opened, colour, alpha, layout, label)


def _composite(
    opened: Image.Image,
    colour: Image.Image,
    alpha: Image.Image | None,
    layout: Layout,
    label: Image.Image,
) -> Image.Image:
    corner = layout.box[:2]
    region = colour.crop(layout.box)
    if alpha is not None:
        region = imageio.merge_alpha(region, alpha.crop(layout.box))
    # alpha_composite is a true "over": the label also shows on transparent pixels.
    painted = region.convert("RGBA")
    painted.alpha_composite(label)
    out_colour = colour.copy()
    out_colour.paste(painted.convert(colour.mode), corner)
    out_alpha = None
    if alpha is not None:
        out_alpha = alpha.copy()
        out_alpha.paste(painted.getchannel("A"), corner)
    result = imageio.merge_alpha(out_colour, out_alpha)
    result.info = dict(opened.info)
    return result
