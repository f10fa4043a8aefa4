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

import importlib as _importlib
import typing as _typing

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

if _typing.TYPE_CHECKING:
    from . import consent, imageio
    from ._batch import Batch, ItemResult, mark_many, verify_many
    from ._pipeline import MarkResult, mark, verify
    from .report import VerificationReport

    __version__: str

# numpy, Pillow, c2pa and cryptography cost ~0.5 s to import; a program that only needs the
# errors, the version or one layer should not pay for all of them, so the one-call API and
# the layers load on first use.
_LAZY = {
    "MarkResult": "._pipeline",
    "mark": "._pipeline",
    "verify": "._pipeline",
    "Batch": "._batch",
    "ItemResult": "._batch",
    "mark_many": "._batch",
    "verify_many": "._batch",
    "VerificationReport": ".report",
}
_LAYERS = frozenset(
    {"consent", "fingerprint", "imageio", "integrations", "invisible", "keys", "metadata"}
    | {"provenance", "report", "schemas", "service", "store", "verdict", "visible"}
)


def __getattr__(name: str) -> _typing.Any:
    if name in _LAZY:
        value = getattr(_importlib.import_module(_LAZY[name], __name__), name)
    elif name in _LAYERS:
        value = _importlib.import_module(f".{name}", __name__)
    elif name == "__version__":
        from importlib import metadata

        try:
            value = metadata.version("aiwatermark")
        except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
            value = "0.0.0+unknown"
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
