"""A manifest repository: the C2PA Soft Binding Resolution API, served by ``aiwatermark serve``.

Marked images lose their embedded Content Credentials when platforms strip metadata; a
repository keeps the signed manifests and finds them again from what survives in the pixels.
:func:`create_app` returns the repository as a Starlette (ASGI) app over a manifest store:

================================================  =============================================
``GET  /matches/byBinding?alg=&value=``           manifests registered under a soft binding
``POST /matches/byBinding`` (JSON alg, value)     the same, the binding in the body
``POST /matches/byContent`` (image bytes)         the server reads the watermark and fingerprint
``GET  /manifests/{manifestId}``                  the manifest store, ``application/c2pa``
``GET  /services/supportedAlgorithms``            the watermark and fingerprint ``alg`` served
``POST /manifests`` (application/c2pa)            register (bearer write token; trusted signers)
``POST /verify`` (image bytes)                    ``aiwatermark verify --json`` of the upload
``GET  /consents/{consentRef}``                   a twin's consent: public fields, withdrawn?
``POST /consents`` (JSON record)                  register a consent (bearer write token)
``POST /consents/{consentRef}/revocation``        withdraw (the rights holder's or a write token)
``GET  /subjects/{subjectId}/uses?from=&to=``     per-use report (the rights holder's token)
``GET  /``                                        the verify page
================================================  =============================================

Every error is JSON, ``{"error": "...", "code": "<exception class>"}``. The repository
accepts a manifest only when it verifies, binds an aiwatermark watermark or fingerprint, and
is signed by a signer chaining to its trust anchors (see
:func:`aiwatermark.store.check_registration`).

Example:
    >>> import pathlib, tempfile
    >>> from starlette.testclient import TestClient
    >>> from aiwatermark.service import create_app
    >>> app = create_app(pathlib.Path(tempfile.mkdtemp()) / "manifests.sqlite3")
    >>> with TestClient(app) as client:
    ...     response = client.get("/manifests/urn:c2pa:unknown")
    >>> response.status_code, response.json()["code"]
    (404, 'ManifestNotFoundError')
"""

from __future__ import annotations

from ._app import C2PA_MEDIA_TYPE, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_TIMEOUT, create_app
from ._auth import load_holder_tokens, load_tokens
from ._errors import ServiceError
from ._jumbf import JumbfError, active_manifest_store

__all__ = [
    "C2PA_MEDIA_TYPE",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DEFAULT_TIMEOUT",
    "JumbfError",
    "ServiceError",
    "active_manifest_store",
    "create_app",
    "load_holder_tokens",
    "load_tokens",
]
