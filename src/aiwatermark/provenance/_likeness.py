"""The likeness-consent assertion: whose likeness is shown, and under which agreement."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SigningError

LIKENESS_LABEL = "io.github.aiwatermark.likeness-consent"
"""C2PA assertion label of the likeness-consent assertion (reverse-domain custom label)."""

_TEXT_FIELDS = ("subject", "rights_holder", "consent_ref", "purpose", "compensation_ref")


def _date(value: object, name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise SigningError(f"likeness {name} must be a date like '2026-12-31', not {value!r}")


@dataclass(frozen=True)
class Likeness:
    """Consent to depict a real person, recorded as a signed C2PA assertion.

    ``subject`` names (or identifies) the depicted person, ``rights_holder`` who granted the
    rights, ``consent_ref`` the agreement (contract ID or URL). ``scope`` lists permitted
    uses, ``purpose`` says what this image is for, ``valid_from``/``valid_until`` bound the
    consent and ``compensation_ref`` points at the payment record. Stored under
    :data:`LIKENESS_LABEL`.

    Example:
        >>> import datetime
        >>> from aiwatermark.provenance import Likeness
        >>> consent = Likeness(subject="Jane Doe", rights_holder="Jane Doe",
        ...                    consent_ref="contract-2026-017", scope=["advertising"],
        ...                    valid_until=datetime.date(2027, 1, 31))
        >>> consent.to_dict()["valid_until"]
        '2027-01-31'
    """

    subject: str
    rights_holder: str
    consent_ref: str
    scope: Sequence[str] = field(default=())
    purpose: str | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    compensation_ref: str | None = None

    def __post_init__(self) -> None:
        for name in _TEXT_FIELDS:
            value = getattr(self, name)
            required = name in ("subject", "rights_holder", "consent_ref")
            if value is None and not required:
                continue
            if not isinstance(value, str) or (required and not value.strip()):
                raise SigningError(f"likeness {name} must be a non-empty string, not {value!r}")
        scope: object = self.scope
        if isinstance(scope, str) or not isinstance(scope, Iterable):
            raise SigningError(f"likeness scope must be a list of uses, not {scope!r}")
        uses = tuple(scope)
        if not all(isinstance(use, str) and use.strip() for use in uses):
            raise SigningError(f"likeness scope must hold non-empty strings, not {uses!r}")
        object.__setattr__(self, "scope", uses)
        start = _date(self.valid_from, "valid_from")
        end = _date(self.valid_until, "valid_until")
        if start and end and end < start:
            raise SigningError(f"likeness valid_until {end} is before valid_from {start}")
        object.__setattr__(self, "valid_from", start)
        object.__setattr__(self, "valid_until", end)

    def to_dict(self) -> dict[str, Any]:
        """The assertion body: a JSON-ready dict (dates as ISO strings, None left out).

        Example:
            >>> from aiwatermark.provenance import Likeness
            >>> Likeness("Jane", "Jane", "c-1").to_dict()
            {'subject': 'Jane', 'rights_holder': 'Jane', 'consent_ref': 'c-1', 'scope': []}
        """
        out: dict[str, Any] = {
            "subject": self.subject,
            "rights_holder": self.rights_holder,
            "consent_ref": self.consent_ref,
            "scope": list(self.scope),
        }
        optional = {
            "purpose": self.purpose,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "compensation_ref": self.compensation_ref,
        }
        out.update({key: value for key, value in optional.items() if value is not None})
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Likeness:
        """Build from a dict such as :meth:`to_dict` returns (unknown keys are an error).

        Example:
            >>> from aiwatermark.provenance import Likeness
            >>> Likeness.from_dict({"subject": "J", "rights_holder": "J",
            ...                     "consent_ref": "c-1", "valid_from": "2026-01-01"}).valid_from
            datetime.date(2026, 1, 1)
        """
        if not isinstance(data, Mapping):
            raise SigningError(f"likeness must be a JSON object, not {type(data).__name__}")
        known = {*_TEXT_FIELDS, "scope", "valid_from", "valid_until"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SigningError(
                f"likeness has unknown field(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(known))}"
            )
        missing = [name for name in ("subject", "rights_holder", "consent_ref") if name not in data]
        if missing:
            raise SigningError(f"likeness is missing {', '.join(missing)}")
        return cls(
            subject=data["subject"],
            rights_holder=data["rights_holder"],
            consent_ref=data["consent_ref"],
            scope=data.get("scope") or (),
            purpose=data.get("purpose"),
            valid_from=data.get("valid_from"),
            valid_until=data.get("valid_until"),
            compensation_ref=data.get("compensation_ref"),
        )

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> Likeness:
        """Build from a JSON file path or JSON text (what the CLI's ``--likeness`` takes).

        Example:
            >>> from aiwatermark.provenance import Likeness
            >>> Likeness.from_json('{"subject": "J", "rights_holder": "J", '
            ...                    '"consent_ref": "c-1", "scope": ["ads"]}').scope
            ('ads',)
        """
        text = os.fspath(source)
        name = "likeness JSON"
        if not text.lstrip().startswith("{"):
            name = repr(text)
            try:
                text = Path(text).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise SigningError(f"likeness file {name}: cannot read it ({exc})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SigningError(f"{name}: not valid JSON ({exc})") from None
        try:
            return cls.from_dict(data)
        except SigningError as exc:
            raise SigningError(f"{name}: {exc}") from None

    def expired_on(self, day: dt.date) -> bool:
        """True when the consent no longer covers ``day`` (after ``valid_until``).

        Example:
            >>> import datetime
            >>> from aiwatermark.provenance import Likeness
            >>> Likeness("J", "J", "c", valid_until=datetime.date(2020, 1, 1)).expired_on(
            ...     datetime.date(2024, 5, 1))
            True
        """
        return self.valid_until is not None and day > self.valid_until
