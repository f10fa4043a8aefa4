"""Reading and judging Content Credentials: the :class:`ProvenanceReport`."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .. import imageio
from ..errors import (
    CorruptImageError,
    KeyFileError,
    ProvenanceError,
    SigningError,
    UnsupportedImageError,
)
from ..keys import DEV_ORGANIZATION
from ..metadata import AI_SOURCE_TYPES, normalise_source_type
from . import _codes
from ._context import reading_context
from ._likeness import LIKENESS_LABEL, TRAINING_MINING_LABEL, Likeness
from ._sign import SIDECAR_SUFFIX, sniff_mime

TrustAnchors = Union[str, "os.PathLike[str]", bytes]
"""PEM text/bytes of trusted root certificates, or the path of a PEM file."""

_AI_ACTIONS = ("c2pa.created", "c2pa.edited", "c2pa.opened")
_TSA_TRUSTED = "timeStamp.trusted"


@dataclass(frozen=True)
class SignerInfo:
    """Who signed: the signing certificate's subject and issuer.

    Example:
        >>> from aiwatermark.provenance import SignerInfo
        >>> SignerInfo("Newsroom", "Example News", "Example CA", "es256").describe()
        'Newsroom (Example News), issued by Example CA'
    """

    common_name: str | None
    organization: str | None
    issuer: str | None
    algorithm: str | None

    def describe(self) -> str:
        """One line: ``CN (O), issued by ISSUER``.

        Example:
            >>> from aiwatermark.provenance import SignerInfo
            >>> SignerInfo("A", None, None, None).describe()
            'A'
        """
        name = self.common_name or self.organization or "unknown signer"
        if self.organization and self.organization != name:
            name += f" ({self.organization})"
        return f"{name}, issued by {self.issuer}" if self.issuer else name

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict.

        Example:
            >>> from aiwatermark.provenance import SignerInfo
            >>> SignerInfo("A", "O", "CA", "es256").to_dict()["algorithm"]
            'es256'
        """
        return {
            "common_name": self.common_name,
            "organization": self.organization,
            "issuer": self.issuer,
            "algorithm": self.algorithm,
        }


@dataclass(frozen=True)
class SoftBinding:
    """A ``c2pa.soft-binding`` value: e.g. the invisible watermark payload that points here.

    Example:
        >>> from aiwatermark.provenance import SoftBinding
        >>> SoftBinding("io.github.aiwatermark.tiled-ss.1", bytes(8)).to_dict()["value"]
        '0000000000000000'
    """

    alg: str
    value: bytes

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, ``value`` as hex.

        Example:
            >>> from aiwatermark.provenance import SoftBinding
            >>> SoftBinding("x", b"\\x01").to_dict()
            {'alg': 'x', 'value': '01'}
        """
        return {"alg": self.alg, "value": self.value.hex()}


@dataclass(frozen=True)
class Ingredient:
    """An ingredient of the active manifest, e.g. the photo an AI edit started from.

    Example:
        >>> from aiwatermark.provenance import Ingredient
        >>> Ingredient("original.jpeg", "parentOf", "image/jpeg", False).relationship
        'parentOf'
    """

    title: str | None
    relationship: str | None
    format: str | None
    has_manifest: bool
    """True when the ingredient carried Content Credentials of its own."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict.

        Example:
            >>> from aiwatermark.provenance import Ingredient
            >>> Ingredient("a.jpg", "parentOf", "image/jpeg", False).to_dict()["title"]
            'a.jpg'
        """
        return {
            "title": self.title,
            "relationship": self.relationship,
            "format": self.format,
            "has_manifest": self.has_manifest,
        }


@dataclass(frozen=True)
class ProvenanceReport:
    """What the Content Credentials of an image say, and whether they hold up.

    ``state`` is ``"Trusted"`` (intact, signer chains to a trust anchor you gave),
    ``"Valid"`` (intact, signer not trusted) or ``"Invalid"`` (altered or damaged), ``None``
    when there is no manifest. ``failures`` pairs each C2PA status code with a plain-language
    explanation; ``signingCredential.untrusted`` there is not a sign of tampering.

    Example:
        >>> from aiwatermark import provenance
        >>> report = provenance.read_provenance("fixtures/astronaut.jpg")
        >>> report.present, report.state
        (False, None)
    """

    present: bool
    state: str | None = None
    failures: tuple[tuple[str, str], ...] = ()
    signer: SignerInfo | None = None
    signing_time: dt.datetime | None = None
    timestamped: bool = False
    """True when ``signing_time`` comes from an RFC 3161 timestamp that matches the
    signature, False when the signer only claims it (the time written into the actions)."""
    timestamp_trusted: bool = False
    """True when that timestamp's authority chains to the trust anchors given: only then does
    c2pa check the signing certificate's validity at the timestamp's time instead of now."""
    timestamp_authority: str | None = None
    """The timestamp authority's certificate, ``CN (O), issued by ISSUER``."""
    title: str | None = None
    claim_generator: str | None = None
    generator: str | None = None
    generator_version: str | None = None
    actions: tuple[str, ...] = ()
    digital_source_type: str | None = None
    ai_generated: bool = False
    soft_bindings: tuple[SoftBinding, ...] = ()
    likeness: Likeness | None = None
    training_mining: Mapping[str, str] = field(default_factory=dict)
    """The CAWG training-and-data-mining entries (``cawg.ai_training`` → ``notAllowed``…)."""
    consent_expired: bool = False
    """True when the likeness consent ended before today or before the signing time."""
    ingredients: tuple[Ingredient, ...] = ()
    is_dev_identity: bool = False
    manifest_label: str | None = None
    source: str | None = None
    """``"embedded"`` (in the image) or ``"detached"`` (a sidecar or given manifest bytes)."""

    @property
    def trusted(self) -> bool:
        """True for an intact manifest from a trusted (never a development) signer.

        Example:
            >>> from aiwatermark.provenance import ProvenanceReport
            >>> ProvenanceReport(present=True, state="Valid").trusted
            False
        """
        return self.state == "Trusted"

    @property
    def intact(self) -> bool:
        """True when a manifest is present and neither it nor the image was altered.

        Example:
            >>> from aiwatermark.provenance import ProvenanceReport
            >>> ProvenanceReport(present=True, state="Invalid").intact
            False
        """
        return self.present and self.state in ("Trusted", "Valid")

    @property
    def claim_intact(self) -> bool:
        """True when the signature and claim hold, whatever became of the image bytes.

        For a manifest kept apart from its image (a manifest store, a repository) the content
        hash of the original bytes cannot match the copy at hand, so only hash mismatches and
        trust complaints are allowed; for an embedded one this is the same as :attr:`intact`.

        Example:
            >>> from aiwatermark.provenance import ProvenanceReport
            >>> ProvenanceReport(present=True, state="Invalid",
            ...                  failures=(("assertion.dataHash.mismatch", "…"),)).claim_intact
            True
        """
        if self.intact:
            return True
        if not self.present or not self.failures:
            return False
        allowed = _codes.CONTENT_HASH_MISMATCH | _codes.NOT_TAMPER
        return all(code in allowed for code, _ in self.failures)

    @property
    def signer_trusted(self) -> bool:
        """True when the claim holds and its signer chains to the given trust anchors.

        Unlike :attr:`trusted` this also holds for a detached manifest read against another
        copy of its image; a development identity never counts.

        Example:
            >>> from aiwatermark.provenance import ProvenanceReport
            >>> ProvenanceReport(present=True, state="Valid").signer_trusted
            False
        """
        codes = {code for code, _ in self.failures}
        if not self.claim_intact or self.is_dev_identity or self.state == "Valid":
            return False  # "Valid" is c2pa's word for intact but not trusted
        return not codes & _codes.NOT_TAMPER

    @property
    def time_source(self) -> str:
        """Where ``signing_time`` comes from, in words.

        Example:
            >>> from aiwatermark.provenance import ProvenanceReport
            >>> ProvenanceReport(present=True, timestamped=True, timestamp_trusted=True,
            ...                  timestamp_authority="Example TSA").time_source
            'RFC 3161 timestamp by Example TSA, a trusted timestamp authority'
        """
        if not self.timestamped:
            return "claimed by the signer, no timestamp"
        tsa = self.timestamp_authority or "an unnamed timestamp authority"
        if self.timestamp_trusted:
            return f"RFC 3161 timestamp by {tsa}, a trusted timestamp authority"
        return f"RFC 3161 timestamp by {tsa}, a timestamp authority that is NOT trusted"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (bytes as hex, dates as ISO 8601).

        Example:
            >>> from aiwatermark.provenance import ProvenanceReport
            >>> ProvenanceReport(present=False).to_dict()["present"]
            False
        """
        return {
            "present": self.present,
            "state": self.state,
            "trusted": self.trusted,
            "intact": self.intact,
            "claim_intact": self.claim_intact,
            "signer_trusted": self.signer_trusted,
            "failures": [{"code": code, "explanation": text} for code, text in self.failures],
            "signer": self.signer.to_dict() if self.signer else None,
            "signing_time": self.signing_time.isoformat() if self.signing_time else None,
            "timestamped": self.timestamped,
            "timestamp_trusted": self.timestamp_trusted,
            "timestamp_authority": self.timestamp_authority,
            "title": self.title,
            "claim_generator": self.claim_generator,
            "generator": self.generator,
            "generator_version": self.generator_version,
            "actions": list(self.actions),
            "digital_source_type": self.digital_source_type,
            "ai_generated": self.ai_generated,
            "soft_bindings": [binding.to_dict() for binding in self.soft_bindings],
            "likeness": self.likeness.to_dict() if self.likeness else None,
            "training_mining": dict(self.training_mining),
            "consent_expired": self.consent_expired,
            "ingredients": [ingredient.to_dict() for ingredient in self.ingredients],
            "is_dev_identity": self.is_dev_identity,
            "manifest_label": self.manifest_label,
            "source": self.source,
        }

    def summary(self) -> str:
        """A few readable lines for people (``str(report)`` gives the same).

        Example:
            >>> from aiwatermark.provenance import ProvenanceReport
            >>> print(ProvenanceReport(present=False).summary())
            No Content Credentials (C2PA manifest) found.
        """
        if not self.present:
            return "No Content Credentials (C2PA manifest) found."
        tamper = [text for code, text in self.failures if code not in _codes.NOT_TAMPER]
        if self.state == "Trusted":
            verdict = "Trusted — intact, signed by a trusted signer"
        elif self.state == "Valid":
            verdict = "Valid — intact, signer not trusted"
        else:
            verdict = "Invalid — " + (tamper[0] if tamper else "the manifest does not verify")
        lines = [f"Content Credentials ({self.source}): {verdict}"]
        if self.signer:
            who = self.signer.describe()
            if self.is_dev_identity:
                who += " [development certificate — not trusted]"
            lines.append(f"  signer: {who}")
        if self.signing_time:
            lines.append(f"  signed: {self.signing_time.isoformat()} ({self.time_source})")
        source_type = (self.digital_source_type or "").rsplit("/", 1)[-1] or "not stated"
        made_by = f" by {self.generator}" if self.generator else ""
        if self.generator and self.generator_version:
            made_by += f" {self.generator_version}"
        ai = "yes" if self.ai_generated else "not declared"
        lines.append(f"  AI-generated: {ai} ({source_type}){made_by}")
        if self.actions:
            lines.append(f"  actions: {', '.join(self.actions)}")
        for ingredient in self.ingredients:
            lines.append(f"  ingredient: {ingredient.title} ({ingredient.relationship})")
        for binding in self.soft_bindings:
            lines.append(f"  watermark binding: {binding.alg} = {binding.value.hex()}")
        if self.likeness:
            until = self.likeness.valid_until
            text = f"  likeness: {self.likeness.subject}, consent {self.likeness.consent_ref}"
            text += f", valid until {until}" if until else ""
            text += " [CONSENT EXPIRED]" if self.consent_expired else ""
            lines.append(text)
        if self.training_mining:
            uses = ", ".join(
                f"{k.removeprefix('cawg.')} {v}" for k, v in self.training_mining.items()
            )
            lines.append(f"  training and data mining: {uses}")
        for code, text in self.failures:
            lines.append(f"  ! {code}: {text}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def load_trust_anchors(trust_anchors: TrustAnchors | None) -> str | None:
    """The trust anchors as PEM text, read and checked (None stays None).

    Raises:
        aiwatermark.KeyFileError: the file cannot be read or holds no PEM certificates.

    Example:
        >>> from aiwatermark import provenance
        >>> provenance.load_trust_anchors(None) is None
        True
    """
    if trust_anchors is None:
        return None
    if isinstance(trust_anchors, (bytes, bytearray)):
        data, name = bytes(trust_anchors), "trust anchors"
    elif isinstance(trust_anchors, str) and "-----BEGIN" in trust_anchors:
        data, name = trust_anchors.encode(), "trust anchors"
    else:
        name = repr(os.fspath(trust_anchors))
        try:
            data = Path(os.fspath(trust_anchors)).read_bytes()
        except OSError as exc:
            raise KeyFileError(f"trust anchors {name}: cannot read it ({exc.strerror})") from None
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise KeyFileError(f"trust anchors {name}: not PEM certificates") from None
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates)


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _crjson_signature(manifest: Mapping[str, Any], crjson: Mapping[str, Any]) -> Mapping[str, Any]:
    for entry in crjson.get("manifests") or ():
        if isinstance(entry, Mapping) and entry.get("label") == manifest.get("label"):
            signature = entry.get("signature")
            return signature if isinstance(signature, Mapping) else {}
    return {}


def _name_text(name: Mapping[str, Any], fallback: str | None = None) -> str | None:
    common, organization = name.get("CN"), name.get("O") or fallback
    if common and organization and organization != common:
        return f"{common} ({organization})"
    return common or organization


def _signer_info(manifest: Mapping[str, Any], crjson: Mapping[str, Any]) -> SignerInfo | None:
    info = manifest.get("signature_info") or {}
    certificate = _crjson_signature(manifest, crjson).get("certificateInfo") or {}
    subject: Mapping[str, Any] = certificate.get("subject") or {}
    issuer: Mapping[str, Any] = certificate.get("issuer") or {}
    if not info and not subject:
        return None
    issuer_text = _name_text(issuer, info.get("issuer"))
    alg = info.get("alg")
    return SignerInfo(
        common_name=subject.get("CN") or info.get("common_name"),
        organization=subject.get("O"),
        issuer=issuer_text,
        algorithm=str(alg).lower() if alg else None,
    )


_MINING_DECISIONS = ("allowed", "notAllowed", "constrained")


def _timestamp_authority(manifest: Mapping[str, Any], crjson: Mapping[str, Any]) -> str | None:
    stamp = _crjson_signature(manifest, crjson).get("timeStampInfo") or {}
    certificate = stamp.get("certificateInfo") if isinstance(stamp, Mapping) else None
    if not isinstance(certificate, Mapping):
        return None
    name = _name_text(certificate.get("subject") or {})
    issuer = _name_text(certificate.get("issuer") or {})
    return f"{name}, issued by {issuer}" if name and issuer else name


def _status_codes(results: Mapping[str, Any], kind: str) -> set[str]:
    return {str(s.get("code")) for s in results.get(kind) or () if isinstance(s, Mapping)}


def _assertions(manifest: Mapping[str, Any], label: str) -> list[Any]:
    return [
        a.get("data")
        for a in manifest.get("assertions") or ()
        if isinstance(a, Mapping) and str(a.get("label", "")).split(".v")[0] == label
    ]


def _soft_bindings(manifest: Mapping[str, Any]) -> tuple[SoftBinding, ...]:
    found = []
    for data in _assertions(manifest, "c2pa.soft-binding"):
        if not isinstance(data, Mapping):
            continue
        for block in data.get("blocks") or ():
            value = block.get("value") if isinstance(block, Mapping) else None
            if isinstance(value, str):
                try:
                    found.append(SoftBinding(str(data.get("alg")), base64.b64decode(value)))
                except (binascii.Error, ValueError):
                    continue
    return tuple(found)


def _from_json(
    store: Mapping[str, Any], crjson: Mapping[str, Any], source: str, state: str | None
) -> ProvenanceReport:
    label = store.get("active_manifest")
    manifest = (store.get("manifests") or {}).get(label) if label else None
    if not isinstance(manifest, Mapping):
        return _unreadable(source, "no active manifest in the manifest store")
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    raw_failures = results.get("failure")
    if raw_failures is None:  # older c2pa: a flat validation_status list
        raw_failures = store.get("validation_status") or []
    failures = [
        (str(f.get("code")), _codes.explain(str(f.get("code")), f.get("explanation")))
        for f in raw_failures
        if isinstance(f, Mapping)
    ]
    actions: list[Mapping[str, Any]] = []
    for data in _assertions(manifest, "c2pa.actions"):
        if isinstance(data, Mapping):
            actions.extend(a for a in data.get("actions") or () if isinstance(a, Mapping))
    ai_action = next(
        (a for a in actions if _source_type(a) in AI_SOURCE_TYPES),
        None,
    )
    main = ai_action or next(
        (a for a in actions if a.get("action") in _AI_ACTIONS and a.get("digitalSourceType")),
        None,
    )
    agent = (main or {}).get("softwareAgent")
    if isinstance(agent, str):
        agent = {"name": agent}
    agent = agent if isinstance(agent, Mapping) else {}

    # c2pa-rs fills signature_info.time only from an RFC 3161 token. It checks the signing
    # certificate's validity at that time only when the TSA is trusted (timeStamp.trusted);
    # an untrusted TSA's time is reported but proves nothing.
    signature = manifest.get("signature_info") or {}
    signing_time = _parse_time(signature.get("time"))
    codes = {code for code, _ in failures}
    timestamped = signing_time is not None and not any(c.startswith("timeStamp.") for c in codes)
    timestamp_trusted = timestamped and _TSA_TRUSTED in _status_codes(results, "success")
    if signing_time is None:
        signing_time = _parse_time((main or {}).get("when"))
    if _codes.EXPIRED in codes and timestamp_trusted:
        failures = [
            (code, _codes.EXPIRED_AT_TIMESTAMP if code == _codes.EXPIRED else text)
            for code, text in failures
        ]

    signer = _signer_info(manifest, crjson)
    is_dev = signer is not None and any(
        DEV_ORGANIZATION in (value or "") for value in (signer.organization, signer.issuer)
    )
    if is_dev:
        failures.append((_codes.DEV_IDENTITY, _codes.explain(_codes.DEV_IDENTITY)))
        if state == "Trusted":
            state = "Valid"

    likeness = None
    consent_expired = False
    for data in _assertions(manifest, LIKENESS_LABEL):
        try:
            likeness = Likeness.from_dict(data)
        except SigningError:  # a malformed body is reported, never raised
            failures.append((_codes.LIKENESS_MALFORMED, _codes.explain(_codes.LIKENESS_MALFORMED)))
            continue
        today = dt.datetime.now(dt.timezone.utc).date()
        consent_expired = likeness.expired_on(today) or (
            signing_time is not None and likeness.expired_on(signing_time.date())
        )

    training_mining = {
        str(name): str(entry.get("use"))
        for data in _assertions(manifest, TRAINING_MINING_LABEL)
        if isinstance(data, Mapping) and isinstance(data.get("entries"), Mapping)
        for name, entry in data["entries"].items()
        if isinstance(entry, Mapping)
        and entry.get("use") in ("allowed", "notAllowed", "constrained")
    }

    generators = manifest.get("claim_generator_info") or []
    claim_generator = None
    if generators and isinstance(generators[0], Mapping):
        first = generators[0]
        claim_generator = " ".join(str(first[k]) for k in ("name", "version") if first.get(k))
    ingredients = tuple(
        Ingredient(
            title=i.get("title"),
            relationship=i.get("relationship"),
            format=i.get("format"),
            has_manifest=bool(i.get("active_manifest")),
        )
        for i in manifest.get("ingredients") or ()
        if isinstance(i, Mapping)
    )
    if any(code not in _codes.NOT_TAMPER for code, _ in failures):
        state = "Invalid"
    source_type = _source_type(main or {})
    return ProvenanceReport(
        present=True,
        state=state,
        failures=tuple(dict.fromkeys(failures)),
        signer=signer,
        signing_time=signing_time,
        timestamped=timestamped,
        timestamp_trusted=timestamp_trusted,
        timestamp_authority=_timestamp_authority(manifest, crjson) if timestamped else None,
        title=manifest.get("title"),
        claim_generator=claim_generator,
        generator=agent.get("name"),
        generator_version=agent.get("version"),
        actions=tuple(str(a.get("action")) for a in actions),
        digital_source_type=source_type,
        ai_generated=source_type in AI_SOURCE_TYPES,
        soft_bindings=_soft_bindings(manifest),
        likeness=likeness,
        training_mining=training_mining,
        consent_expired=consent_expired,
        ingredients=ingredients,
        is_dev_identity=is_dev,
        manifest_label=str(label),
        source=source,
    )


def _unreadable(source: str, detail: str) -> ProvenanceReport:
    explanation = f"{_codes.explain(_codes.UNREADABLE)} ({detail})"
    return ProvenanceReport(
        present=True, state="Invalid", failures=((_codes.UNREADABLE, explanation),), source=source
    )


def _read(
    data: bytes, mime: str | None, manifest: bytes | None, context: Any, source: str, name: str
) -> ProvenanceReport | None:
    try:
        reader = c2pa.Reader.try_create(mime, io.BytesIO(data), manifest, context)
        if reader is None:
            return None
        with reader:
            store = json.loads(reader.json())
            try:
                crjson = json.loads(reader.crjson())
            except (c2pa.C2paError, ValueError):
                crjson = {}
            state = reader.get_validation_state()
    except c2pa.C2paError as exc:
        if mime is None and manifest is None:
            raise UnsupportedImageError(
                f"{name}: not an image format C2PA can read (JPEG, PNG, WebP, TIFF, GIF, "
                "AVIF, HEIF, ...)"
            ) from None
        if manifest is None and b"c2pa" not in data:
            raise CorruptImageError(
                f"{name}: the file cannot be parsed to look for Content Credentials ({exc})"
            ) from None
        return _unreadable(source, str(exc).strip() or type(exc).__name__)
    except ValueError as exc:
        raise ProvenanceError(f"{name}: c2pa returned unreadable JSON ({exc})") from None
    if not isinstance(store, Mapping):
        return _unreadable(source, "the manifest store is not a JSON object")
    return _from_json(store, crjson if isinstance(crjson, Mapping) else {}, source, state)


def read_provenance(
    src: imageio.ImageSource,
    *,
    trust_anchors: TrustAnchors | None = None,
    manifest: bytes | None = None,
) -> ProvenanceReport:
    """Read and verify the Content Credentials of an image (no network access).

    ``src`` is a path, bytes or binary file. ``manifest`` is a detached manifest store (a
    ``.c2pa`` sidecar, or bytes from a manifest store) checked against ``src``; without it
    the embedded manifest is read, and for a path with none embedded, a sidecar with the
    same name and suffix ``.c2pa`` is used when present. ``trust_anchors`` (PEM text or a PEM
    file path) lists the root certificates whose signers count as trusted. An image without
    a manifest (never signed, stripped, re-encoded) gives ``present=False``; a damaged one an
    ``"Invalid"`` report.

    Example:
        >>> from aiwatermark import provenance
        >>> anchors = "ca.pem"
        >>> report = provenance.read_provenance("out.jpg", trust_anchors=anchors)  # doctest: +SKIP
        >>> report.state, report.ai_generated  # doctest: +SKIP
        ('Trusted', True)
    """
    name = imageio.describe(src)
    data = imageio.read_bytes(src)
    if manifest is not None and (not isinstance(manifest, (bytes, bytearray)) or not manifest):
        raise ProvenanceError("manifest must be the detached manifest store as non-empty bytes")
    context = reading_context(load_trust_anchors(trust_anchors))
    mime = sniff_mime(data[:16])
    source = "detached" if manifest is not None else "embedded"
    report = _read(data, mime, bytes(manifest) if manifest else None, context, source, name)
    if report is None and manifest is None and isinstance(src, (str, os.PathLike)):
        sidecar = Path(os.fspath(src)).with_suffix(SIDECAR_SUFFIX)
        if sidecar.is_file() and sidecar != Path(os.fspath(src)):
            report = _read(data, mime, imageio.read_bytes(sidecar), context, "detached", name)
    return report if report is not None else ProvenanceReport(present=False)


def _source_type(action: Mapping[str, Any]) -> str | None:
    """An action's digital source type as the canonical IPTC URI (https, bare tokens too)."""
    value = action.get("digitalSourceType")
    return normalise_source_type(value) if isinstance(value, str) else None
