"""Every registered use of a digital twin: what the person is paid from and can look at."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..provenance import Likeness

# The likeness keys of a manifest store entry's meta: an index of what the signed manifest
# says, written by mark() and, in a repository, derived from the verified manifest itself.
META_PREFIX = "likeness."
_USE_KEYS = (
    "consent_ref",
    "consent_version",
    "subject_id",
    "licensee",
    "purpose",
    "medium",
    "region",
    "compensation_ref",
    "consent_override",
)


def use_meta(likeness: Likeness, signer: str) -> dict[str, str]:
    """The store meta that records one use of a twin (empty without a ``subject_id``).

    Example:
        >>> from aiwatermark.provenance import Likeness
        >>> from aiwatermark.consent import use_meta
        >>> use_meta(Likeness("s-1", "Ava", "c-1", subject_id="s-1", licensee="Brand"),
        ...          "Studio")["likeness.licensee"]
        'Brand'
    """
    if not likeness.subject_id:
        return {}
    meta = {"signer": signer}
    for key in _USE_KEYS:
        value = getattr(likeness, key)
        if value is not None:
            meta[META_PREFIX + key] = str(value)
    return meta


@dataclass(frozen=True)
class LikenessUse:
    """One registered image of a twin: when, by whom, for what, and under which consent.

    Example:
        >>> import datetime
        >>> from aiwatermark.consent import LikenessUse
        >>> use = LikenessUse.from_meta("urn:c2pa:1", "00ff", 1.8e9, {
        ...     "signer": "Studio", "likeness.subject_id": "s-1", "likeness.licensee": "Brand"})
        >>> use.licensee, use.registered.year
        ('Brand', 2027)
    """

    manifest_id: str
    content_id: str | None
    registered: dt.datetime
    subject_id: str
    consent_ref: str
    consent_version: int | None
    signer: str
    licensee: str
    purpose: str
    medium: str
    region: str
    compensation_ref: str | None
    consent_override: str | None

    @classmethod
    def from_meta(
        cls, manifest_id: str, content_id: str | None, created: float, meta: Mapping[str, str]
    ) -> LikenessUse:
        """Build from a store entry's id, content ID, registration time and meta."""

        def get(key: str) -> str:
            return meta.get(META_PREFIX + key, "")

        version = get("consent_version")
        return cls(
            manifest_id=manifest_id,
            content_id=content_id,
            registered=dt.datetime.fromtimestamp(created, dt.timezone.utc),
            subject_id=get("subject_id"),
            consent_ref=get("consent_ref"),
            consent_version=int(version) if version.isdigit() else None,
            signer=meta.get("signer", ""),
            licensee=get("licensee"),
            purpose=get("purpose"),
            medium=get("medium"),
            region=get("region"),
            compensation_ref=get("compensation_ref") or None,
            consent_override=get("consent_override") or None,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the time in ISO 8601)."""
        out = {item.name: getattr(self, item.name) for item in fields(self)}
        out["registered"] = self.registered.isoformat()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LikenessUse:
        """Read back what :meth:`to_dict` wrote (a repository's per-use report).

        Example:
            >>> from aiwatermark.consent import LikenessUse
            >>> use = LikenessUse.from_meta("1", None, 1.8e9, {"likeness.licensee": "Brand"})
            >>> LikenessUse.from_dict(use.to_dict()) == use
            True
        """
        values: dict[str, Any] = {item.name: data.get(item.name) for item in fields(cls)}
        values["registered"] = dt.datetime.fromisoformat(str(data["registered"]))
        return cls(**values)


@dataclass(frozen=True)
class UsageReport:
    """The uses of one twin in a period, with totals per licensee (brand).

    Example:
        >>> from aiwatermark.consent import LikenessUse, UsageReport
        >>> use = LikenessUse.from_meta("1", None, 1.8e9, {"likeness.licensee": "Brand"})
        >>> UsageReport("s-1", None, None, (use, use)).totals
        {'Brand': 2}
    """

    subject_id: str
    start: dt.datetime | None
    end: dt.datetime | None
    uses: tuple[LikenessUse, ...]

    @property
    def totals(self) -> dict[str, int]:
        """Uses per licensee, most used first."""
        return dict(Counter(use.licensee for use in self.uses).most_common())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "subject_id": self.subject_id,
            "from": None if self.start is None else self.start.isoformat(),
            "to": None if self.end is None else self.end.isoformat(),
            "uses": [use.to_dict() for use in self.uses],
            "totals": self.totals,
            "count": len(self.uses),
        }

    def to_csv(self) -> str:
        """One CSV row per use (with a header), for a spreadsheet or a payroll import.

        Example:
            >>> from aiwatermark.consent import UsageReport
            >>> UsageReport("s-1", None, None, ()).to_csv().splitlines()[0][:34]
            'manifest_id,content_id,registered,'
        """
        buffer = io.StringIO()
        names = [item.name for item in fields(LikenessUse)]
        writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        for use in self.uses:
            writer.writerow(use.to_dict())
        return buffer.getvalue()


__all__ = ["META_PREFIX", "LikenessUse", "UsageReport", "use_meta"]
