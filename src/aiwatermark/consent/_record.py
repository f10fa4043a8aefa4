"""A person's consent to an AI digital twin of their likeness, and one use of it."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .._records import load_json, parse_date
from ..errors import InvalidArgumentError
from ..provenance import MINING_USES

ANY = "*"
"""In a scope list: every brand, purpose, medium or region."""

_HASH = re.compile(r"[0-9a-f]{64}")
_SCOPES = ("licensees", "purposes", "media", "regions")
_REQUIRED = ("consent_ref", "subject_id", "rights_holder", "document_sha256", *_SCOPES)
_OPTIONAL_TEXT = ("subject_name", "agency", "compensation_ref")


class ConsentRecordError(InvalidArgumentError):
    """A consent record (a JSON file, a dict) is malformed: the message names the field."""


def _text(value: object, name: str, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConsentRecordError(f"consent {name} must be a non-empty string, not {value!r}")
    return value.strip()


def _scope(value: object, name: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ConsentRecordError(f'consent {name} must be a list (["*"] for any), not {value!r}')
    items = tuple(value)
    if not items:
        # An empty list would read as "nothing allowed" to one reader and "no limit" to
        # another: the record must say which.
        raise ConsentRecordError(
            f'consent {name} is empty: list what is allowed, or ["*"] for anything'
        )
    if not all(isinstance(item, str) and item.strip() for item in items):
        raise ConsentRecordError(f"consent {name} must hold non-empty strings, not {items!r}")
    return tuple(item.strip() for item in items)


def _time(value: object, name: str) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ConsentRecordError(f"{name} must be an ISO 8601 time, not {value!r}") from None
    if not isinstance(value, dt.datetime):
        raise ConsentRecordError(f"{name} must be a datetime, not {value!r}")
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _allows(allowed: tuple[str, ...], wanted: str) -> bool:
    folded = wanted.strip().casefold()
    return any(item == ANY or item.casefold() == folded for item in allowed)


@dataclass(frozen=True)
class Consent:
    """One version of a person's consent to the use of their likeness (their digital twin).

    ``subject_id`` is a pseudonymous ID (what manifests and public answers carry);
    ``subject_name`` the display name, shown publicly only when ``name_public`` is True.
    ``rights_holder`` granted the rights (the person, or whom they assigned them to),
    ``agency`` represents them. ``licensees`` (brands), ``purposes``, ``media`` and
    ``regions`` are what the consent allows; ``["*"]`` allows any. It is valid from
    ``valid_from`` to ``valid_until`` (inclusive, UTC dates; None is open),
    ``compensation_ref`` names the pay terms and ``document_sha256`` is the SHA-256 of the
    signed consent document. ``allowed_mining`` lists what the person allows of the images
    beyond being shown (:data:`MINING_USES`; by default none: AI training, generative training
    and data mining are declared not allowed in every image). ``version`` and ``registered``
    are set by the registry.

    Example:
        >>> from aiwatermark.consent import Consent
        >>> consent = Consent.from_dict({
        ...     "consent_ref": "ava-2026-001", "subject_id": "subj-7f3a",
        ...     "rights_holder": "Ava Example", "licensees": ["Maison Example"],
        ...     "purposes": ["advertising"], "media": ["*"], "regions": ["EU"],
        ...     "valid_until": "2027-04-30", "document_sha256": "ab" * 32})
        >>> consent.valid_until, consent.public_dict().get("subject_name")
        (datetime.date(2027, 4, 30), None)
    """

    consent_ref: str
    subject_id: str
    rights_holder: str
    licensees: tuple[str, ...]
    purposes: tuple[str, ...]
    media: tuple[str, ...]
    regions: tuple[str, ...]
    document_sha256: str
    subject_name: str | None = None
    name_public: bool = False
    agency: str | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    compensation_ref: str | None = None
    allowed_mining: tuple[str, ...] = ()
    version: int = field(default=0, compare=False)
    registered: dt.datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name in ("consent_ref", "subject_id", "rights_holder"):
            object.__setattr__(self, name, _text(getattr(self, name), name, required=True))
        for name in _OPTIONAL_TEXT:
            object.__setattr__(self, name, _text(getattr(self, name), name, required=False))
        for name in _SCOPES:
            object.__setattr__(self, name, _scope(getattr(self, name), name))
        mining: object = self.allowed_mining
        if isinstance(mining, str) or not isinstance(mining, Iterable):
            raise ConsentRecordError(f"consent allowed_mining must be a list, not {mining!r}")
        unknown = [use for use in mining if use not in MINING_USES]
        if unknown:
            raise ConsentRecordError(
                f"consent allowed_mining has {unknown!r}; allowed: {', '.join(MINING_USES)}"
            )
        object.__setattr__(self, "allowed_mining", tuple(mining))
        digest = self.document_sha256
        if not isinstance(digest, str) or not _HASH.fullmatch(digest.lower()):
            raise ConsentRecordError(
                "consent document_sha256 must be the SHA-256 of the signed consent document "
                f"(64 hex digits; sha256sum prints it), not {digest!r}"
            )
        object.__setattr__(self, "document_sha256", digest.lower())
        if not isinstance(self.name_public, bool):
            raise ConsentRecordError(
                f"consent name_public must be true or false, not {self.name_public!r}"
            )
        if self.name_public and self.subject_name is None:
            raise ConsentRecordError("consent name_public is true but there is no subject_name")
        start = parse_date(self.valid_from, "consent valid_from", ConsentRecordError)
        end = parse_date(self.valid_until, "consent valid_until", ConsentRecordError)
        if start and end and end < start:
            raise ConsentRecordError(f"consent valid_until {end} is before valid_from {start}")
        object.__setattr__(self, "valid_from", start)
        object.__setattr__(self, "valid_until", end)
        object.__setattr__(self, "registered", _time(self.registered, "registered"))

    @property
    def public_subject(self) -> str:
        """What may be shown of the person: the name if the record allows it, else the ID."""
        return self.subject_name if self.name_public and self.subject_name else self.subject_id

    def allows(self, use: Use) -> str | None:
        """None when ``use`` is within this consent's scope, else the reason it is not.

        Dates and revocation are not looked at here: :func:`check` does that.

        Example:
            >>> from aiwatermark.consent import Consent, Use
            >>> consent = Consent("c-1", "s-1", "Ava", ["*"], ["advertising"], ["web"],
            ...                   ["EU"], "00" * 32)
            >>> consent.allows(Use("c-1", "Brand", "advertising", "print", "EU"))
            "medium 'print' is not allowed (allowed: web)"
        """
        for what, allowed, wanted in (
            ("licensee", self.licensees, use.licensee),
            ("purpose", self.purposes, use.purpose),
            ("medium", self.media, use.medium),
            ("region", self.regions, use.region),
        ):
            if not _allows(allowed, wanted):
                return f"{what} {wanted!r} is not allowed (allowed: {', '.join(allowed)})"
        return None

    def to_dict(self) -> dict[str, Any]:
        """The whole record as JSON-ready data (what ``from_dict`` reads back).

        Example:
            >>> from aiwatermark.consent import Consent
            >>> Consent("c-1", "s-1", "Ava", ["*"], ["*"], ["*"], ["*"], "00" * 32).to_dict()[
            ...     "licensees"]
            ['*']
        """
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, (dt.date, dt.datetime)):
                value = value.isoformat()
            out[item.name] = value
        return out

    def public_dict(self) -> dict[str, Any]:
        """What anyone may see: no real name unless ``name_public``, no pay terms.

        Example:
            >>> from aiwatermark.consent import Consent
            >>> c = Consent("c-1", "s-1", "Ava", ["*"], ["*"], ["*"], ["*"], "00" * 32,
            ...             subject_name="Ava Example")
            >>> "subject_name" in c.public_dict(), c.public_dict()["subject_id"]
            (False, 's-1')
        """
        out = self.to_dict()
        del out["compensation_ref"]
        if not self.name_public:
            del out["subject_name"]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Consent:
        """Build from a dict such as :meth:`to_dict` returns (unknown keys are an error).

        Example:
            >>> from aiwatermark.consent import Consent
            >>> from aiwatermark.consent import ConsentRecordError
            >>> try:
            ...     Consent.from_dict({"consent_ref": "c-1", "subject_id": "s-1"})
            ... except ConsentRecordError as exc:
            ...     print(str(exc)[:50])
            consent record is missing rights_holder, document_
        """
        if not isinstance(data, Mapping):
            raise ConsentRecordError(
                f"a consent record must be a JSON object, not {type(data).__name__}"
            )
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConsentRecordError(
                f"consent record has unknown field(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(known))}"
            )
        missing = [name for name in _REQUIRED if name not in data]
        if missing:
            raise ConsentRecordError(f"consent record is missing {', '.join(missing)}")
        version = data.get("version", 0)
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise ConsentRecordError(f"consent version must be a whole number, not {version!r}")
        return cls(**{name: value for name, value in data.items()})

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> Consent:
        """Read a consent record from a JSON file (or JSON text).

        Example:
            >>> from aiwatermark.consent import Consent
            >>> from aiwatermark.consent import ConsentRecordError
            >>> try:
            ...     Consent.from_json("missing-consent.json")
            ... except ConsentRecordError as exc:
            ...     print(exc)
            consent file 'missing-consent.json': cannot read it (No such file or directory)
        """
        return load_json(source, "consent", cls.from_dict, ConsentRecordError)

    def registered_as(self, version: int, when: dt.datetime) -> Consent:
        """This record as the registry stored it (for registry implementations)."""
        return replace(self, version=version, registered=when)


@dataclass(frozen=True)
class Use:
    """One intended use of a digital twin: which consent, for which brand, purpose, medium and
    region. :func:`aiwatermark.mark` checks it against the registered consent.

    Example:
        >>> from aiwatermark.consent import Use
        >>> Use("ava-2026-001", licensee="Maison Example", purpose="advertising",
        ...     medium="web", region="EU").licensee
        'Maison Example'
    """

    consent_ref: str
    licensee: str
    purpose: str
    medium: str
    region: str

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, str) or not value.strip():
                raise InvalidArgumentError(
                    f"the use's {item.name} must be a non-empty string, not {value!r}"
                )
            object.__setattr__(self, item.name, value.strip())

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready dict."""
        return {item.name: getattr(self, item.name) for item in fields(self)}


@dataclass(frozen=True)
class Revocation:
    """A consent withdrawn: when, why, and by whom (a registry never forgets one).

    Example:
        >>> import datetime
        >>> from aiwatermark.consent import Revocation
        >>> Revocation("c-1", "model withdrew consent",
        ...            datetime.datetime(2026, 11, 30, tzinfo=datetime.timezone.utc)).day
        datetime.date(2026, 11, 30)
    """

    consent_ref: str
    reason: str
    revoked: dt.datetime
    by: str | None = None

    @property
    def day(self) -> dt.date:
        """The (UTC) day the consent was withdrawn."""
        return self.revoked.astimezone(dt.timezone.utc).date()

    def to_dict(self, *, public: bool = False) -> dict[str, Any]:
        """A JSON-ready dict; ``public=True`` leaves out the reason and who revoked."""
        out: dict[str, Any] = {"consent_ref": self.consent_ref, "revoked": self.revoked.isoformat()}
        if not public:
            out.update(reason=self.reason, by=self.by)
        return out


__all__ = ["ANY", "MINING_USES", "Consent", "ConsentRecordError", "Revocation", "Use"]
