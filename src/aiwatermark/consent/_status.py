"""What verify says about a marked twin's consent: at signing time, and now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import AiWatermarkError
from ..provenance import Likeness
from ._check import ConsentDecision, check, recorded_use
from ._registry import ConsentRegistry, pick_version


@dataclass(frozen=True)
class ConsentStatus:
    """A likeness assertion checked against the consent registry.

    ``at_signing`` judges the use the manifest records against the consent version it names,
    at the manifest's signing time; ``now`` judges it against the latest version today (so a
    withdrawal or an expiry after the image was made shows). ``override`` is the reason the
    marker gave for marking although the check failed; ``registry`` names who answered.

    Example:
        >>> import datetime
        >>> from aiwatermark.consent import ConsentStatus, check
        >>> unknown = check(None, None, ref="c-1")
        >>> ConsentStatus("c-1", None, unknown, unknown, None, None, "").describe()[:31]
        'consent c-1 is not registered ('
    """

    consent_ref: str
    version: int | None
    at_signing: ConsentDecision
    now: ConsentDecision
    signed: dt.datetime | None
    override: str | None
    registry: str

    @property
    def rights_holder(self) -> str | None:
        """Who holds the rights, per the registry."""
        consent = self.now.consent or self.at_signing.consent
        return None if consent is None else consent.rights_holder

    def describe(self) -> str:
        """One line: consented when made (or not, and why), and the state today.

        Example:
            >>> import datetime
            >>> from aiwatermark.consent import ConsentStatus, check
            >>> unknown = check(None, None, ref="c-1")
            >>> "not registered" in ConsentStatus("c-1", None, unknown, unknown, None, None,
            ...                                   "").describe()
            True
        """
        if self.at_signing.state == "unknown":
            where = f" (asked {self.registry})" if self.registry else ""
            return f"{self.at_signing.reason}{where}"
        made = f" on {self.signed.date()}" if self.signed else ""
        if self.at_signing.allowed:
            text = f"consented when made{made}"
        else:
            text = f"NOT consented when made{made}: {self.at_signing.reason}"
            if self.override:
                text += f" — marked anyway, override recorded: {self.override!r}"
        if self.now.state == "revoked" and self.now.revocation is not None:
            text += f"; consent withdrawn on {self.now.revocation.day}"
        elif self.now.state == "expired" and self.now.consent is not None:
            text += f"; consent expired on {self.now.consent.valid_until}"
        elif self.now.allowed:
            text += "; consent still valid"
        elif self.now.reason != self.at_signing.reason:
            text += f"; now: {self.now.reason}"
        holder = f", rights holder {self.rights_holder}" if self.rights_holder else ""
        version = f" v{self.version}" if self.version else ""
        return f"consent {self.consent_ref}{version}{holder}: {text}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; the consent's public scope, never the subject's private name."""
        consent = self.now.consent or self.at_signing.consent
        return {
            "consent_ref": self.consent_ref,
            "version": self.version,
            "at_signing": self.at_signing.to_dict(),
            "now": self.now.to_dict(),
            "signed": None if self.signed is None else self.signed.isoformat(),
            "override": self.override,
            "registry": self.registry,
            "rights_holder": self.rights_holder,
            "consent": None if consent is None else consent.public_dict(),
            "summary": self.describe(),
        }


def assess(
    likeness: Likeness,
    signed: dt.datetime | None,
    registries: Sequence[ConsentRegistry],
    *,
    now: dt.datetime | None = None,
) -> ConsentStatus:
    """Check a manifest's likeness assertion against the first registry that knows it.

    The manifest's subject must be the record's: a consent_ref borrowed from another
    person's agreement is a ``mismatch``, never a consent.

    Raises:
        aiwatermark.StoreError: every registry that was asked failed (verify turns it into
            a note).

    Example:
        >>> from aiwatermark.provenance import Likeness
        >>> from aiwatermark.consent import assess
        >>> assess(Likeness("s-1", "Ava", "c-1"), None, []).at_signing.state
        'unknown'
    """
    ref = likeness.consent_ref
    use = recorded_use(likeness)
    moment = now or dt.datetime.now(dt.timezone.utc)
    failure: AiWatermarkError | None = None
    for registry in registries:
        try:
            # One read of the versions serves both moments (a repository: one request less).
            versions = registry.versions(ref)
            made_under = pick_version(versions, likeness.consent_version)
            if made_under is None:
                continue
            latest = pick_version(versions)
            revocation = registry.revocation(ref)
        except AiWatermarkError as exc:
            failure = exc
            continue
        if likeness.subject_id and likeness.subject_id != made_under.subject_id:
            mismatch = ConsentDecision(
                "mismatch",
                f"consent {ref} is {made_under.subject_id}'s agreement, but the manifest "
                f"names subject {likeness.subject_id}",
                made_under,
                revocation,
            )
            return ConsentStatus(
                ref,
                made_under.version,
                mismatch,
                mismatch,
                signed,
                likeness.consent_override,
                registry.origin,
            )
        return ConsentStatus(
            consent_ref=ref,
            version=made_under.version,
            at_signing=check(made_under, use, revocation=revocation, when=signed or moment),
            now=check(latest or made_under, use, revocation=revocation, when=moment),
            signed=signed,
            override=likeness.consent_override,
            registry=registry.origin,
        )
    if failure is not None:
        raise failure
    unknown = check(None, use, ref=ref)
    origins = ", ".join(registry.origin for registry in registries)
    return ConsentStatus(ref, None, unknown, unknown, signed, likeness.consent_override, origins)


__all__ = ["ConsentStatus", "assess"]
