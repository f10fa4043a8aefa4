"""Durable Content Credentials: signed manifests kept outside the image, found by watermark.

Social networks and messengers strip metadata, so the C2PA manifest embedded in a marked
image rarely survives sharing. :func:`aiwatermark.mark` therefore also saves every manifest
in a *manifest store* under the image's invisible-watermark payload (its content ID);
:func:`aiwatermark.verify` reads the payload back from the pixels and recovers the manifest.

The default store is a SQLite file, ``manifests.sqlite3`` in ``$AIWATERMARK_HOME`` when that
environment variable is set, else in the per-user data folder (``~/.local/share/aiwatermark``
on Linux). Anything with ``put`` and ``get`` methods (:class:`ManifestStore`) can replace it,
for example a client of a shared server store.

Example:
    >>> import tempfile, pathlib
    >>> from aiwatermark.store import SQLiteManifestStore
    >>> store = SQLiteManifestStore(pathlib.Path(tempfile.mkdtemp()) / "m.sqlite3")
    >>> store.put(bytes.fromhex("00112233aabbccdd"), b"manifest bytes", {"format": "JPEG"})
    >>> store.get(bytes.fromhex("00112233aabbccdd"))
    b'manifest bytes'
    >>> store.get(bytes(8)) is None
    True
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Protocol, Union, runtime_checkable

import platformdirs

from .errors import StoreError

HOME_ENV = "AIWATERMARK_HOME"
"""Environment variable naming the folder for aiwatermark's own files (store, dev keys)."""

STORE_FILENAME = "manifests.sqlite3"

_OPEN_ATTEMPTS = 20


@runtime_checkable
class ManifestStore(Protocol):
    """What :func:`aiwatermark.mark` and :func:`aiwatermark.verify` need from a store.

    ``payload`` is the watermark payload (content ID) as bytes; ``manifest`` is the C2PA
    manifest store (JUMBF) bytes. Implementations raise :class:`aiwatermark.StoreError`.

    Example:
        >>> from aiwatermark.store import ManifestStore
        >>> class DictStore:
        ...     def __init__(self): self.items = {}
        ...     def put(self, payload, manifest, meta=None): self.items[payload] = manifest
        ...     def get(self, payload): return self.items.get(payload)
        >>> isinstance(DictStore(), ManifestStore)
        True
    """

    def put(self, payload: bytes, manifest: bytes, meta: Mapping[str, str] | None = None) -> None:
        """Save ``manifest`` under ``payload`` (replacing any earlier one)."""

    def get(self, payload: bytes) -> bytes | None:
        """Return the manifest saved under ``payload``, or None."""


StoreLike = Union[ManifestStore, str, "os.PathLike[str]", bool, None]
"""What the ``store=`` argument accepts: None (default store), False (none), a path, a store."""


def default_store_path() -> Path:
    """The default SQLite store file: ``$AIWATERMARK_HOME/manifests.sqlite3`` or per-user data.

    Example:
        >>> from aiwatermark.store import default_store_path
        >>> default_store_path().name
        'manifests.sqlite3'
    """
    home = os.environ.get(HOME_ENV)
    base = Path(home).expanduser() if home else Path(platformdirs.user_data_dir("aiwatermark"))
    return base / STORE_FILENAME


_SCHEMA = """
CREATE TABLE IF NOT EXISTS manifests (
    payload BLOB PRIMARY KEY,
    manifest BLOB NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL
)
"""


class SQLiteManifestStore:
    """A manifest store in one SQLite file; safe to share between threads and processes.

    The file and its folder are created on first use. Writes from parallel ``aiwatermark
    mark --jobs N`` workers are serialised by SQLite's own locking.

    Example:
        >>> import tempfile, pathlib
        >>> from aiwatermark.store import SQLiteManifestStore
        >>> with SQLiteManifestStore(pathlib.Path(tempfile.mkdtemp()) / "m.sqlite3") as store:
        ...     store.put(b"\\x01" * 8, b"jumbf")
        ...     len(store)
        1
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._path = Path(os.fspath(path)) if path is not None else default_store_path()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        # A connection must not cross fork(); remember which process opened it.
        self._pid = 0

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self._path

    def __repr__(self) -> str:
        return f"SQLiteManifestStore({str(self._path)!r})"

    def _cannot_open(self, exc: Exception) -> StoreError:
        return StoreError(
            f"cannot open the manifest store {str(self._path)!r} ({exc}); set "
            f"{HOME_ENV} to a writable folder or pass store=False / another path"
        )

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        for attempt in range(_OPEN_ATTEMPTS):
            try:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self._path, timeout=30.0, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(_SCHEMA)
                conn.commit()
                break
            except sqlite3.OperationalError as exc:
                # Switching a new database to WAL takes an exclusive lock without waiting for
                # the busy timeout: processes of one batch opening it at once must retry.
                if "locked" in str(exc) and attempt + 1 < _OPEN_ATTEMPTS:
                    time.sleep(0.05 * (attempt + 1))
                    continue
                raise self._cannot_open(exc) from None
            except (sqlite3.Error, OSError) as exc:
                raise self._cannot_open(exc) from None
        self._conn, self._pid = conn, os.getpid()
        return conn

    def put(self, payload: bytes, manifest: bytes, meta: Mapping[str, str] | None = None) -> None:
        """Save ``manifest`` under the watermark ``payload``, replacing an earlier entry.

        Example:
            >>> import tempfile, pathlib
            >>> from aiwatermark.store import SQLiteManifestStore
            >>> store = SQLiteManifestStore(pathlib.Path(tempfile.mkdtemp()) / "m.sqlite3")
            >>> store.put(b"\\x02" * 8, b"jumbf", {"file": "cat.jpg"})
            >>> store.meta(b"\\x02" * 8)
            {'file': 'cat.jpg'}
        """
        _check_payload(payload)
        row = (bytes(payload), bytes(manifest), json.dumps(dict(meta or {})), time.time())
        with self._lock:
            conn = self._connection()
            try:
                with conn:
                    conn.execute(
                        "INSERT OR REPLACE INTO manifests (payload, manifest, meta, created) "
                        "VALUES (?, ?, ?, ?)",
                        row,
                    )
            except sqlite3.Error as exc:
                raise StoreError(
                    f"cannot save to the manifest store {str(self._path)!r} ({exc})"
                ) from None

    def get(self, payload: bytes) -> bytes | None:
        """Return the manifest saved under ``payload``, or None when there is none.

        Example:
            >>> import tempfile, pathlib
            >>> from aiwatermark.store import SQLiteManifestStore
            >>> SQLiteManifestStore(pathlib.Path(tempfile.mkdtemp()) / "m.sqlite3").get(bytes(8))
        """
        row = self._fetch("SELECT manifest FROM manifests WHERE payload = ?", payload)
        return None if row is None or not isinstance(row[0], bytes) else row[0]

    def meta(self, payload: bytes) -> dict[str, str] | None:
        """Return what :meth:`put` recorded next to the manifest (file name, format, ...).

        Example:
            >>> import tempfile, pathlib
            >>> from aiwatermark.store import SQLiteManifestStore
            >>> SQLiteManifestStore(pathlib.Path(tempfile.mkdtemp()) / "m.sqlite3").meta(bytes(8))
        """
        row = self._fetch("SELECT meta FROM manifests WHERE payload = ?", payload)
        if row is None or not isinstance(row[0], str):
            return None
        loaded = json.loads(row[0])
        return {str(k): str(v) for k, v in loaded.items()}

    def __len__(self) -> int:
        with self._lock:
            try:
                count = self._connection().execute("SELECT COUNT(*) FROM manifests").fetchone()
            except sqlite3.Error as exc:
                raise StoreError(
                    f"cannot read the manifest store {str(self._path)!r} ({exc})"
                ) from None
        return int(count[0])

    def _fetch(self, query: str, payload: bytes) -> tuple[object, ...] | None:
        _check_payload(payload)
        with self._lock:
            try:
                row: tuple[object, ...] | None = (
                    self._connection().execute(query, (bytes(payload),)).fetchone()
                )
            except sqlite3.Error as exc:
                raise StoreError(
                    f"cannot read the manifest store {str(self._path)!r} ({exc})"
                ) from None
        return row

    def close(self) -> None:
        """Close the database connection (it is reopened on next use)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> SQLiteManifestStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _check_payload(payload: object) -> None:
    if not isinstance(payload, (bytes, bytearray)) or not payload:
        raise StoreError(f"a store key must be non-empty payload bytes, not {type(payload)!r}")


_open_stores: dict[Path, SQLiteManifestStore] = {}
_open_stores_lock = threading.Lock()


def _shared_store(path: Path) -> SQLiteManifestStore:
    # One connection per file for the whole process, so marking a batch does not reopen it.
    with _open_stores_lock:
        store = _open_stores.get(path)
        if store is None:
            store = _open_stores[path] = SQLiteManifestStore(path)
        return store


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
        return _shared_store(default_store_path())
    if isinstance(store, (str, os.PathLike)):
        return _shared_store(Path(os.fspath(store)))
    if isinstance(store, ManifestStore):
        return store
    raise StoreError(
        f"store= must be None, False, a file path or an object with put() and get(), "
        f"not {type(store).__name__}"
    )


__all__ = [
    "HOME_ENV",
    "STORE_FILENAME",
    "ManifestStore",
    "SQLiteManifestStore",
    "StoreLike",
    "default_store_path",
    "open_store",
]
