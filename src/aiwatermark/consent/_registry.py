"""Where consent records live: the registry protocol the manifest stores implement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..errors import ConsentError
from ._record import Consent, Revocation
from ._usage import LikenessUse


@runtime_checkable
class ConsentRegistry(Protocol):
    """Consent records, kept beside the manifests (``store.consents`` of the SQLite and
    PostgreSQL stores and of a remote repository).

    Append-only like the manifests: a changed record is a new version, a revocation is
    final, and nothing is ever replaced or deleted.

    Example:
        >>> import tempfile, pathlib
        >>> from aiwatermark.consent import ConsentRegistry
        >>> from aiwatermark.store import SQLiteManifestStore
        >>> store = SQLiteManifestStore(pathlib.Path(tempfile.mkdtemp()) / "m.sqlite3")
        >>> isinstance(store.consents, ConsentRegistry)
        True
    """

    @property
    def origin(self) -> str:
        """The file, database or repository the records are in."""

    def register(self, consent: Consent) -> Consent:
        """Store ``consent`` as the next version of its ``consent_ref`` (the same content
        again returns the existing version); returns it with ``version`` and ``registered``.
        Raises :class:`aiwatermark.ConsentError` for a revoked reference or another subject."""

    def get(self, consent_ref: str, version: int | None = None) -> Consent | None:
        """The latest version (or ``version``) of a consent, or None."""

    def versions(self, consent_ref: str) -> Sequence[Consent]:
        """Every version of a consent, oldest first."""

    def revoke(self, consent_ref: str, reason: str, *, by: str | None = None) -> Revocation:
        """Withdraw a consent from now on; raises :class:`aiwatermark.ConsentError` when it
        is unknown or already withdrawn."""

    def revocation(self, consent_ref: str) -> Revocation | None:
        """The consent's revocation, or None."""

    def uses(
        self,
        subject_id: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> Sequence[LikenessUse]:
        """Every registered image of the subject's twin, registered in ``[start, end)``."""


def registry_of(store: object) -> ConsentRegistry | None:
    """The consent registry a manifest store carries, or None.

    Example:
        >>> from aiwatermark.consent import registry_of
        >>> registry_of(object()) is None
        True
    """
    registry = getattr(store, "consents", None)
    return registry if isinstance(registry, ConsentRegistry) else None


def pick_version(versions: Sequence[Consent], version: int | None = None) -> Consent | None:
    """For registry implementations: the latest of ``versions`` (oldest first), or the one
    numbered ``version``; None when there is none.

    Example:
        >>> from aiwatermark.consent import pick_version
        >>> pick_version([]) is None
        True
    """
    found = [item for item in versions if version is None or item.version == version]
    return found[-1] if found else None


def next_version(
    existing: Sequence[Consent], revocation: Revocation | None, new: Consent
) -> Consent | int:
    """For registry implementations: the version number ``new`` gets, or the stored record
    it repeats. Raises :class:`aiwatermark.ConsentError` when the change is refused.

    Example:
        >>> from aiwatermark.consent import Consent, next_version
        >>> next_version([], None, Consent("c-1", "s-1", "Ava", ["*"], ["*"], ["*"], ["*"],
        ...                                "00" * 32))
        1
    """
    ref = new.consent_ref
    if revocation is not None:
        raise ConsentError(
            f"consent {ref} was withdrawn on {revocation.day}: a withdrawal is final; "
            "register the new agreement under a new consent_ref"
        )
    if existing:
        latest = existing[-1]
        if latest.subject_id != new.subject_id:
            raise ConsentError(
                f"consent {ref} belongs to subject {latest.subject_id}, not {new.subject_id}: "
                "a consent_ref names one person's agreement"
            )
        if latest == new:
            return latest
    return len(existing) + 1


__all__ = ["ConsentRegistry", "next_version", "pick_version", "registry_of"]
