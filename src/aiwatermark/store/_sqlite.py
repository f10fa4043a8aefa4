"""The embedded manifest store: one SQLite file, append-only, private to its user."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType

import platformdirs

from .._home import HOME_ENV
from ..errors import PayloadTakenError, StoreError
from ..fingerprint import FingerprintIndex
from ._protocol import StoredManifest, check_entry, check_fingerprint, check_payload
from ._sqlite_consents import CONSENT_SCHEMA, SQLiteConsentRegistry

STORE_FILENAME = "manifests.sqlite3"

_OPEN_ATTEMPTS = 20

# Append-only is enforced by the database itself, so no code path (ours or a script's
# UPDATE) can rewrite a registration that shared copies of an image rely on.
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS entries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        manifest_id TEXT,
        payload BLOB,
        fingerprint BLOB,
        manifest BLOB NOT NULL,
        meta TEXT NOT NULL DEFAULT '{}',
        created REAL NOT NULL
    )""",
    "CREATE UNIQUE INDEX IF NOT EXISTS entries_payload ON entries(payload)",
    "CREATE UNIQUE INDEX IF NOT EXISTS entries_manifest_id ON entries(manifest_id)",
    """CREATE TRIGGER IF NOT EXISTS entries_append_only_update BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'the manifest store is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS entries_append_only_delete BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'the manifest store is append-only'); END""",
    *CONSENT_SCHEMA,
)

# Stores written by aiwatermark 0.1 kept one replaceable row per payload.
_LEGACY_TABLE = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'manifests'"
_MIGRATE_V1 = (
    "INSERT INTO entries (payload, manifest, meta, created) "
    "SELECT payload, manifest, meta, created FROM manifests ORDER BY created",
    "DROP TABLE manifests",
)


def _prepare(conn: sqlite3.Connection) -> None:
    """Create or migrate the schema in one write transaction, so processes that open a new
    (or version 1) store at the same moment never see it half made."""
    conn.isolation_level = None  # explicit BEGIN/COMMIT for this step only
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(entries)")}
            if columns and "manifest_id" not in columns:  # made by a 0.2 pre-release
                conn.execute("ALTER TABLE entries ADD COLUMN manifest_id TEXT")
            for statement in _SCHEMA:
                conn.execute(statement)
            if conn.execute(_LEGACY_TABLE).fetchone():
                for statement in _MIGRATE_V1:
                    conn.execute(statement)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.isolation_level = "DEFERRED"  # what a plain sqlite3 connection does


_COLUMNS = "id, manifest_id, payload, fingerprint, manifest, meta, created"


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


class SQLiteManifestStore:
    """A manifest store in one SQLite file; safe to share between threads and processes.

    The file (mode 0600) and its folder (0700 when created here) are made on first use. A
    content ID is registered once: a second ``put`` under it raises
    :class:`aiwatermark.PayloadTakenError`, and the table refuses updates and deletes.
    Writes from parallel ``aiwatermark mark --jobs N`` workers are serialised by SQLite's
    locking; closing the store checkpoints the write-ahead log, so a copy of the file alone
    is a complete backup.

    Example:
        >>> import tempfile, pathlib
        >>> from aiwatermark.store import SQLiteManifestStore
        >>> with SQLiteManifestStore(pathlib.Path(tempfile.mkdtemp()) / "m.sqlite3") as store:
        ...     entry = store.put(b"\\x01" * 8, b"jumbf", {"file": "cat.jpg"})
        ...     [e.meta for e in store.by_payload(b"\\x01" * 8)], len(store)
        ([{'file': 'cat.jpg'}], 1)
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._path = Path(os.fspath(path)) if path is not None else default_store_path()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        # A connection must not cross fork(); remember which process opened it.
        self._pid = 0
        self._index = FingerprintIndex()
        self._indexed_upto = 0

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self._path

    @property
    def consents(self) -> SQLiteConsentRegistry:
        """The consent registry kept in the same file (:mod:`aiwatermark.consent`)."""
        return SQLiteConsentRegistry(self)

    def __repr__(self) -> str:
        return f"SQLiteManifestStore({str(self._path)!r})"

    def _cannot_open(self, exc: Exception) -> StoreError:
        return StoreError(
            f"cannot open the manifest store {str(self._path)!r} ({exc}); set "
            f"{HOME_ENV} to a writable folder or pass store=False / another path"
        )

    def _make_private(self) -> None:
        folder = self._path.parent
        if not folder.exists():
            folder.mkdir(mode=0o700, parents=True)
        if not self._path.exists():
            os.close(os.open(self._path, os.O_WRONLY | os.O_CREAT, 0o600))
        elif stat.S_IMODE(self._path.stat().st_mode) & 0o077:
            # Manifests can name people (likeness consent): not for other local users.
            with contextlib.suppress(PermissionError):
                self._path.chmod(0o600)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        for attempt in range(_OPEN_ATTEMPTS):
            try:
                self._make_private()
                conn = sqlite3.connect(self._path, timeout=30.0, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                _prepare(conn)
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
        self._index, self._indexed_upto = FingerprintIndex(), 0
        return conn

    def _absent(self) -> bool:
        """True when no store file exists yet: a look-up then finds nothing and creates none."""
        return self._conn is None and not self._path.exists()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._connection()
            except sqlite3.Error as exc:
                raise StoreError(
                    f"cannot read the manifest store {str(self._path)!r} ({exc})"
                ) from None

    def put(
        self,
        payload: bytes | None,
        manifest: bytes,
        meta: Mapping[str, str] | None = None,
        *,
        fingerprint: bytes | None = None,
        manifest_id: str | None = None,
    ) -> StoredManifest:
        """Register ``manifest`` under a watermark ``payload`` and/or a PDQ ``fingerprint``.

        Never replaces: a ``payload`` or ``manifest_id`` already registered raises
        :class:`aiwatermark.PayloadTakenError`.

        Example:
            >>> import tempfile, pathlib
            >>> from aiwatermark import PayloadTakenError
            >>> from aiwatermark.store import SQLiteManifestStore
            >>> store = SQLiteManifestStore(pathlib.Path(tempfile.mkdtemp()) / "m.sqlite3")
            >>> _ = store.put(b"\\x02" * 8, b"jumbf")
            >>> try:
            ...     store.put(b"\\x02" * 8, b"someone else's manifest")
            ... except PayloadTakenError as exc:
            ...     print("refused")
            refused
        """
        check_entry(payload, manifest, fingerprint, manifest_id)
        meta_dict = {str(k): str(v) for k, v in (meta or {}).items()}
        created = time.time()
        row = (
            manifest_id,
            None if payload is None else bytes(payload),
            None if fingerprint is None else bytes(fingerprint),
            bytes(manifest),
            json.dumps(meta_dict),
            created,
        )
        with self._lock:
            conn = self._connection()
            try:
                with conn:
                    cursor = conn.execute(
                        "INSERT INTO entries "
                        "(manifest_id, payload, fingerprint, manifest, meta, created) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        row,
                    )
            except sqlite3.IntegrityError as exc:
                raise PayloadTakenError(
                    _taken(payload, manifest_id, str(exc), str(self._path))
                ) from None
            except sqlite3.Error as exc:
                raise StoreError(
                    f"cannot save to the manifest store {str(self._path)!r} ({exc})"
                ) from None
        return StoredManifest(
            id=manifest_id or str(cursor.lastrowid),
            manifest=row[3],
            payload=row[1],
            fingerprint=row[2],
            meta=meta_dict,
            created=created,
            origin=str(self._path),
        )

    def by_id(self, manifest_id: str) -> StoredManifest | None:
        """The entry registered as ``manifest_id`` (its manifest label, or the number this
        store gave an entry registered without one), or None.

        Example:
            >>> import tempfile, pathlib
            >>> from aiwatermark.store import SQLiteManifestStore
            >>> store = SQLiteManifestStore(pathlib.Path(tempfile.mkdtemp()) / "m.sqlite3")
            >>> _ = store.put(bytes(8), b"jumbf", manifest_id="urn:c2pa:1234")
            >>> store.by_id("urn:c2pa:1234").content_id
            '0000000000000000'
        """
        if not isinstance(manifest_id, str) or not manifest_id or self._absent():
            return None
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM entries WHERE manifest_id = ?", (manifest_id,)
            ).fetchone()
            if row is None and manifest_id.isdigit():
                row = conn.execute(
                    f"SELECT {_COLUMNS} FROM entries WHERE id = ? AND manifest_id IS NULL",
                    (int(manifest_id),),
                ).fetchone()
        return None if row is None else self._entry(row)

    def by_payload(self, payload: bytes) -> list[StoredManifest]:
        """Every entry registered under ``payload`` (at most one in this store).

        Example:
            >>> import tempfile, pathlib
            >>> from aiwatermark.store import SQLiteManifestStore
            >>> SQLiteManifestStore(pathlib.Path(tempfile.mkdtemp()) / "m.sqlite3").by_payload(
            ...     bytes(8))
            []
        """
        check_payload(payload)
        if self._absent():
            return []
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM entries WHERE payload = ? ORDER BY id", (bytes(payload),)
            ).fetchall()
        return [self._entry(row) for row in rows]

    def by_fingerprint(
        self, fingerprint: bytes, max_distance: int
    ) -> list[tuple[StoredManifest, int]]:
        """Every entry whose fingerprint is within ``max_distance`` bits, nearest first.

        The fingerprints are indexed in memory on first use (and topped up with newer rows
        on each call), so a look-up among a million entries takes milliseconds.

        Example:
            >>> import tempfile, pathlib
            >>> from aiwatermark.store import SQLiteManifestStore
            >>> store = SQLiteManifestStore(pathlib.Path(tempfile.mkdtemp()) / "m.sqlite3")
            >>> _ = store.put(None, b"jumbf", fingerprint=bytes(32))
            >>> [(e.id, d) for e, d in store.by_fingerprint(b"\\x03" + bytes(31), 31)]
            [('1', 2)]
        """
        check_fingerprint(fingerprint)
        if self._absent():
            return []
        with self._reading() as conn:
            new = conn.execute(
                "SELECT id, fingerprint FROM entries WHERE id > ? AND fingerprint IS NOT NULL "
                "ORDER BY id",
                (self._indexed_upto,),
            ).fetchall()
            valid = [(i, f) for i, f in new if isinstance(f, bytes) and len(f) == 32]
            if valid:
                self._index.add_many((i for i, _ in valid), (f for _, f in valid))
            if new:
                self._indexed_upto = int(new[-1][0])
            hits = self._index.search(bytes(fingerprint), max_distance)
            if not hits:
                return []
            ids = [key for key, _ in hits]
            marks = ",".join("?" * len(ids))
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM entries WHERE id IN ({marks})", ids
            ).fetchall()
        by_id = {int(row[0]): self._entry(row) for row in rows}
        return [(by_id[key], d) for key, d in hits if key in by_id]

    def _entry(self, row: tuple[object, ...]) -> StoredManifest:
        entry_id, manifest_id, payload, fingerprint, manifest, meta, created = row
        try:
            loaded = json.loads(str(meta))
        except ValueError:
            loaded = {}
        return StoredManifest(
            id=str(manifest_id) if manifest_id else str(entry_id),
            manifest=bytes(manifest) if isinstance(manifest, bytes) else b"",
            payload=payload if isinstance(payload, bytes) else None,
            fingerprint=fingerprint if isinstance(fingerprint, bytes) else None,
            meta={str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {},
            created=float(created) if isinstance(created, (int, float)) else 0.0,
            origin=str(self._path),
        )

    def __len__(self) -> int:
        with self._reading() as conn:
            count = conn.execute("SELECT COUNT(*) FROM entries").fetchone()
        return int(count[0])

    def close(self) -> None:
        """Checkpoint the write-ahead log into the file and close (reopened on next use)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
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


def _taken(payload: bytes | None, manifest_id: str | None, detail: str, where: str) -> str:
    what = (
        f"manifest {manifest_id}"
        if "manifest_id" in detail or payload is None
        else f"content ID {bytes(payload).hex()}"
    )
    return (
        f"{what} is already registered in {where!r}; a store never replaces an entry "
        "(mark() draws a fresh ID when payload= is not given)"
    )
