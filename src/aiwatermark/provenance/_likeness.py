"""The likeness-consent assertion: whose likeness is shown, and under which agreement."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._records import load_json, parse_date
from ..errors import SigningError

LIKENESS_LABEL = "io.github.aiwatermark.likeness-consent"
"""C2PA assertion label of the likeness-consent assertion (reverse-domain custom label)."""

TRAINING_MINING_LABEL = "cawg.training-mining"
"""The CAWG training-and-data-mining assertion (CAWG specification 1.1)."""

MINING_USES = ("ai_training", "ai_generative_training", "data_mining")
"""The CAWG entries (``cawg.<use>``) a likeness declares; each is ``notAllowed`` unless the
person's consent lists it in ``allowed_mining``."""

_TEXT_FIELDS = ("subject", "rights_holder", "consent_ref", "purpose", "compensation_ref")
# Written when the consent was checked against a registry (aiwatermark.consent): which
# version of the record, and the use it was checked for, so verify can check it again.
_USE_FIELDS = (
    "subject_id",
    "agency",
    "licensee",
    "medium",
    "region",
    "document_sha256",
    "consent_override",
)


@dataclass(frozen=True)
class Likeness:
    """Consent to depict a real person, recorded as a signed C2PA assertion.

    ``subject`` names (or identifies) the depicted person, ``rights_holder`` who granted the
    rights, ``consent_ref`` the agreement (contract ID or URL). ``scope`` lists permitted
    uses, ``purpose`` says what this image is for, ``valid_from``/``valid_until`` bound the
    consent and ``compensation_ref`` points at the payment record. Stored under
    :data:`LIKENESS_LABEL`.

    :func:`aiwatermark.mark` builds it from a registered consent record
    (:mod:`aiwatermark.consent`) and adds what the consent was checked against:
    ``subject_id`` (pseudonymous), ``consent_version``, ``agency``, the use (``licensee``,
    ``purpose``, ``medium``, ``region``), the consent document's ``document_sha256``, and
    ``consent_override`` — the reason given when an image was marked although the check
    failed. ``allowed_mining`` lists the CAWG training-and-data-mining uses the person
    allowed; :func:`sign` declares every other one ``notAllowed`` in a
    ``cawg.training-mining`` assertion beside this one.

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
    subject_id: str | None = None
    consent_version: int | None = None
    agency: str | None = None
    licensee: str | None = None
    medium: str | None = None
    region: str | None = None
    document_sha256: str | None = None
    consent_override: str | None = None
    allowed_mining: Sequence[str] = field(default=())

    def __post_init__(self) -> None:
        for name in (*_TEXT_FIELDS, *_USE_FIELDS):
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
        mining: object = self.allowed_mining
        if isinstance(mining, str) or not isinstance(mining, Iterable):
            raise SigningError(f"likeness allowed_mining must be a list, not {mining!r}")
        object.__setattr__(self, "allowed_mining", tuple(str(use) for use in mining))
        version = self.consent_version
        if version is not None and (
            isinstance(version, bool) or not isinstance(version, int) or version < 1
        ):
            raise SigningError(f"likeness consent_version must be 1 or more, not {version!r}")
        start = parse_date(self.valid_from, "likeness valid_from", SigningError)
        end = parse_date(self.valid_until, "likeness valid_until", SigningError)
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
            **{name: getattr(self, name) for name in _USE_FIELDS},
            "consent_version": self.consent_version,
            "allowed_mining": list(self.allowed_mining) or None,
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
        known = {*_TEXT_FIELDS, *_USE_FIELDS, "scope", "valid_from", "valid_until"}
        known.update(("consent_version", "allowed_mining"))
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
            consent_version=data.get("consent_version"),
            allowed_mining=data.get("allowed_mining") or (),
            **{name: data.get(name) for name in _USE_FIELDS},
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
        return load_json(source, "likeness", cls.from_dict, SigningError)

    def training_mining(self) -> dict[str, Any]:
        """The body of the ``cawg.training-mining`` assertion this likeness implies.

        Example:
            >>> from aiwatermark.provenance import Likeness
            >>> Likeness("J", "J", "c-1", allowed_mining=["data_mining"]).training_mining()[
            ...     "entries"]["cawg.data_mining"]
            {'use': 'allowed'}
        """
        entries: dict[str, Any] = {}
        for use in MINING_USES:
            if use in self.allowed_mining:
                entries[f"cawg.{use}"] = {"use": "allowed"}
            else:
                entries[f"cawg.{use}"] = {
                    "use": "notAllowed",
                    "constraint_info": f"likeness consent {self.consent_ref} does not allow it",
                }
        return {"entries": entries}

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
