"""The exception hierarchy: every public call raises a subclass of :class:`AiWatermarkError`.

Example:
    >>> import aiwatermark
    >>> try:
    ...     aiwatermark.imageio.open(b"not an image")
    ... except aiwatermark.AiWatermarkError as exc:
    ...     print(type(exc).__name__)
    UnsupportedImageError
"""

from __future__ import annotations


class AiWatermarkError(Exception):
    """Base class of every error aiwatermark raises on purpose."""


class InvalidArgumentError(AiWatermarkError, ValueError, TypeError):
    """An argument has the wrong type or value (a label position, an opacity, a limit...).

    It is also a ``ValueError`` and a ``TypeError``, so code written against Python's usual
    argument errors keeps working.
    """


class UnsupportedImageError(AiWatermarkError):
    """The input is not an image format we can read or write (or not an image at all)."""


class CorruptImageError(AiWatermarkError):
    """The file looks like an image but cannot be decoded (truncated, damaged, zero bytes)."""


class ImageTooLargeError(AiWatermarkError):
    """The image has more pixels than the configured limit (decompression-bomb guard)."""


class ImageTooSmallError(AiWatermarkError):
    """The image is smaller than an operation needs (e.g. the invisible watermark's minimum)."""


class OutputExistsError(AiWatermarkError):
    """Writing would overwrite an existing file (or the input) and that was not asked for."""


class PayloadError(AiWatermarkError):
    """A watermark payload has the wrong type or length."""


class MetadataError(AiWatermarkError):
    """Embedded metadata (XMP, EXIF, PNG text) could not be read or written."""


class SigningError(AiWatermarkError):
    """A C2PA manifest could not be built or signed (bad certificate, key or algorithm)."""


class ProvenanceError(AiWatermarkError):
    """A C2PA manifest could not be read at all (beyond reporting it as invalid)."""


class KeyFileError(AiWatermarkError):
    """A key or certificate file is missing, unreadable, malformed or not private enough."""


class StoreError(AiWatermarkError):
    """The manifest store could not be opened, read or written."""


class PayloadTakenError(StoreError):
    """The manifest store already holds an entry under this content ID; stores never replace."""


class ConsentError(AiWatermarkError):
    """A likeness may not be used: its consent is unknown, not yet valid, expired, withdrawn
    or does not cover the use — or a change to a registered consent was refused."""


class MissingDependencyError(AiWatermarkError, ImportError):
    """An optional feature needs a package that is not installed (the message says which
    extra to install). It is also an ``ImportError``."""


class BatchStoppedError(AiWatermarkError):
    """A batch item was abandoned unfinished: its batch was closed (Ctrl-C twice) while it ran.

    Its partial output, if any, was removed; a complete one may have been written just before.
    """


class WorkerCrashedError(AiWatermarkError):
    """The worker process running this batch item died (out of memory, or a native crash).

    The items a pool had in flight when one of its workers died are tried again, one at a
    time in a new pool; an item whose worker dies then gets this error. The batch goes on.
    """


__all__ = [
    "AiWatermarkError",
    "BatchStoppedError",
    "ConsentError",
    "CorruptImageError",
    "ImageTooLargeError",
    "ImageTooSmallError",
    "InvalidArgumentError",
    "KeyFileError",
    "MetadataError",
    "MissingDependencyError",
    "OutputExistsError",
    "PayloadError",
    "PayloadTakenError",
    "ProvenanceError",
    "SigningError",
    "StoreError",
    "UnsupportedImageError",
    "WorkerCrashedError",
]
