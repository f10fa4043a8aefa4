"""aiwatermark: make AI-generated images say what they are, and check it later.

Layers (each its own module): :mod:`aiwatermark.visible` (a legible label),
:mod:`aiwatermark.invisible` (a keyed, robust watermark), :mod:`aiwatermark.metadata`
(IPTC/EXIF/PNG disclosure), :mod:`aiwatermark.provenance` (signed C2PA Content Credentials).

:func:`mark` applies all of them in one call and :func:`verify` reads them all back;
:func:`mark_many` and :func:`verify_many` do the same for batches, in worker processes.

Example:
    >>> import aiwatermark, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "marked.jpg"
    >>> result = aiwatermark.mark("fixtures/astronaut.jpg", out, generator="Example Diffusion")
    >>> aiwatermark.verify(out).ai_generated
    True
"""

from importlib import metadata as _metadata

from . import consent, imageio
from ._batch import Batch, ItemResult, mark_many, verify_many
from ._pipeline import MarkResult, mark, verify
from .errors import (
    AiWatermarkError,
    BatchStoppedError,
    ConsentError,
    CorruptImageError,
    ImageTooLargeError,
    ImageTooSmallError,
    InvalidArgumentError,
    KeyFileError,
    MetadataError,
    MissingDependencyError,
    OutputExistsError,
    PayloadError,
    PayloadTakenError,
    ProvenanceError,
    SigningError,
    StoreError,
    UnsupportedImageError,
    WorkerCrashedError,
)
from .report import VerificationReport

try:
    __version__ = _metadata.version("aiwatermark")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "AiWatermarkError",
    "Batch",
    "BatchStoppedError",
    "ConsentError",
    "CorruptImageError",
    "ImageTooLargeError",
    "ImageTooSmallError",
    "InvalidArgumentError",
    "ItemResult",
    "KeyFileError",
    "MarkResult",
    "MetadataError",
    "MissingDependencyError",
    "OutputExistsError",
    "PayloadError",
    "PayloadTakenError",
    "ProvenanceError",
    "SigningError",
    "StoreError",
    "UnsupportedImageError",
    "VerificationReport",
    "WorkerCrashedError",
    "__version__",
    "consent",
    "imageio",
    "mark",
    "mark_many",
    "verify",
    "verify_many",
]
