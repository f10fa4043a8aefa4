"""The repository as a Starlette app: routes, limits, authorisation and error answers."""

from __future__ import annotations

import contextlib
import functools
import importlib.resources
import json
import logging
import math
import os
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, Literal

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .. import _pipeline, provenance
from ..errors import AiWatermarkError, InvalidArgumentError
from ..store import ManifestStore, check_registration, open_store
from . import _matches
from ._auth import Tokens
from ._consents import ConsentEndpoints
from ._errors import (
    ManifestNotFoundError,
    RequestTimeoutError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
    UploadTooLargeError,
    error_response,
    exception_response,
)
from ._jumbf import active_manifest_store
from ._workers import WorkerPool

DEFAULT_MAX_UPLOAD_BYTES = 40 * 1024 * 1024
"""Largest request body accepted (``--max-upload-mb 40``)."""

DEFAULT_TIMEOUT = 30.0
"""Seconds a request may take, reading its body included, before it is answered 503."""

C2PA_MEDIA_TYPE = "application/c2pa"
"""The media type of a C2PA manifest store (what ``/manifests`` takes and gives)."""

_JSON_BODY_LIMIT = 64 * 1024  # a byBinding query is a few hundred bytes
_DRAIN_LIMIT = 64 * 1024 * 1024
_PLACEHOLDER_PAGE = """<!doctype html>
<html lang="en"><meta charset="utf-8"><title>aiwatermark</title>
<h1>aiwatermark manifest repository</h1>
<p>The verify page is not installed. POST an image to <code>/verify</code>, or use the
C2PA Soft Binding Resolution API under <code>/matches</code> and <code>/manifests</code>.</p>
</html>
"""
# The page is self-contained: inline script and style, images shown from blob: URLs, and
# requests only to this server.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}

_log = logging.getLogger("aiwatermark.service")

_Endpoint = Callable[[Request], Awaitable[Response]]
# "own": the endpoint decides itself (a rights holder's token, which depends on the record).
_Access = Literal["read", "write", "own"]


def _page() -> str:
    page = importlib.resources.files("aiwatermark.service") / "static" / "verify.html"
    try:
        return page.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return _PLACEHOLDER_PAGE


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as null: JSON has no such numbers, browsers refuse them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


class _Repository:
    """The state every endpoint shares, and the endpoints themselves."""

    def __init__(
        self,
        store: ManifestStore,
        *,
        trust_anchors: str | None,
        key: str | bytes | None,
        write_tokens: Tokens,
        read_tokens: Tokens | None,
        pool: WorkerPool,
        max_upload_bytes: int,
        timeout: float,
    ) -> None:
        self.store = store
        self.trust_anchors = trust_anchors
        self.key = key
        self.write_tokens = write_tokens
        # A writer may read what it registers.
        self.readers = None if read_tokens is None else read_tokens | write_tokens
        self.pool = pool
        self.max_upload_bytes = max_upload_bytes
        self.timeout = timeout
        self.page = _page()

    # --- plumbing ---------------------------------------------------------------------

    def endpoint(self, handler: _Endpoint, *, access: _Access) -> _Endpoint:
        """Wrap ``handler`` with the access check, the time limit and the error answers."""

        @functools.wraps(handler)
        async def wrapped(request: Request) -> Response:
            try:
                self._authorise(request, access)
                with anyio.move_on_after(self.timeout):
                    return await handler(request)
                raise RequestTimeoutError(
                    f"the request took longer than the server's limit of {self.timeout:g} s"
                )
            except AiWatermarkError as exc:
                return exception_response(exc)
            except ClientDisconnect:
                return error_response(400, "the client went away", "ClientDisconnect")
            except Exception:
                # A bug: logged with its traceback for the operator, never shown to clients.
                _log.exception("unexpected error answering %s %s", request.method, request.url.path)
                return error_response(500, "internal error (logged on the server)", "InternalError")

        return wrapped

    def _authorise(self, request: Request, access: _Access) -> None:
        if access == "write":
            if not self.write_tokens:
                raise UnauthorizedError(
                    "this repository takes no registrations (it was started without write tokens)"
                )
            if not self.write_tokens.allows(request.headers):
                raise UnauthorizedError("registering needs Authorization: Bearer <write token>")
        elif (
            access == "read"
            and self.readers is not None
            and not self.readers.allows(request.headers)
        ):
            raise UnauthorizedError("this repository needs Authorization: Bearer <token>")

    async def _body(self, request: Request, limit: int | None = None) -> bytes:
        """The request body, refused with 413 once it is over the limit."""
        limit = self.max_upload_bytes if limit is None else limit
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or len(declared) > 18):
            raise InvalidArgumentError(f"Content-Length {declared!r:.40} is not a number")
        over = declared is not None and int(declared) > limit
        body = bytearray()
        drained = 0
        async for chunk in request.stream():
            if over:
                # Reading (a bounded amount of) the rest lets an HTTP/1.1 client that is
                # still sending see the 413 instead of a connection reset.
                drained += len(chunk)
                if drained > _DRAIN_LIMIT:
                    break
                continue
            body += chunk
            if len(body) > limit:
                over, body = True, bytearray()
        if over:
            size = f"{int(declared):,} bytes" if declared is not None else "the body"
            raise UploadTooLargeError(
                f"{size} is over this server's upload limit of {limit:,} bytes"
            )
        return bytes(body)

    async def _image(self, request: Request, *, strict: bool) -> bytes:
        media_type = _media_type(request)
        if not media_type.startswith("image/") and (
            strict or media_type not in ("", "application/octet-stream")
        ):
            raise UnsupportedMediaTypeError(
                f"the body must be an image (Content-Type: image/*), not {media_type or 'untyped'}"
            )
        data = await self._body(request)
        if not data:
            raise InvalidArgumentError("the body is empty: send the image's bytes")
        return data

    # --- SBR API ----------------------------------------------------------------------

    async def supported_algorithms(self, request: Request) -> Response:
        """``GET /services/supportedAlgorithms``."""
        return JSONResponse(_matches.supported_algorithms())

    async def by_binding(self, request: Request) -> Response:
        """``GET|POST /matches/byBinding``: manifests registered under one soft binding."""
        max_results = _matches.parse_max_results(request.query_params.get("maxResults"))
        if request.method == "GET":
            params = request.query_params
            binding = _matches.parse_binding(params.get("alg"), params.get("value"))
        else:
            media_type = _media_type(request)
            if media_type and media_type != "application/json" and not media_type.endswith("+json"):
                raise UnsupportedMediaTypeError(
                    f"the body must be JSON (Content-Type: application/json), not {media_type}"
                )
            try:
                query = json.loads(await self._body(request, _JSON_BODY_LIMIT))
            except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
                raise InvalidArgumentError(
                    'the body must be JSON: {"alg": ..., "value": ...}'
                ) from None
            if not isinstance(query, dict):
                raise InvalidArgumentError(
                    'the body must be a JSON object: {"alg": ..., "value": ...}'
                )
            binding = _matches.parse_binding(query.get("alg"), query.get("value"))
        found = await self.pool.io(functools.partial(_matches.look_up, self.store, binding))
        return _matches_response(found[:max_results])

    async def by_content(self, request: Request) -> Response:
        """``POST /matches/byContent``: manifests found by the image's own bindings."""
        params = request.query_params
        alg = _matches.parse_alg(params.get("alg"), required=False)
        max_results = _matches.parse_max_results(params.get("maxResults"))
        hint = None
        if params.get("hintAlg") or params.get("hintValue"):
            hint = _matches.parse_binding(
                params.get("hintAlg"), params.get("hintValue"), names=("hintAlg", "hintValue")
            )
        data = await self._image(request, strict=True)
        bindings = await self.pool.cpu(
            functools.partial(_matches.content_bindings, data, key=self.key, alg=alg)
        )
        if hint is not None and alg in (None, hint.alg):
            bindings.append(hint)  # the client's own reading of the content, looked up too
        results = [
            await self.pool.io(functools.partial(_matches.look_up, self.store, binding))
            for binding in bindings
        ]
        return _matches_response(_matches.merge(results, max_results))

    async def manifest(self, request: Request) -> Response:
        """``GET /manifests/{manifestId}``: the registered manifest store (application/c2pa)."""
        manifest_id = request.path_params["manifest_id"]
        flag = request.query_params.get("returnActiveManifest", "false").lower()
        if flag not in ("true", "false"):
            raise InvalidArgumentError(
                f"returnActiveManifest must be true or false, not {flag!r:.20}"
            )
        entry = await self.pool.io(functools.partial(self.store.by_id, manifest_id))
        if entry is None:
            raise ManifestNotFoundError(f"no manifest {manifest_id!r:.200} in this repository")
        data = entry.manifest
        if flag == "true":
            data = await self.pool.cpu(functools.partial(active_manifest_store, data))
        return Response(data, media_type=C2PA_MEDIA_TYPE)

    # --- ours -------------------------------------------------------------------------

    async def register(self, request: Request) -> Response:
        """``POST /manifests``: register a manifest store signed by a trusted signer."""
        media_type = _media_type(request)
        if media_type != C2PA_MEDIA_TYPE:
            raise UnsupportedMediaTypeError(
                f"the body must be a manifest store (Content-Type: {C2PA_MEDIA_TYPE}), "
                f"not {media_type or 'untyped'}"
            )
        manifest = await self._body(request)
        registration = await self.pool.cpu(
            functools.partial(check_registration, manifest, trust_anchors=self.trust_anchors)
        )
        entry = await self.pool.io(
            functools.partial(
                self.store.put,
                registration.payload,
                registration.manifest,
                registration.meta,
                fingerprint=registration.fingerprint,
                manifest_id=registration.manifest_id,
            )
        )
        location = "/manifests/" + urllib.parse.quote(entry.id, safe="")
        return JSONResponse(
            {"manifestId": entry.id}, status_code=201, headers={"Location": location}
        )

    async def verify(self, request: Request) -> Response:
        """``POST /verify``: what ``aiwatermark verify --json`` says about the uploaded image."""
        name = request.query_params.get("file") or "upload"
        data = await self._image(request, strict=False)
        report = await self.pool.cpu(
            functools.partial(
                _pipeline.verify,
                data,
                store=self.store,
                trust_anchors=self.trust_anchors,
                key=self.key,
            )
        )
        return JSONResponse(_finite({"file": name, **report.to_dict()}))

    async def index(self, request: Request) -> Response:
        """``GET /``: the verify page."""
        return HTMLResponse(self.page, headers=_PAGE_HEADERS)


def _matches_response(found: list[_matches.Match]) -> JSONResponse:
    return JSONResponse({"matches": [match.to_dict() for match in found]})


async def _http_error(request: Request, exc: Exception) -> Response:
    """Routing errors (unknown path, wrong method) as JSON like every other error."""
    assert isinstance(exc, HTTPException)
    path = request.url.path
    if exc.status_code == 404:
        return error_response(404, f"no endpoint {path!r:.200} here", "NotFoundError")
    if exc.status_code == 405:
        message = f"{request.method} is not allowed on {path!r:.200}"
        return error_response(405, message, "MethodNotAllowedError", exc.headers)
    return error_response(exc.status_code, str(exc.detail), "HTTPError", exc.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    return error_response(500, "internal error (logged on the server)", "InternalError")


def create_app(
    store: ManifestStore | str | os.PathLike[str],
    *,
    trust_anchors: provenance.TrustAnchors | None = None,
    key: str | bytes | None = None,
    write_tokens: Iterable[str] = (),
    read_tokens: Iterable[str] | None = None,
    rights_holder_tokens: Mapping[str, Iterable[str]] | None = None,
    workers: int | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
) -> Starlette:
    """The manifest repository as an ASGI app (the C2PA Soft Binding Resolution API).

    ``store`` is a :class:`~aiwatermark.store.ManifestStore` or a path/URL for
    :func:`aiwatermark.store.open_store`. ``trust_anchors`` (PEM, or a PEM file) decide whose
    manifests ``POST /manifests`` accepts and which signers ``/verify`` trusts; ``key`` is the
    watermark key images were marked with. ``write_tokens`` are the bearer tokens that may
    register (none: registration is closed); with ``read_tokens`` every other endpoint but
    the verify page needs one of them (or a write token), without it reads are open.
    ``rights_holder_tokens`` maps a consent's ``rights_holder`` to the tokens with which that
    holder reads the per-use report of their twins and withdraws their consents.
    CPU-bound work runs in at most ``workers`` threads (default: one per CPU); request
    bodies over ``max_upload_bytes`` are refused (413) and requests over ``timeout`` seconds
    answered 503.

    Raises:
        aiwatermark.KeyFileError: ``trust_anchors`` cannot be read.
        aiwatermark.InvalidArgumentError: a limit is not a positive number.

    Example:
        >>> import pathlib, tempfile
        >>> from starlette.testclient import TestClient
        >>> from aiwatermark.service import create_app
        >>> app = create_app(pathlib.Path(tempfile.mkdtemp()) / "manifests.sqlite3")
        >>> with TestClient(app) as client:
        ...     client.get("/services/supportedAlgorithms").json()["watermarks"]
        [{'alg': 'io.github.aiwatermark.tiled-ss.1'}]
    """
    workers = (os.cpu_count() or 1) if workers is None else workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidArgumentError(f"workers must be a whole number of at least 1, not {workers!r}")
    if (
        isinstance(max_upload_bytes, bool)
        or not isinstance(max_upload_bytes, int)
        or max_upload_bytes < 1
    ):
        raise InvalidArgumentError(f"max_upload_bytes must be at least 1, not {max_upload_bytes!r}")
    if not isinstance(timeout, (int, float)) or not timeout > 0 or not math.isfinite(timeout):
        raise InvalidArgumentError(f"timeout must be a positive number of seconds, not {timeout!r}")
    manifest_store = store if isinstance(store, ManifestStore) else open_store(store)
    assert manifest_store is not None  # a path always opens a store
    pool = WorkerPool(workers)
    repository = _Repository(
        manifest_store,
        # Read and checked once, at start, rather than on every request.
        trust_anchors=provenance.load_trust_anchors(trust_anchors),
        key=key,
        write_tokens=Tokens(write_tokens),
        read_tokens=None if read_tokens is None else Tokens(read_tokens),
        pool=pool,
        max_upload_bytes=max_upload_bytes,
        timeout=float(timeout),
    )
    wrap = repository.endpoint
    consents = ConsentEndpoints(
        repository,
        {holder: Tokens(tokens) for holder, tokens in (rights_holder_tokens or {}).items()},
    )
    routes = [
        Route("/", repository.index, methods=["GET"]),
        Route(
            "/services/supportedAlgorithms",
            wrap(repository.supported_algorithms, access="read"),
            methods=["GET"],
        ),
        Route(
            "/matches/byBinding",
            wrap(repository.by_binding, access="read"),
            methods=["GET", "POST"],
        ),
        Route("/matches/byContent", wrap(repository.by_content, access="read"), methods=["POST"]),
        Route("/manifests", wrap(repository.register, access="write"), methods=["POST"]),
        Route(
            "/manifests/{manifest_id:path}",
            wrap(repository.manifest, access="read"),
            methods=["GET"],
        ),
        Route("/verify", wrap(repository.verify, access="read"), methods=["POST"]),
        Route("/consents", wrap(consents.register, access="write"), methods=["POST"]),
        Route(
            "/consents/{consent_ref:path}/revocation",
            wrap(consents.revoke, access="own"),
            methods=["POST"],
        ),
        Route("/consents/{consent_ref:path}", wrap(consents.show, access="read"), methods=["GET"]),
        Route(
            "/subjects/{subject_id:path}/uses", wrap(consents.uses, access="own"), methods=["GET"]
        ),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with pool.running():
            yield

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )
