"""Every failure as an HTTP status and a JSON body ``{"error": ..., "code": ...}``.

A client of the repository must be able to act on every answer, so no error is HTML, plain
text or a traceback: bad input is a 4xx naming what was wrong, and ``code`` is the class of
the exception that said so (``InvalidArgumentError``, ``RegistrationError``...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from starlette.responses import JSONResponse

from ..errors import (
    AiWatermarkError,
    ConsentError,
    CorruptImageError,
    ImageTooLargeError,
    ImageTooSmallError,
    KeyFileError,
    PayloadTakenError,
    StoreError,
    UnsupportedImageError,
)
from ..store import RegistrationError
from ._jumbf import JumbfError


class ServiceError(AiWatermarkError):
    """A request the repository refuses for a reason of HTTP's own (auth, size, type, time)."""

    status: ClassVar[int] = 400


class UnauthorizedError(ServiceError):
    """No bearer token, or not one the repository was started with."""

    status = 401


class ForbiddenError(ServiceError):
    """A valid token, but not one that may do this (another rights holder's consent)."""

    status = 403


class NotFoundError(ServiceError):
    """Nothing is registered under the requested name."""

    status = 404


class ManifestNotFoundError(NotFoundError):
    """No manifest is registered under the requested ``manifestId``."""


class UploadTooLargeError(ServiceError):
    """The request body is over ``--max-upload-mb``."""

    status = 413


class UnsupportedMediaTypeError(ServiceError):
    """The ``Content-Type`` is not what the endpoint reads."""

    status = 415


class RequestTimeoutError(ServiceError):
    """The request took longer than ``--timeout`` seconds (reading it included)."""

    status = 503


class ShuttingDownError(ServiceError):
    """The server stopped before the request's work could run."""

    status = 503


# Most specific first: PayloadTakenError and RegistrationError are StoreErrors too.
_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (ServiceError, 0),  # its own .status
    (PayloadTakenError, 409),
    (ConsentError, 409),  # a change to a registered consent the registry refuses
    (RegistrationError, 422),
    # Unreadable trust anchors or a broken manifest store are the server's fault, not the
    # client's; the store may come back (a database restart), the anchors may not.
    (KeyFileError, 500),
    (JumbfError, 500),
    (StoreError, 503),
    (ImageTooLargeError, 413),
    (UnsupportedImageError, 415),
    (CorruptImageError, 400),
    (ImageTooSmallError, 400),
    (AiWatermarkError, 400),
)


def status_for(exc: Exception) -> int:
    """The HTTP status that answers ``exc`` (500 for anything not raised on purpose).

    Example:
        >>> from aiwatermark import PayloadTakenError
        >>> from aiwatermark.service._errors import status_for
        >>> status_for(PayloadTakenError("taken")), status_for(RuntimeError())
        (409, 500)
    """
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return exc.status if isinstance(exc, ServiceError) else status
    return 500


def error_response(
    status: int, message: str, code: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The JSON body every error has.

    Example:
        >>> from aiwatermark.service._errors import error_response
        >>> error_response(404, "no such manifest", "ManifestNotFoundError").body
        b'{"error":"no such manifest","code":"ManifestNotFoundError"}'
    """
    return JSONResponse({"error": message, "code": code}, status_code=status, headers=headers)


def exception_response(exc: Exception) -> JSONResponse:
    """Answer an exception raised on purpose with its status, message and class name.

    Example:
        >>> from aiwatermark.service._errors import UnauthorizedError, exception_response
        >>> exception_response(UnauthorizedError("a bearer token is required")).status_code
        401
    """
    status = status_for(exc)
    headers = {"WWW-Authenticate": 'Bearer realm="aiwatermark"'} if status == 401 else None
    return error_response(status, str(exc) or type(exc).__name__, type(exc).__name__, headers)
