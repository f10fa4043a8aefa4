"""The consent registry of the PostgreSQL store: two append-only tables beside the entries."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from ..consent import META_PREFIX as _PREFIX
from ..consent import Consent, LikenessUse, Revocation, next_version, pick_version
from ..errors import ConsentError, StoreError

if TYPE_CHECKING:
    import psycopg

    from ._postgres import PostgresManifestStore

CONSENTS = "aiwatermark_consents"
REVOCATIONS = "aiwatermark_consent_revocations"


def consent_schema(entries: str) -> tuple[str, ...]:
    """Schema version 2: the consent tables, append-only by the entries' trigger function,
    and an index for the per-use report."""
    return (
        f"""CREATE TABLE {CONSENTS} (
            id bigserial PRIMARY KEY,
            consent_ref text NOT NULL CHECK (consent_ref <> ''),
            version integer NOT NULL CHECK (version >= 1),
            subject_id text NOT NULL,
            record jsonb NOT NULL,
            registered timestamptz NOT NULL DEFAULT now(),
            UNIQUE (consent_ref, version)
        )""",
        f"""CREATE TABLE {REVOCATIONS} (
            consent_ref text PRIMARY KEY,
            reason text NOT NULL,
            revoked_by text,
            revoked timestamptz NOT NULL DEFAULT now()
        )""",
        *(
            f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
                ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {entries}_append_only()"""
            for table in (CONSENTS, REVOCATIONS)
        ),
        f"CREATE INDEX {entries}_likeness_subject ON {entries} "
        f"((meta->>'{_PREFIX}subject_id'), created)",
    )


def _consent(record: Any, version: int, registered: dt.datetime) -> Consent:
    return Consent.from_dict(record).registered_as(version, registered)


class PostgresConsentRegistry:
    """Consent records in a PostgreSQL manifest store's database (``store.consents``).

    Example:
        >>> from aiwatermark.store import PostgresManifestStore
        >>> PostgresManifestStore("postgresql://app@db.example/marks").consents
        PostgresConsentRegistry('postgresql://app@db.example/marks')
    """

    def __init__(self, store: PostgresManifestStore, entries: str) -> None:
        self._store = store
        self._entries = entries

    @property
    def origin(self) -> str:
        """The database URL without its password."""
        return self._store.origin

    def __repr__(self) -> str:
        return f"PostgresConsentRegistry({self.origin!r})"

    def register(self, consent: Consent) -> Consent:
        """Store ``consent`` as the next version of its reference (see
        :class:`aiwatermark.consent.ConsentRegistry`)."""
        if not isinstance(consent, Consent):
            raise StoreError(f"register() takes a consent.Consent, not {type(consent).__name__}")
        from psycopg.types.json import Jsonb

        def insert(conn: psycopg.Connection[Any]) -> Consent:
            with conn.transaction():
                # Registrations of one reference queue here, so each reads the last version.
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))",
                    (consent.consent_ref,),
                )
                version = next_version(
                    self._versions(conn, consent.consent_ref),
                    self._revocation(conn, consent.consent_ref),
                    consent,
                )
                if isinstance(version, Consent):
                    return version
                record = consent.to_dict()
                record.update(version=0, registered=None)
                row = conn.execute(
                    f"INSERT INTO {CONSENTS} (consent_ref, version, subject_id, record) "
                    "VALUES (%s, %s, %s, %s) RETURNING registered",
                    (consent.consent_ref, version, consent.subject_id, Jsonb(record)),
                ).fetchone()
                assert row is not None
                return consent.registered_as(version, row[0])

        return self._store._run("save to", insert, idempotent=False)

    def get(self, consent_ref: str, version: int | None = None) -> Consent | None:
        """The latest version (or ``version``) of a consent, or None."""
        return pick_version(self.versions(consent_ref), version)

    def versions(self, consent_ref: str) -> list[Consent]:
        """Every version of a consent, oldest first."""
        return self._store._run(
            "read", lambda conn: self._versions(conn, consent_ref), idempotent=True
        )

    def revoke(self, consent_ref: str, reason: str, *, by: str | None = None) -> Revocation:
        """Withdraw a consent from now on (final)."""
        if not isinstance(reason, str) or not reason.strip():
            raise ConsentError("a revocation needs a reason (it is kept with it)")

        def insert(conn: psycopg.Connection[Any]) -> Revocation:
            with conn.transaction():
                if not self._versions(conn, consent_ref):
                    raise ConsentError(f"consent {consent_ref} is not registered here")
                row = conn.execute(
                    f"INSERT INTO {REVOCATIONS} (consent_ref, reason, revoked_by) "
                    "VALUES (%s, %s, %s) ON CONFLICT (consent_ref) DO NOTHING RETURNING revoked",
                    (consent_ref, reason.strip(), by),
                ).fetchone()
                if row is None:
                    earlier = self._revocation(conn, consent_ref)
                    day = earlier.day if earlier else "earlier"
                    raise ConsentError(f"consent {consent_ref} was already withdrawn on {day}")
                return Revocation(consent_ref, reason.strip(), row[0], by)

        return self._store._run("save to", insert, idempotent=False)

    def revocation(self, consent_ref: str) -> Revocation | None:
        """The consent's revocation, or None."""
        return self._store._run(
            "read", lambda conn: self._revocation(conn, consent_ref), idempotent=True
        )

    def uses(
        self,
        subject_id: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> list[LikenessUse]:
        """Every registered image of the subject's twin in ``[start, end)``, oldest first."""
        rows = self._store._run(
            "read",
            lambda conn: conn.execute(
                f"SELECT id, manifest_id, payload, meta, created FROM {self._entries} "
                f"WHERE meta->>'{_PREFIX}subject_id' = %s "
                "AND (%s::timestamptz IS NULL OR created >= %s) "
                "AND (%s::timestamptz IS NULL OR created < %s) ORDER BY created, id",
                (subject_id, start, start, end, end),
            ).fetchall(),
            idempotent=True,
        )
        return [
            LikenessUse.from_meta(
                str(manifest_id or entry_id),
                None if payload is None else bytes(payload).hex(),
                created.timestamp(),
                {str(k): str(v) for k, v in meta.items()},
            )
            for entry_id, manifest_id, payload, meta, created in rows
        ]

    @staticmethod
    def _versions(conn: psycopg.Connection[Any], consent_ref: str) -> list[Consent]:
        rows = conn.execute(
            f"SELECT record, version, registered FROM {CONSENTS} "
            "WHERE consent_ref = %s ORDER BY version",
            (consent_ref,),
        ).fetchall()
        return [_consent(record, version, registered) for record, version, registered in rows]

    @staticmethod
    def _revocation(conn: psycopg.Connection[Any], consent_ref: str) -> Revocation | None:
        row = conn.execute(
            f"SELECT reason, revoked_by, revoked FROM {REVOCATIONS} WHERE consent_ref = %s",
            (consent_ref,),
        ).fetchone()
        return None if row is None else Revocation(consent_ref, row[0], row[2], row[1])
