"""The consent registry of the SQLite store: two append-only tables in the same file."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..consent import META_PREFIX as _PREFIX
from ..consent import (
    Consent,
    LikenessUse,
    Revocation,
    next_version,
    pick_version,
)
from ..errors import ConsentError, StoreError

if TYPE_CHECKING:
    from ._sqlite import SQLiteManifestStore

_APPEND_ONLY = "BEGIN SELECT RAISE(ABORT, 'the consent registry is append-only'); END"

CONSENT_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS consents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        consent_ref TEXT NOT NULL,
        version INTEGER NOT NULL,
        subject_id TEXT NOT NULL,
        record TEXT NOT NULL,
        registered REAL NOT NULL,
        UNIQUE (consent_ref, version)
    )""",
    """CREATE TABLE IF NOT EXISTS consent_revocations (
        consent_ref TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        revoked_by TEXT,
        revoked REAL NOT NULL
    )""",
    *(
        f"CREATE TRIGGER IF NOT EXISTS {table}_append_only_{op.lower()} BEFORE {op} ON {table} "
        + _APPEND_ONLY
        for table in ("consents", "consent_revocations")
        for op in ("UPDATE", "DELETE")
    ),
    # The per-use report reads the manifests of one subject without a table scan.
    f"""CREATE INDEX IF NOT EXISTS entries_likeness_subject
        ON entries (json_extract(meta, '$."{_PREFIX}subject_id"'))""",
)


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


def _seconds(moment: dt.datetime | None, default: float) -> float:
    if moment is None:
        return default
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).timestamp()


class SQLiteConsentRegistry:
    """Consent records in a SQLite manifest store's file (``store.consents``).

    Example:
        >>> import tempfile, pathlib
        >>> from aiwatermark.consent import Consent
        >>> from aiwatermark.store import SQLiteManifestStore
        >>> registry = SQLiteManifestStore(pathlib.Path(tempfile.mkdtemp()) / "m.db").consents
        >>> consent = Consent("c-1", "s-1", "Ava", ["*"], ["ads"], ["*"], ["*"], "00" * 32)
        >>> registry.register(consent).version, registry.get("c-1").purposes
        (1, ('ads',))
    """

    def __init__(self, store: SQLiteManifestStore) -> None:
        self._store = store

    @property
    def origin(self) -> str:
        """The SQLite file."""
        return str(self._store.path)

    def __repr__(self) -> str:
        return f"SQLiteConsentRegistry({self.origin!r})"

    @contextlib.contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken before the first read: two writers of one reference
        must not both read "version 1 is next"; the second waits for the first to commit."""
        store = self._store
        with store._lock:
            conn = store._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.commit()
                except BaseException:
                    conn.rollback()
                    raise
            except sqlite3.Error as exc:
                raise StoreError(
                    f"cannot save to the consent registry {self.origin!r} ({exc})"
                ) from None

    def register(self, consent: Consent) -> Consent:
        """Store ``consent`` as the next version of its reference (see
        :class:`aiwatermark.consent.ConsentRegistry`)."""
        if not isinstance(consent, Consent):
            raise StoreError(f"register() takes a consent.Consent, not {type(consent).__name__}")
        with self._immediate() as conn:
            ref = consent.consent_ref
            version = next_version(self._versions(conn, ref), self._revocation(conn, ref), consent)
            if isinstance(version, Consent):
                return version
            now = time.time()
            stored = consent.registered_as(version, _utc(now))
            conn.execute(
                "INSERT INTO consents (consent_ref, version, subject_id, record, registered) "
                "VALUES (?, ?, ?, ?, ?)",
                (ref, version, consent.subject_id, json.dumps(stored.to_dict()), now),
            )
            return stored

    def get(self, consent_ref: str, version: int | None = None) -> Consent | None:
        """The latest version (or ``version``) of a consent, or None."""
        return pick_version(self.versions(consent_ref), version)

    def versions(self, consent_ref: str) -> list[Consent]:
        """Every version of a consent, oldest first."""
        if self._store._absent():
            return []
        with self._store._reading() as conn:
            return self._versions(conn, consent_ref)

    def revoke(self, consent_ref: str, reason: str, *, by: str | None = None) -> Revocation:
        """Withdraw a consent from now on (final)."""
        if not isinstance(reason, str) or not reason.strip():
            raise ConsentError("a revocation needs a reason (it is kept with it)")
        with self._immediate() as conn:
            if not self._versions(conn, consent_ref):
                raise ConsentError(f"consent {consent_ref} is not registered here")
            earlier = self._revocation(conn, consent_ref)
            if earlier is not None:
                raise ConsentError(f"consent {consent_ref} was already withdrawn on {earlier.day}")
            now = time.time()
            conn.execute(
                "INSERT INTO consent_revocations (consent_ref, reason, revoked_by, revoked) "
                "VALUES (?, ?, ?, ?)",
                (consent_ref, reason.strip(), by, now),
            )
        return Revocation(consent_ref, reason.strip(), _utc(now), by)

    def revocation(self, consent_ref: str) -> Revocation | None:
        """The consent's revocation, or None."""
        if self._store._absent():
            return None
        with self._store._reading() as conn:
            return self._revocation(conn, consent_ref)

    def uses(
        self,
        subject_id: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> list[LikenessUse]:
        """Every registered image of the subject's twin in ``[start, end)``, oldest first."""
        if self._store._absent():
            return []
        with self._store._reading() as conn:
            rows = conn.execute(
                "SELECT id, manifest_id, payload, meta, created FROM entries "
                f"WHERE json_extract(meta, '$.\"{_PREFIX}subject_id\"') = ? "
                # Rounded as a datetime rounds it, so a use's own time bounds it exactly.
                "AND round(created, 6) >= ? AND round(created, 6) < ? ORDER BY created, id",
                (subject_id, _seconds(start, float("-inf")), _seconds(end, float("inf"))),
            ).fetchall()
        return [
            LikenessUse.from_meta(
                str(manifest_id or entry_id),
                payload.hex() if isinstance(payload, bytes) else None,
                float(created),
                json.loads(meta),
            )
            for entry_id, manifest_id, payload, meta, created in rows
        ]

    @staticmethod
    def _versions(conn: sqlite3.Connection, consent_ref: str) -> list[Consent]:
        rows = conn.execute(
            "SELECT record FROM consents WHERE consent_ref = ? ORDER BY version", (consent_ref,)
        ).fetchall()
        return [Consent.from_dict(json.loads(record)) for (record,) in rows]

    @staticmethod
    def _revocation(conn: sqlite3.Connection, consent_ref: str) -> Revocation | None:
        row = conn.execute(
            "SELECT reason, revoked_by, revoked FROM consent_revocations WHERE consent_ref = ?",
            (consent_ref,),
        ).fetchone()
        if row is None:
            return None
        reason, by, revoked = row
        return Revocation(consent_ref, reason, _utc(revoked), by)
