"""Image input/output shared by every layer: open anything, save atomically, never lose a file.

Input kinds accepted everywhere (:data:`ImageSource`): a path (``str`` or ``os.PathLike``),
``bytes``, a binary file object, a ``PIL.Image.Image``, a numpy array (H×W, H×W×C, or a batch
of one N×H×W×C; ``uint8`` 0..255 or floats 0..1, as diffusers' ``output_type="np"``) or a
torch tensor (C×H×W or 1×C×H×W; ``uint8`` or floats 0..1, as ``output_type="pt"``); see
``aiwatermark._arrays`` for the exact rules.

Mode policy (what :func:`open` returns):

========================  ==================================================================
source mode               returned mode
========================  ==================================================================
RGB, RGBA, L, LA          unchanged
1                         L
P / PA                    RGBA if it has transparency, else RGB
CMYK, YCbCr, LAB, HSV     RGB
I;16*, I, F               L (16-bit values scaled down to 8 bits, floats clipped to 0..255)
RGBa, La, RGBX            RGBA, LA, RGB
========================  ==================================================================

EXIF orientation is applied so pixels are upright, and the orientation tag is removed from
the EXIF that :func:`save` writes back. ICC profile, EXIF and XMP travel in ``image.info``.

Example:
    >>> from aiwatermark import imageio
    >>> import numpy as np
    >>> im = imageio.open(np.zeros((32, 48, 3), dtype=np.uint8))
    >>> im.size, im.mode
    ((48, 32), 'RGB')
"""

from __future__ import annotations

import builtins
import contextlib
import glob
import io
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Union

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from . import _arrays, _pngbands
from .errors import (
    CorruptImageError,
    ImageTooLargeError,
    InvalidArgumentError,
    OutputExistsError,
    UnsupportedImageError,
)

ImageSource = Union[
    str,
    "os.PathLike[str]",
    bytes,
    bytearray,
    IO[bytes],
    Image.Image,
    np.ndarray,
    _arrays.TensorLike,
]
"""Anything :func:`open` accepts."""

DEFAULT_MAX_PIXELS = 150_000_000
"""Default decompression-bomb limit: 150 megapixels (an 8K square image is 67 MP)."""


def _limit_from_environment() -> int:
    # A bad value must not make `import aiwatermark` (and so the CLI) unusable.
    value = os.environ.get("AIWATERMARK_MAX_PIXELS", "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_MAX_PIXELS


def _allow_in_pillow(limit: int) -> None:
    """Raise Pillow's own bomb guard (it refuses over 2 × MAX_IMAGE_PIXELS) to our limit."""
    pillow = Image.MAX_IMAGE_PIXELS
    if pillow is not None and limit > 2 * pillow:
        Image.MAX_IMAGE_PIXELS = limit // 2 + 1


_max_pixels = _limit_from_environment()
_allow_in_pillow(_max_pixels)

SUFFIX_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".gif": "GIF",
    ".avif": "AVIF",
    ".bmp": "BMP",
}
"""File suffixes :func:`save` understands, and the format each one means."""

FORMAT_MIME = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
    "GIF": "image/gif",
    "AVIF": "image/avif",
    "BMP": "image/bmp",
}
"""The MIME type of each format we write."""

_ALPHA_FORMATS = {"PNG", "WEBP", "TIFF", "AVIF", "GIF"}


def set_max_pixels(limit: int) -> None:
    """Set the pixel-count limit checked before any image is decoded.

    The default is :data:`DEFAULT_MAX_PIXELS`, or the ``AIWATERMARK_MAX_PIXELS`` environment
    variable when set.

    Example:
        >>> from aiwatermark import imageio
        >>> imageio.set_max_pixels(200_000_000)
        >>> imageio.get_max_pixels()
        200000000
        >>> imageio.set_max_pixels(imageio.DEFAULT_MAX_PIXELS)
    """
    global _max_pixels
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        raise InvalidArgumentError(f"the pixel limit must be a positive number, not {limit!r}")
    _max_pixels = int(limit)
    _allow_in_pillow(_max_pixels)


def get_max_pixels() -> int:
    """Return the current decompression-bomb limit in pixels.

    Example:
        >>> from aiwatermark import imageio
        >>> imageio.get_max_pixels() > 0
        True
    """
    return _max_pixels


def describe(src: object) -> str:
    """A short name for ``src`` to put in error messages (the path, or the kind of input).

    Example:
        >>> from aiwatermark import imageio
        >>> imageio.describe("photo.jpg"), imageio.describe(b"...")
        ("'photo.jpg'", 'image bytes')
    """
    if isinstance(src, (str, os.PathLike)):
        return repr(os.fspath(src))
    if isinstance(src, (bytes, bytearray)):
        return "image bytes"
    if isinstance(src, Image.Image):
        return "PIL image"
    if isinstance(src, np.ndarray):
        return "numpy array"
    if _arrays.is_tensor(src):
        return "torch tensor"
    name = getattr(src, "name", None)
    if isinstance(name, str):
        return repr(name)
    return "image stream"


def read_bytes(src: ImageSource) -> bytes:
    """Return the encoded bytes of a path, bytes or file object (not of decoded pixels).

    Layers that work on the file itself (metadata, C2PA) call this; a ``PIL.Image`` or an
    array has no file bytes and raises :class:`UnsupportedImageError`.

    Example:
        >>> from aiwatermark import imageio
        >>> imageio.read_bytes(b"\\xff\\xd8 jpeg bytes")[:2]
        b'\\xff\\xd8'
    """
    if isinstance(src, (bytes, bytearray)):
        data = bytes(src)
    elif isinstance(src, (str, os.PathLike)):
        path = Path(os.fspath(src))
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise UnsupportedImageError(f"{describe(src)}: no such file") from None
        except IsADirectoryError:
            raise UnsupportedImageError(f"{describe(src)}: is a directory, not an image") from None
        except OSError as exc:
            raise UnsupportedImageError(f"{describe(src)}: cannot read ({exc.strerror})") from None
    elif hasattr(src, "read"):
        try:
            data = src.read()
        except OSError as exc:
            raise UnsupportedImageError(f"{describe(src)}: cannot read ({exc})") from None
        if not isinstance(data, (bytes, bytearray)):
            raise UnsupportedImageError(
                f"{describe(src)}: file object must be opened in binary mode ('rb')"
            )
        data = bytes(data)
    else:
        raise UnsupportedImageError(
            f"{describe(src)}: this operation needs an encoded file (path, bytes or binary "
            "file object), not decoded pixels; save the image first"
        )
    if not data:
        raise CorruptImageError(f"{describe(src)}: the file is empty (0 bytes)")
    return data


def _normalise_mode(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in ("RGB", "RGBA", "L", "LA"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        return image.convert("RGBA" if has_alpha else "RGB")
    if mode in ("RGBa", "RGBX"):
        return image.convert("RGBA" if mode == "RGBa" else "RGB")
    if mode == "La":
        return image.convert("LA")
    if mode.startswith("I;16") or mode in ("I", "F"):
        array = np.asarray(image, dtype=np.float64)
        if mode.startswith("I;16") or (mode == "I" and array.max(initial=0) > 255):
            array = array / 257.0
        out = Image.fromarray(np.clip(np.rint(array), 0, 255).astype(np.uint8), "L")
        out.info = dict(image.info)
        return out
    # CMYK, YCbCr, LAB, HSV and anything else Pillow can convert.
    try:
        converted = image.convert("RGB")
    except (ValueError, OSError) as exc:
        raise UnsupportedImageError(f"image mode {mode!r} is not supported ({exc})") from None
    converted.info = dict(image.info)
    if mode == "CMYK":
        # A CMYK ICC profile no longer describes the RGB pixels.
        converted.info.pop("icc_profile", None)
    return converted


@contextlib.contextmanager
def _pillow_errors(name: str) -> Iterator[None]:
    """Turn Pillow's decoding exceptions into ours, naming the input."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # Pillow warns about damaged EXIF it skips; under -W error that would escape raw.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
            yield
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(
            f"{name}: {exc} Downscale it first, or raise the limit with "
            "aiwatermark.imageio.set_max_pixels() / AIWATERMARK_MAX_PIXELS if you trust the file"
        ) from None
    except UnidentifiedImageError:
        raise UnsupportedImageError(
            f"{name}: not an image Pillow can read (supported: JPEG, PNG, WebP, TIFF, GIF, "
            "AVIF, BMP, ...)"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError) as exc:
        raise CorruptImageError(
            f"{name}: the image is damaged or truncated and cannot be decoded ({exc}); "
            "re-export it from the original"
        ) from None
    except MemoryError as exc:  # pragma: no cover - defensive
        raise ImageTooLargeError(f"{name}: not enough memory to decode ({exc})") from None


def check_size(width: int, height: int, name: str, max_pixels: int | None = None) -> None:
    """Raise :class:`ImageTooLargeError` when ``width × height`` exceeds the pixel limit.

    Example:
        >>> from aiwatermark import imageio
        >>> imageio.check_size(100, 100, "x.png")
    """
    limit = _max_pixels if max_pixels is None else max_pixels
    if width * height > limit:
        raise ImageTooLargeError(
            f"{name}: {width}×{height} = {width * height:,} pixels is over the limit of "
            f"{limit:,}; downscale it first, or raise the limit with "
            "aiwatermark.imageio.set_max_pixels() / AIWATERMARK_MAX_PIXELS if you trust the file"
        )


def open(src: ImageSource, *, max_pixels: int | None = None) -> Image.Image:
    """Open any supported input as an upright ``PIL.Image`` in RGB, RGBA, L or LA mode.

    The pixel count is checked against ``max_pixels`` (default :func:`get_max_pixels`) from the
    header, before any pixel is decoded. A ``PIL.Image`` input is copied, never modified.

    Example:
        >>> from aiwatermark import imageio
        >>> from PIL import Image
        >>> imageio.open(Image.new("P", (8, 8))).mode
        'RGB'
    """
    name = describe(src)
    if isinstance(src, Image.Image):
        check_size(src.width, src.height, name, max_pixels)
        with _pillow_errors(name):
            src.load()
            image = src.copy()
            image.info = dict(src.info)
            # In place: Pillow's default returns yet another full copy when there is nothing
            # to turn, and at 150 megapixels each copy is 600 MB.
            ImageOps.exif_transpose(image, in_place=True)
            return _normalise_mode(image)
    if _arrays.is_pixels(src):
        return _arrays.to_image(src, lambda w, h: check_size(w, h, name, max_pixels))
    _, image = _open_file(src, name, max_pixels)
    with _pillow_errors(name):
        image.load()
        fmt = image.format
        ImageOps.exif_transpose(image, in_place=True)
        image = _normalise_mode(image)
        image.format = fmt  # Pillow drops it on transpose/convert
    return image


def _open_file(src: ImageSource, name: str, max_pixels: int | None) -> tuple[bytes, Image.Image]:
    """The file's bytes and the lazily opened image, its size checked before any decoding."""
    data = read_bytes(src)
    if max_pixels is not None:
        _allow_in_pillow(max_pixels)
    with _pillow_errors(name):
        image = Image.open(io.BytesIO(data))
        check_size(image.width, image.height, name, max_pixels)
    return data, image


ANALYSIS_SIDE = 1024
"""Short side of the copy :func:`open_reduced` decodes for the layers that read pixels.

The visible-label search compares images at a 1024-pixel short side, the watermark and the
fingerprint at 512 pixels; none of them reads detail finer than that.
"""

_ROTATED = (5, 6, 7, 8)  # EXIF orientations that swap width and height


def open_reduced(
    src: ImageSource, *, min_side: int = ANALYSIS_SIDE, max_pixels: int | None = None
) -> tuple[Image.Image, tuple[int, int]]:
    """:func:`open_for_reading` at a reduced size, and the (width, height) of the full image.

    For code that reads an image at a lower resolution anyway. A large JPEG is decoded at
    1/2, 1/4 or 1/8 of its size (libjpeg's DCT scaling) and a large PNG a band of rows at a
    time, each band shrunk by a whole factor (box average) as it comes, so a 150-megapixel
    file never needs its 600 MB of full-size pixels. The short side stays at least
    ``min_side`` (when the image has one that long). Other formats, and inputs that are
    already pixels, are opened at full size. The size returned is upright (EXIF orientation
    applied), as is the image.

    Example:
        >>> from aiwatermark import imageio
        >>> image, size = imageio.open_reduced("fixtures/astronaut.jpg", min_side=200)
        >>> image.size, size
        ((256, 256), (512, 512))
    """
    if not isinstance(min_side, int) or isinstance(min_side, bool) or min_side <= 0:
        raise InvalidArgumentError(f"min_side must be a positive number, not {min_side!r}")
    if isinstance(src, Image.Image) or _arrays.is_pixels(src):
        image = open_for_reading(src, max_pixels=max_pixels)
        return image, image.size
    name = describe(src)
    data, image = _open_file(src, name, max_pixels)
    with _pillow_errors(name):
        size = image.size
        fmt = image.format
        factor = min(size) // min_side
        banded = None
        if factor >= 2 and fmt in ("JPEG", "MPO"):
            image.draft(image.mode, (min_side, min_side))
        elif factor >= 2 and fmt == "PNG":
            banded = _pngbands.decode_reduced(data, factor, _normalise_mode)
        if banded is not None:
            banded.info = {**image.info, **banded.info}
            image = banded
        image.load()
        if image.getexif().get(ExifTags.Base.Orientation, 1) in _ROTATED:
            size = (size[1], size[0])
        ImageOps.exif_transpose(image, in_place=True)
        image = _normalise_mode(image)
        image.format = fmt
    return image, size


def frame_count(src: ImageSource) -> int:
    """How many frames (of an animation, or pages) ``src`` holds; 1 for a still image.

    Read from the headers, no pixel is decoded. An MPO's extra frames are previews or depth
    maps of the same picture that a JPEG encoder drops, so an MPO counts as one frame.

    Example:
        >>> from aiwatermark import imageio
        >>> imageio.frame_count("fixtures/astronaut.jpg")
        1
    """
    if _arrays.is_pixels(src):
        return 1  # arrays and tensors hold one picture (a batch goes to mark_many)
    if isinstance(src, Image.Image):
        return 1 if src.format == "MPO" else int(getattr(src, "n_frames", 1))
    name = describe(src)
    data = read_bytes(src)
    with _pillow_errors(name), Image.open(io.BytesIO(data)) as image:
        return 1 if image.format == "MPO" else int(getattr(image, "n_frames", 1))


def open_for_reading(src: ImageSource, *, max_pixels: int | None = None) -> Image.Image:
    """:func:`open` for code that only reads the pixels: an upright ``PIL.Image`` already in
    RGB, RGBA, L or LA mode is returned as it is instead of copied.

    Decoding layers (watermark, label, fingerprint) each used to copy the caller's image;
    at 150 megapixels that is 600 MB a layer. The image returned may be the caller's own
    object, so it must not be modified.

    Example:
        >>> from aiwatermark import imageio
        >>> from PIL import Image
        >>> im = Image.new("RGB", (8, 8))
        >>> imageio.open_for_reading(im) is im
        True
        >>> imageio.open_for_reading(Image.new("P", (8, 8))).mode
        'RGB'
    """
    if isinstance(src, Image.Image) and src.mode in ("RGB", "RGBA", "L", "LA"):
        name = describe(src)
        check_size(src.width, src.height, name, max_pixels)
        with _pillow_errors(name):  # damaged EXIF is the image's error, named as such
            src.load()
            upright = src.getexif().get(ExifTags.Base.Orientation, 1) == 1
        if upright:
            return src
    return open(src, max_pixels=max_pixels)


def split_alpha(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """Split an opened image into its colour part (RGB or L) and its alpha band (or None).

    Pixel layers change the colour part only and put the alpha back with :func:`merge_alpha`.

    Example:
        >>> from aiwatermark import imageio
        >>> from PIL import Image
        >>> colour, alpha = imageio.split_alpha(Image.new("RGBA", (4, 4)))
        >>> colour.mode, alpha.mode
        ('RGB', 'L')
    """
    if image.mode in ("RGBA", "LA"):
        colour = image.convert(image.mode[:-1])
        colour.info = dict(image.info)
        return colour, image.getchannel("A")
    return image, None


def merge_alpha(colour: Image.Image, alpha: Image.Image | None) -> Image.Image:
    """Reattach an alpha band split off by :func:`split_alpha`.

    Example:
        >>> from aiwatermark import imageio
        >>> from PIL import Image
        >>> imageio.merge_alpha(*imageio.split_alpha(Image.new("LA", (4, 4)))).mode
        'LA'
    """
    if alpha is None:
        return colour
    out = colour.copy()
    out.putalpha(alpha)
    out.info = dict(colour.info)
    return out


def format_for(path: str | os.PathLike[str], format: str | None = None) -> str:
    """The Pillow format name for writing ``path`` (explicit ``format`` wins over the suffix).

    Example:
        >>> from aiwatermark import imageio
        >>> imageio.format_for("out.JPG")
        'JPEG'
    """
    if format is not None and not isinstance(format, str):
        raise InvalidArgumentError(f"format must be a name such as 'JPEG', not {format!r}")
    if format:
        fmt = format.upper().replace("JPG", "JPEG")
        if fmt not in FORMAT_MIME:
            raise UnsupportedImageError(
                f"cannot write format {format!r}; choose one of {', '.join(sorted(FORMAT_MIME))}"
            )
        return fmt
    suffix = Path(os.fspath(path)).suffix.lower()
    if suffix not in SUFFIX_FORMATS:
        raise UnsupportedImageError(
            f"{describe(path)}: cannot tell the format from the suffix {suffix or '(none)'!r}; "
            f"use one of {', '.join(sorted(SUFFIX_FORMATS))} or pass format="
        )
    return SUFFIX_FORMATS[suffix]


def encode(
    image: Image.Image,
    format: str,
    *,
    quality: int = 95,
    keep_metadata: bool = True,
    **options: Any,
) -> bytes:
    """Encode ``image`` to bytes: JPEG at quality 95 with 4:4:4 chroma unless told otherwise.

    ICC profile, EXIF (orientation removed) and XMP in ``image.info`` are written back when
    ``keep_metadata`` is true and the format can hold them. Alpha is dropped (flattened on
    white) for formats without it, such as JPEG.

    Example:
        >>> from aiwatermark import imageio
        >>> from PIL import Image
        >>> imageio.encode(Image.new("RGB", (8, 8)), "JPEG")[:2]
        b'\\xff\\xd8'
    """
    fmt = format_for("x", format)
    params: dict[str, Any] = {}
    if fmt == "JPEG":
        params.update(quality=quality, subsampling=0, optimize=False)
    elif fmt in ("WEBP", "AVIF"):
        params.update(quality=quality)
    if not keep_metadata:
        # Pillow falls back to image.info for anything not passed; say "none" explicitly.
        params.update(icc_profile=None, exif=b"")
        if fmt in ("JPEG", "WEBP", "AVIF"):
            params["xmp"] = b""
    else:
        for key in ("icc_profile", "exif", "xmp"):
            value = image.info.get(key)
            if value and fmt in ("JPEG", "WEBP", "PNG", "TIFF", "AVIF"):
                if key == "xmp" and fmt in ("PNG", "TIFF"):
                    continue  # written by aiwatermark.metadata as an iTXt chunk / TIFF tag
                if key == "exif" and isinstance(value, bytes) and fmt == "TIFF":
                    continue
                params[key] = value
    params.update(options)
    out = image
    if fmt not in _ALPHA_FORMATS and image.mode in ("RGBA", "LA"):
        background = Image.new(image.mode[:-1], image.size, 255 if image.mode == "LA" else "white")
        background.paste(image, mask=image.getchannel("A"))
        background.info = dict(image.info)
        out = background
    buffer = io.BytesIO()
    try:
        out.save(buffer, fmt, **params)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UnsupportedImageError(f"cannot encode a {image.mode} image as {fmt}: {exc}") from None
    return buffer.getvalue()


def same_file(a: object, b: object) -> bool:
    """True when ``a`` and ``b`` are paths to one existing file (links and ``..`` resolved).

    Example:
        >>> from aiwatermark import imageio
        >>> imageio.same_file("fixtures/astronaut.jpg", "fixtures/../fixtures/astronaut.jpg")
        True
    """
    if not isinstance(a, (str, os.PathLike)) or not isinstance(b, (str, os.PathLike)):
        return False
    try:
        return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)
    except OSError:
        return False


def check_writable(
    dst: str | os.PathLike[str], *, overwrite: bool = False, protect: tuple[object, ...] = ()
) -> Path:
    """Raise :class:`OutputExistsError` unless :func:`write_atomic` may write ``dst``.

    Callers that do expensive work before writing check first, so a re-run fails fast.

    Example:
        >>> import tempfile, pathlib
        >>> from aiwatermark import imageio
        >>> imageio.check_writable(pathlib.Path(tempfile.mkdtemp()) / "new.png").name
        'new.png'
    """
    path = Path(os.fspath(dst))
    if path.is_dir():
        raise OutputExistsError(f"{describe(dst)} is a directory; give a file name")
    if overwrite:
        return path
    if any(same_file(path, other) for other in protect):
        raise OutputExistsError(
            f"{describe(dst)} is the input file; refusing to overwrite it "
            "(pass overwrite=True / --overwrite to edit in place)"
        )
    if path.exists():
        raise OutputExistsError(
            f"{describe(dst)} already exists; choose another name or pass overwrite=True "
            "(--overwrite)"
        )
    return path


def write_atomic(
    data: bytes,
    dst: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    protect: tuple[object, ...] = (),
) -> Path:
    """Write ``data`` to ``dst`` via a temporary file and a rename: all of it or nothing.

    Refuses to replace an existing file unless ``overwrite`` is true, and refuses to replace
    any path in ``protect`` (the inputs) unless ``overwrite`` is true as well.

    Example:
        >>> import tempfile, pathlib
        >>> from aiwatermark import imageio
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.bin"
        >>> imageio.write_atomic(b"abc", target).read_bytes()
        b'abc'
    """
    path = check_writable(dst, overwrite=overwrite, protect=protect)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=_partial_prefix(path), suffix=_PARTIAL_SUFFIX, dir=directory
        )
    except OSError as exc:
        raise OutputExistsError(f"{describe(dst)}: cannot write there ({exc.strerror})") from None
    try:
        with builtins.open(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        if isinstance(exc, OSError):
            raise OutputExistsError(f"{describe(dst)}: write failed ({exc.strerror})") from None
        raise
    return path


_PARTIAL_SUFFIX = ".tmp"


def _partial_prefix(path: Path) -> str:
    # Hidden, so that folder scans (the CLI's INPUT expansion) never pick one up.
    return f".{path.name}."


def partial_files(dst: str | os.PathLike[str]) -> list[Path]:
    """The temporary files :func:`write_atomic` left beside ``dst`` when its process was killed
    mid-write (it removes its own on any exception); safe to delete once that process is gone.

    Example:
        >>> import tempfile, pathlib
        >>> from aiwatermark import imageio
        >>> imageio.partial_files(pathlib.Path(tempfile.mkdtemp()) / "a.png")
        []
    """
    path = Path(os.fspath(dst))
    return sorted(path.parent.glob(f"{glob.escape(_partial_prefix(path))}*{_PARTIAL_SUFFIX}"))


def save(
    image: Image.Image,
    dst: str | os.PathLike[str],
    *,
    format: str | None = None,
    quality: int = 95,
    overwrite: bool = False,
    protect: tuple[object, ...] = (),
    **options: Any,
) -> Path:
    """Save ``image`` to ``dst`` atomically, format from the suffix unless ``format`` is given.

    JPEG is written at quality 95 with 4:4:4 chroma; ICC, EXIF and XMP in ``image.info`` are
    kept. An existing file is only replaced with ``overwrite=True``.

    Example:
        >>> import tempfile, pathlib
        >>> from aiwatermark import imageio
        >>> from PIL import Image
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "x.png"
        >>> imageio.save(Image.new("RGB", (8, 8)), out).suffix
        '.png'
    """
    fmt = format_for(dst, format)
    data = encode(image, fmt, quality=quality, **options)
    return write_atomic(data, dst, overwrite=overwrite, protect=protect)


__all__ = [
    "ANALYSIS_SIDE",
    "DEFAULT_MAX_PIXELS",
    "FORMAT_MIME",
    "SUFFIX_FORMATS",
    "ImageSource",
    "check_size",
    "check_writable",
    "describe",
    "encode",
    "format_for",
    "frame_count",
    "get_max_pixels",
    "merge_alpha",
    "open",
    "open_reduced",
    "partial_files",
    "read_bytes",
    "same_file",
    "save",
    "set_max_pixels",
    "split_alpha",
    "write_atomic",
]
