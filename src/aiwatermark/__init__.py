"""aiwatermark: make AI-generated images say what they are, and check it later.

Layers (each its own module): :mod:`aiwatermark.visible` (a legible label),
:mod:`aiwatermark.invisible` (a keyed, robust watermark), :mod:`aiwatermark.metadata`
(IPTC/EXIF/PNG disclosure), :mod:`aiwatermark.provenance` (signed C2PA Content Credentials).

Example:
    >>> import aiwatermark
    >>> isinstance(aiwatermark.__version__, str)
    True
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import imageio
from .errors import (
    AiWatermarkError,
    CorruptImageError,
    ImageTooLargeError,
    ImageTooSmallError,
    KeyFileError,
    MetadataError,
    OutputExistsError,
    PayloadError,
    ProvenanceError,
    SigningError,
    StoreError,
    UnsupportedImageError,
)

try:
    __version__ = version("aiwatermark")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "AiWatermarkError",
    "CorruptImageError",
    "ImageTooLargeError",
    "ImageTooSmallError",
    "KeyFileError",
    "MetadataError",
    "OutputExistsError",
    "PayloadError",
    "ProvenanceError",
    "SigningError",
    "StoreError",
    "UnsupportedImageError",
    "__version__",
    "imageio",
]
