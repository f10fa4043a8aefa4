"""Consent records the tests register: Jane Doe's digital twin, as an agency would file it."""

from __future__ import annotations

import datetime as dt
import hashlib

from aiwatermark.consent import Consent, ConsentRegistry, Use

AGREEMENT = b"Jane Doe digital twin agreement, signed 2026-01-01 (test document)"

JANE = Consent(
    consent_ref="twin-2026-042",
    subject_id="subj-jd-7f3a",
    subject_name="Jane Doe",
    name_public=True,
    rights_holder="Jane Doe",
    agency="Example Models Ltd",
    licensees=["Producer Studio", "Maison Example"],
    purposes=["advertising", "social media"],
    media=["web", "social"],
    regions=["EU", "US"],
    valid_from=dt.date(2026, 1, 1),
    compensation_ref="agreement 2026-042, schedule B: per-use fee",
    document_sha256=hashlib.sha256(AGREEMENT).hexdigest(),
)

JANE_USE = Use(
    JANE.consent_ref, licensee="Producer Studio", purpose="advertising", medium="web", region="EU"
)


def register_jane(registry: ConsentRegistry, **changes: object) -> Use:
    """Register Jane's consent (with ``changes``) and return the in-scope use."""
    record = Consent.from_dict({**JANE.to_dict(), "version": 0, "registered": None, **changes})
    registry.register(record)
    return Use(record.consent_ref, "Producer Studio", "advertising", "web", "EU")
