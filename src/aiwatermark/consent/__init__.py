"""Consent for digital twins: registered records, checked when an image is marked, and
reported per use.

A brand that publishes AI images of a real person's digital twin registers the person's
consent (:class:`Consent`: who, which brands, purposes, media and regions, from when until
when, the pay terms, the hash of the signed agreement) in the manifest store's consent
registry. :func:`aiwatermark.mark` with ``likeness=Use(...)`` refuses — with a
:class:`aiwatermark.ConsentError` naming the reason — a consent that is unknown, not yet
valid, expired, withdrawn or that does not cover the use, and otherwise signs the checked
use into the manifest. :func:`aiwatermark.verify` reports the consent at signing time and
now; :func:`usage_report` lists every registered image of the twin, the basis of per-use
pay. The library records and checks consent; it is not a legal opinion.

Example:
    >>> import datetime, tempfile, pathlib
    >>> from aiwatermark.consent import Consent, Use, check
    >>> from aiwatermark.store import SQLiteManifestStore
    >>> store = SQLiteManifestStore(pathlib.Path(tempfile.mkdtemp()) / "m.sqlite3")
    >>> record = store.consents.register(Consent(
    ...     "ava-2026-001", "subj-7f3a", "Ava Example", licensees=["Maison Example"],
    ...     purposes=["advertising"], media=["web", "social"], regions=["EU"],
    ...     document_sha256="ab" * 32))
    >>> use = Use("ava-2026-001", "Maison Example", "advertising", "print", "EU")
    >>> print(check(record, use).reason)  # doctest: +NORMALIZE_WHITESPACE
    consent ava-2026-001 v1 does not cover this use: medium 'print' is not allowed
    (allowed: web, social)
"""

from __future__ import annotations

import datetime as dt

from ..errors import ConsentError
from ._check import ConsentDecision, ConsentState, assertion, check, recorded_use
from ._record import ANY, MINING_USES, Consent, ConsentRecordError, Revocation, Use
from ._registry import ConsentRegistry, next_version, pick_version, registry_of
from ._status import ConsentStatus, assess
from ._usage import META_PREFIX, LikenessUse, UsageReport, use_meta


def usage_report(
    registry: ConsentRegistry,
    subject_id: str,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> UsageReport:
    """Every image of ``subject_id``'s twin registered in ``[start, end)``, with totals per
    brand: the basis of per-use pay, and where the person can see their likeness used.

    Example:
        >>> import tempfile, pathlib
        >>> from aiwatermark.consent import usage_report
        >>> from aiwatermark.store import SQLiteManifestStore
        >>> store = SQLiteManifestStore(pathlib.Path(tempfile.mkdtemp()) / "m.sqlite3")
        >>> usage_report(store.consents, "subj-7f3a").totals
        {}
    """
    uses = registry.uses(subject_id, start, end)
    return UsageReport(subject_id, start, end, tuple(sorted(uses, key=lambda use: use.registered)))


__all__ = [
    "ANY",
    "META_PREFIX",
    "MINING_USES",
    "Consent",
    "ConsentDecision",
    "ConsentError",
    "ConsentRecordError",
    "ConsentRegistry",
    "ConsentState",
    "ConsentStatus",
    "LikenessUse",
    "Revocation",
    "UsageReport",
    "Use",
    "assertion",
    "assess",
    "check",
    "next_version",
    "pick_version",
    "recorded_use",
    "registry_of",
    "usage_report",
    "use_meta",
]
