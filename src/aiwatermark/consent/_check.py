"""Whether a consent covers a use at a given time: the one rule mark and verify both apply."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from ..provenance import Likeness
from ._record import Consent, Revocation, Use

ConsentState = Literal[
    "valid", "unknown", "not_yet_valid", "expired", "revoked", "out_of_scope", "mismatch"
]


@dataclass(frozen=True)
class ConsentDecision:
    """Whether a consent covered a use at one moment, and if not, why (``reason``).

    Example:
        >>> import datetime
        >>> from aiwatermark.consent import check
        >>> decision = check(None, None, ref="ava-2026-001")
        >>> decision.state, decision.allowed
        ('unknown', False)
    """

    state: ConsentState
    reason: str
    consent: Consent | None = None
    revocation: Revocation | None = None

    @property
    def allowed(self) -> bool:
        """True when the use was covered."""
        return self.state == "valid"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the record in its public form)."""
        return {
            "state": self.state,
            "reason": self.reason,
            "version": None if self.consent is None else self.consent.version,
            "revocation": None if self.revocation is None else self.revocation.to_dict(public=True),
        }


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def check(
    consent: Consent | None,
    use: Use | None,
    *,
    revocation: Revocation | None = None,
    when: dt.datetime | None = None,
    ref: str | None = None,
) -> ConsentDecision:
    """Decide whether ``consent`` covers ``use`` at ``when`` (default: now).

    In this order: an unknown consent, a revocation made by then, a consent not yet or no
    longer valid on that (UTC) day, a use outside its scope (``use=None`` skips the scope).

    Example:
        >>> import datetime
        >>> from aiwatermark.consent import Consent, Use, check
        >>> consent = Consent("c-1", "s-1", "Ava", ["*"], ["advertising"], ["*"], ["EU"],
        ...                   "00" * 32, valid_until=datetime.date(2027, 4, 30))
        >>> use = Use("c-1", "Brand", "advertising", "web", "US")
        >>> check(consent, use, when=datetime.datetime(2026, 6, 1,
        ...                                            tzinfo=datetime.timezone.utc)).reason
        "consent c-1 v0 does not cover this use: region 'US' is not allowed (allowed: EU)"
    """
    moment = when or _now()
    day = moment.astimezone(dt.timezone.utc).date()
    name = ref or (consent.consent_ref if consent else use.consent_ref if use else "?")
    if consent is None:
        return ConsentDecision(
            "unknown",
            f"consent {name} is not registered (register it first: "
            "aiwatermark likeness register consent.json)",
        )
    label = f"consent {consent.consent_ref} v{consent.version}"
    if revocation is not None and revocation.revoked <= moment:
        return ConsentDecision(
            "revoked",
            f"{label} was withdrawn on {revocation.day}",
            consent,
            revocation,
        )
    if consent.valid_from is not None and day < consent.valid_from:
        return ConsentDecision(
            "not_yet_valid", f"{label} is valid only from {consent.valid_from}", consent
        )
    if consent.valid_until is not None and day > consent.valid_until:
        return ConsentDecision("expired", f"{label} expired on {consent.valid_until}", consent)
    if use is not None:
        problem = consent.allows(use)
        if problem is not None:
            return ConsentDecision(
                "out_of_scope", f"{label} does not cover this use: {problem}", consent
            )
    return ConsentDecision("valid", f"{label} covers this use", consent)


def recorded_use(likeness: Likeness) -> Use | None:
    """The use a likeness assertion says it was checked for (None for assertions written
    before consent checks, which name no brand, medium or region).

    Example:
        >>> from aiwatermark.provenance import Likeness
        >>> from aiwatermark.consent import recorded_use
        >>> recorded_use(Likeness("s-1", "Ava", "c-1")) is None
        True
    """
    parts = (likeness.licensee, likeness.purpose, likeness.medium, likeness.region)
    if not all(parts):
        return None
    licensee, purpose, medium, region = (str(part) for part in parts)
    return Use(likeness.consent_ref, licensee, purpose, medium, region)


def assertion(consent: Consent, use: Use, *, override: str | None = None) -> Likeness:
    """The likeness assertion a manifest carries for ``use`` under ``consent``.

    The real name goes into the (public) manifest only when the record allows it.

    Example:
        >>> from aiwatermark.consent import Consent, Use, assertion
        >>> consent = Consent("c-1", "s-1", "Ava", ["*"], ["*"], ["*"], ["*"], "00" * 32,
        ...                   subject_name="Ava Example", version=2)
        >>> a = assertion(consent, Use("c-1", "Brand", "ads", "web", "EU"))
        >>> a.subject, a.consent_version, a.licensee
        ('s-1', 2, 'Brand')
    """
    return Likeness(
        subject=consent.public_subject,
        rights_holder=consent.rights_holder,
        consent_ref=consent.consent_ref,
        scope=consent.purposes,
        purpose=use.purpose,
        valid_from=consent.valid_from,
        valid_until=consent.valid_until,
        compensation_ref=consent.compensation_ref,
        subject_id=consent.subject_id,
        consent_version=consent.version or None,
        agency=consent.agency,
        licensee=use.licensee,
        medium=use.medium,
        region=use.region,
        document_sha256=consent.document_sha256,
        consent_override=override,
        allowed_mining=consent.allowed_mining,
    )


__all__ = ["ConsentDecision", "ConsentState", "assertion", "check", "recorded_use"]
