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

import atexit
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from .._home import HOME_ENV
from ..errors import StoreError
from ._postgres import PostgresManifestStore
from ._protocol import ManifestStore, StoredManifest, StoreLike
from ._registration import Registration, RegistrationError, check_registration
from ._remote import TOKEN_ENV, RemoteManifestStore, similarity_score
from ._sqlite import (
    STORE_FILENAME,
    SQLiteManifestStore,
    default_store_path,
)

_S = TypeVar("_S", SQLiteManifestStore, PostgresManifestStore, RemoteManifestStore)
_opened: dict[tuple[type, str], ManifestStore] = {}
_opened_lock = threading.Lock()


def _shared(kind: type[_S], where: str) -> _S:
    """One store per file, database or repository for the whole process, so a batch does
    not reopen its file, pool or connections (nor check a schema anew) on every call."""
    with _opened_lock:
        opened = _opened.get((kind, where))
        if opened is None:
            opened = _opened[(kind, where)] = kind(where)
        assert isinstance(opened, kind)
        return opened


@atexit.register
def _close_shared() -> None:
    # A SQLite file is then a complete copy of its store (the log is checkpointed), and a
    # database sees its sessions end rather than sockets drop.
    with _opened_lock:
        for opened in _opened.values():
            opened.close()  # type: ignore[attr-defined]


def open_store(store: StoreLike) -> ManifestStore | None:
    """Resolve a ``store=`` argument: None → default SQLite store, False → no store.

    A string or path names a store: ``postgresql://…`` (PostgreSQL, needs
    ``aiwatermark[postgres]``), ``http(s)://…`` (a manifest repository speaking the C2PA Soft
    Binding Resolution API), ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or a
    plain path (a SQLite file there). A
    :class:`ManifestStore` is used as is.

    Example:
        >>> from aiwatermark.store import open_store
        >>> open_store(False) is None
        True
        >>> open_store("/tmp/example-store.sqlite3")
        SQLiteManifestStore('/tmp/example-store.sqlite3')
        >>> open_store("https://repo.example/v1")
        RemoteManifestStore('https://repo.example/v1')
    """
    if store is False:
        return None
    if store is None or store is True:
        return _shared(SQLiteManifestStore, str(default_store_path()))
    if isinstance(store, str) and store.startswith(("postgresql://", "postgres://")):
        return _shared(PostgresManifestStore, store)
    if isinstance(store, str) and store.startswith(("http://", "https://")):
        return _shared(RemoteManifestStore, store)
    if isinstance(store, str) and store.startswith("sqlite:///"):
        # As in SQLAlchemy: sqlite:///relative.db, sqlite:////absolute/path.db
        return _shared(SQLiteManifestStore, str(Path(store.removeprefix("sqlite:///"))))
    if isinstance(store, (str, os.PathLike)):
        return _shared(SQLiteManifestStore, str(Path(os.fspath(store))))
    if isinstance(store, ManifestStore):
        return store
    raise StoreError(
        f"store= must be None, False, a path or URL, or an object with put(), by_id(), "
        f"by_payload() and by_fingerprint(), not {type(store).__name__}"
    )


def open_stores(stores: StoreLike | Sequence[StoreLike]) -> list[ManifestStore]:
    """Like :func:`open_store`, for ``verify``, which may ask several repositories in turn.

    Example:
        >>> from aiwatermark.store import open_stores
        >>> open_stores(["https://a.example", "https://b.example"])
        [RemoteManifestStore('https://a.example'), RemoteManifestStore('https://b.example')]
    """
    if isinstance(stores, (list, tuple)):
        opened = [open_store(item) for item in stores]
    else:
        opened = [open_store(stores)]  # type: ignore[arg-type]
    return [item for item in opened if item is not None]


__all__ = [
    "HOME_ENV",
    "STORE_FILENAME",
    "TOKEN_ENV",
    "ManifestStore",
    "PostgresManifestStore",
    "Registration",
    "RegistrationError",
    "RemoteManifestStore",
    "SQLiteManifestStore",
    "StoreLike",
    "StoredManifest",
    "check_registration",
    "default_store_path",
    "open_store",
    "open_stores",
    "similarity_score",
]
