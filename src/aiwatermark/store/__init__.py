"""Durable Content Credentials: signed manifests kept outside the image, found again later.

Social networks and messengers strip metadata, so the C2PA manifest embedded in a marked
image rarely survives sharing. :func:`aiwatermark.mark` therefore also registers every
manifest in a *manifest store*, under the image's invisible-watermark payload (its content
ID) and its perceptual fingerprint; :func:`aiwatermark.verify` reads the payload back from
the pixels, or looks the fingerprint up when the watermark is gone, and recovers the
manifest — applying it only when the fingerprint shows the pixels are the registered image.

A store is append-only: registrations are never replaced. The default store is a SQLite
file, ``manifests.sqlite3`` in ``$AIWATERMARK_HOME`` when that environment variable is set,
else in the per-user data folder (``~/.local/share/aiwatermark`` on Linux). Anything that
meets the :class:`ManifestStore` protocol can replace it.

Example:
    >>> import tempfile, pathlib
    >>> from aiwatermark.store import SQLiteManifestStore
    >>> store = SQLiteManifestStore(pathlib.Path(tempfile.mkdtemp()) / "m.sqlite3")
    >>> entry = store.put(bytes.fromhex("00112233aabbccdd"), b"manifest bytes")
    >>> [e.manifest for e in store.by_payload(bytes.fromhex("00112233aabbccdd"))]
    [b'manifest bytes']
"""

from __future__ import annotations

import os
from pathlib import Path

from .._home import HOME_ENV
from ..errors import StoreError
from ._protocol import ManifestStore, StoredManifest, StoreLike
from ._registration import Registration, RegistrationError, check_registration
from ._sqlite import (
    STORE_FILENAME,
    SQLiteManifestStore,
    default_store_path,
    shared_store,
)


def open_store(store: StoreLike) -> ManifestStore | None:
    """Resolve a ``store=`` argument: None → default SQLite store, False → no store.

    A path opens (or creates) a SQLite store there; a :class:`ManifestStore` is used as is.

    Example:
        >>> from aiwatermark.store import open_store
        >>> open_store(False) is None
        True
        >>> open_store("/tmp/example-store.sqlite3")
        SQLiteManifestStore('/tmp/example-store.sqlite3')
    """
    if store is False:
        return None
    if store is None or store is True:
        return shared_store(default_store_path())
    if isinstance(store, (str, os.PathLike)):
        return shared_store(Path(os.fspath(store)))
    if isinstance(store, ManifestStore):
        return store
    raise StoreError(
        f"store= must be None, False, a file path or an object with put(), by_payload() and "
        f"by_fingerprint(), not {type(store).__name__}"
    )


__all__ = [
    "HOME_ENV",
    "STORE_FILENAME",
    "ManifestStore",
    "Registration",
    "RegistrationError",
    "SQLiteManifestStore",
    "StoreLike",
    "StoredManifest",
    "check_registration",
    "default_store_path",
    "open_store",
]
