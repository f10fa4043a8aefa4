"""What :func:`aiwatermark.verify` found: one verdict built from every layer's own result.

Example:
    >>> import aiwatermark
    >>> report = aiwatermark.verify("fixtures/coffee.png", store=False)
    >>> report.ai_generated is None, report.evidence
    (True, ())
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ._recovery import RecoveredVia, Recovery
from .consent import ConsentStatus
from .fingerprint import MATCH_THRESHOLD, Fingerprint
from .invisible import Detection
from .metadata import Disclosure
from .provenance import NOT_TAMPER, SOFT_BINDING_ALG, Likeness, ProvenanceReport
from .schemas import SCHEMA_VERSION
from .verdict import Claim, decide
from .visible import LabelDetection

ManifestOrigin = Literal["embedded", "recovered"]

RECOVERED_NOTE = "recovered from the manifest store via the {via}"


@dataclass(frozen=True)
class VerificationReport:
    """Every layer's result and the verdict they add up to (policy: :mod:`aiwatermark.verdict`).

    ``ai_generated`` is True when any layer discloses AI generation, False only when a
    trusted, intact manifest bound to these pixels states a non-AI source and nothing says
    AI, and None otherwise (nothing found, which is not proof of authenticity, or only
    untrusted claims of another origin — named in ``conflicts``). ``evidence`` says in words
    which layer said what, and for every manifest whether its signer is trusted.

    ``manifest_origin`` is ``"embedded"`` for a manifest in the file (bound to its bytes) and
    ``"recovered"`` for one found in the manifest store (``recovered_via`` the watermark's
    content ID or the image's fingerprint) whose signed fingerprint matches these pixels.
    ``content_bound`` is False when the store's manifest for this watermark belongs to a
    different picture (a copied watermark): its credentials are then not applied, and
    ``fingerprint_distance`` says how far the pixels are from the registered ones.
    ``consistent`` compares the watermark payload with the applied manifest's soft binding
    (False for a copied watermark, None unless both exist); ``trusted`` is True only for an
    applied, consistent manifest from a trusted signer; ``tampered`` means an embedded
    manifest is present but invalid. ``consent`` is the likeness consent checked against the
    store's consent registry, at signing time and today (None without a likeness or a
    registry).

    Example:
        >>> import aiwatermark, tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "m.jpg"
        >>> _ = aiwatermark.mark("fixtures/astronaut.jpg", out, store=False)
        >>> report = aiwatermark.verify(out, store=False)
        >>> report.ai_generated, report.consistent, report.tampered
        (True, True, False)
    """

    source: str
    ai_generated: bool | None
    evidence: tuple[str, ...]
    consistent: bool | None
    tampered: bool
    trusted: bool
    manifest_origin: ManifestOrigin | None
    content_id: str | None
    likeness: Likeness | None
    likeness_expired: bool | None
    provenance: ProvenanceReport | None
    watermark: Detection | None
    label: LabelDetection | None
    disclosure: Disclosure | None
    notes: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    fingerprint: Fingerprint | None = None
    content_bound: bool | None = None
    fingerprint_distance: int | None = None
    recovered_via: RecoveredVia | None = None
    other_registrations: tuple[str, ...] = ()
    headline: str = "no AI disclosure found (absence of marks does not prove authenticity)"
    consent: ConsentStatus | None = None

    @property
    def likeness_consent(self) -> bool:
        """True when the manifest records a person's consent to their likeness being shown."""
        return self.likeness is not None

    @property
    def likeness_subject(self) -> str | None:
        """Who the image depicts, as the manifest may show it (a pseudonymous ID unless the
        consent record allows the name)."""
        return None if self.likeness is None else self.likeness.subject

    @property
    def recovered(self) -> bool:
        """True when the applied manifest came from the store, not from the file."""
        return self.manifest_origin == "recovered"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: the verdict, then each layer's own ``to_dict()``.

        Example:
            >>> import aiwatermark, json
            >>> report = aiwatermark.verify("fixtures/coffee.png", store=False)
            >>> json.loads(json.dumps(report.to_dict()))["ai_generated"] is None
            True
        """
        return {
            "schema_version": SCHEMA_VERSION,
            "source": self.source,
            "ai_generated": self.ai_generated,
            "headline": self.headline,
            "evidence": list(self.evidence),
            "conflicts": list(self.conflicts),
            "consistent": self.consistent,
            "tampered": self.tampered,
            "trusted": self.trusted,
            "manifest_origin": self.manifest_origin,
            "recovered_via": self.recovered_via,
            "content_bound": self.content_bound,
            "fingerprint_distance": self.fingerprint_distance,
            "content_id": self.content_id,
            "likeness_consent": self.likeness_consent,
            "likeness": None if self.likeness is None else self.likeness.to_dict(),
            "likeness_expired": self.likeness_expired,
            "consent": None if self.consent is None else self.consent.to_dict(),
            "other_registrations": list(self.other_registrations),
            "layers": {
                "provenance": None if self.provenance is None else self.provenance.to_dict(),
                "watermark": None if self.watermark is None else self.watermark.to_dict(),
                "fingerprint": None if self.fingerprint is None else self.fingerprint.to_dict(),
                "label": None if self.label is None else self.label.to_dict(),
                "disclosure": None if self.disclosure is None else self.disclosure.to_dict(),
            },
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        """A few readable lines: the verdict, the evidence, and anything worth a warning.

        Example:
            >>> import aiwatermark
            >>> print(aiwatermark.verify("fixtures/coffee.png", store=False).summary())
            verdict: no AI disclosure found (absence of marks does not prove authenticity)
        """
        verdict = self.headline
        if self.provenance is not None:
            who = "a trusted signer" if self.trusted else "a signer that is NOT trusted"
            verdict += f" — Content Credentials ({self.manifest_origin}) from {who}"
        lines = [f"verdict: {verdict}"]
        lines.extend(f"  - {item}" for item in self.evidence)
        lines.extend(f"CONFLICT: {item}" for item in self.conflicts)
        if self.tampered:
            lines.append("WARNING: the embedded Content Credentials are invalid (tampered)")
        if self.consistent is False and self.content_bound is not False:
            lines.append(
                "WARNING: the watermark's content ID does not match the manifest's soft "
                "binding; the credentials belong to another image"
            )
        if self.consent is not None:
            claimed = "" if self.trusted else " (claimed by a signer that is NOT trusted)"
            lines.append(f"likeness: {self.likeness_subject}{claimed}; {self.consent.describe()}")
            if self.likeness is not None and self.likeness.licensee:
                signer = self.provenance.signer if self.provenance is not None else None
                lines.append(
                    f"  used by {self.likeness.licensee} for {self.likeness.purpose}, "
                    f"{self.likeness.medium}, {self.likeness.region}; signed by "
                    f"{signer.describe() if signer else 'an unknown signer'}"
                )
        if self.provenance is not None and self.provenance.training_mining:
            lines.append(
                "  training and data mining (CAWG): "
                + ", ".join(
                    f"{name.removeprefix('cawg.')} {use}"
                    for name, use in self.provenance.training_mining.items()
                )
            )
        elif self.likeness is not None:
            state = "EXPIRED" if self.likeness_expired else "valid"
            until = self.likeness.valid_until or "open-ended"
            lines.append(
                f"likeness consent: {self.likeness.subject} (ref {self.likeness.consent_ref}, "
                f"until {until}): {state}"
            )
        lines.extend(f"also registered: {item}" for item in self.other_registrations)
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


def _signer_text(report: ProvenanceReport, trusted: bool) -> str:
    if report.is_dev_identity:
        return "the aiwatermark development identity (signer NOT trusted)"
    who = report.signer.describe() if report.signer else "an unknown signer"
    return f"{who} (signer {'trusted' if trusted else 'NOT trusted'})"


def _manifest_evidence(
    report: ProvenanceReport,
    origin: ManifestOrigin,
    sound: bool,
    trusted: bool,
    via: RecoveredVia = "watermark",
    answered_by: str = "",
) -> str:
    where = "embedded" if origin == "embedded" else RECOVERED_NOTE.format(via=via)
    if origin == "recovered" and "://" in answered_by:
        # Repositories are named; a local file's path says nothing a reader needs (and a
        # server should not show its own paths).
        where += f", answered by {answered_by}"
    kind = _source_name(report) or "no digital source type"
    generator = f", generator {report.generator}" if report.generator else ""
    if origin == "recovered":
        state = "signature and claim valid" if sound else "signature or claim INVALID"
    elif report.state == "Invalid":
        problems = [text for code, text in report.failures if code not in NOT_TAMPER]
        state = "INVALID: " + (problems[0] if problems else "does not verify")
    else:
        state = "intact"
    signed = f"signed by {_signer_text(report, trusted)}"
    if report.timestamped and report.signing_time is not None:
        tsa = report.timestamp_authority or "an unnamed authority"
        signed += (
            f"; timestamped {report.signing_time.isoformat()} by {tsa} "
            f"(TSA {'trusted' if report.timestamp_trusted else 'NOT trusted'})"
        )
    return f"C2PA ({where}): {kind}{generator}; {signed}; {state}"


def _source_name(report: ProvenanceReport) -> str:
    return (report.digital_source_type or "").rsplit("/", 1)[-1]


def _manifest_claim(
    report: ProvenanceReport, source: str, trusted: bool, why_untrusted: str
) -> Claim | None:
    """A sound manifest's statement; one that states no source type says nothing either way."""
    if not (report.ai_generated or report.digital_source_type):
        return None
    return Claim(
        source=source,
        ai=report.ai_generated,
        trusted=trusted,
        detail=_source_name(report),
        why_untrusted="" if trusted else why_untrusted,
    )


def build_report(
    *,
    source: str,
    embedded: ProvenanceReport | None,
    recovery: Recovery | None,
    watermark: Detection | None,
    fingerprint: Fingerprint | None,
    label: LabelDetection | None,
    disclosure: Disclosure | None,
    notes: tuple[str, ...] = (),
) -> VerificationReport:
    """Combine the layers' results into a :class:`VerificationReport` (used by ``verify``).

    The verdict itself is :func:`aiwatermark.verdict.decide` over the layers' claims.

    Example:
        >>> from aiwatermark.report import build_report
        >>> build_report(source="x.jpg", embedded=None, recovery=None, watermark=None,
        ...              fingerprint=None, label=None, disclosure=None).ai_generated is None
        True
    """
    evidence: list[str] = []
    claims: list[Claim] = []
    payload = watermark.payload if watermark is not None and watermark.detected else None

    # An embedded manifest is bound to the file by its content hash; a recovered one only
    # through the fingerprint it signs. Both can be there (an edited file whose intact
    # original is registered): report both, rely on the sound one.
    manifest: ProvenanceReport | None = None
    origin: ManifestOrigin | None = None
    trusted = False
    embedded_sound = embedded is not None and embedded.present and embedded.intact
    tampered = embedded is not None and embedded.present and not embedded.intact
    if embedded is not None and embedded.present:
        evidence.append(_manifest_evidence(embedded, "embedded", embedded_sound, embedded.trusted))
        if embedded_sound:
            manifest, origin, trusted = embedded, "embedded", embedded.trusted
            claim = _manifest_claim(
                embedded, "C2PA (embedded)", embedded.trusted, "its signer is not trusted"
            )
            if claim is not None:
                claims.append(claim)

    chosen = recovery.chosen if recovery is not None else None
    content_bound: bool | None = None
    distance: int | None = None
    if recovery is not None and chosen is not None:
        content_bound, distance = chosen.bound, chosen.distance
        if chosen.bound:
            if recovery.via == "fingerprint":
                evidence.append(
                    f"fingerprint: this image matches a registered "
                    f"{'AI-generated ' if chosen.report.ai_generated else ''}image "
                    f"(distance {distance} of 256 bits, match ≤ {MATCH_THRESHOLD})"
                )
                if chosen.report.ai_generated:
                    claims.append(Claim("fingerprint match", ai=True))
            evidence.append(
                _manifest_evidence(
                    chosen.report,
                    "recovered",
                    chosen.sound,
                    chosen.trusted_signer,
                    recovery.via,
                    chosen.entry.origin,
                )
            )
            if chosen.sound:
                claim = _manifest_claim(
                    chosen.report,
                    "C2PA (recovered)",
                    chosen.trusted_signer,
                    "its signer is not trusted",
                )
                if claim is not None:
                    claims.append(claim)
                # The file's own manifest stays the one shown unless the registered one is
                # all there is, or is trusted where the file's is not.
                if manifest is None or (not trusted and chosen.trusted_signer):
                    manifest, origin, trusted = chosen.report, "recovered", chosen.trusted_signer
        else:
            if distance is None:
                reason = "it signs no fingerprint to bind it to any pixels"
            else:
                reason = f"fingerprint distance {distance}, a match needs ≤ {MATCH_THRESHOLD}"
            if not chosen.comparable:
                evidence.append(
                    "a registration was found, but this image is too flat for its fingerprint "
                    "to show that it is the registered one: its credentials are not applied"
                )
            elif recovery.via == "watermark":
                evidence.append(
                    "an aiwatermark watermark is present, but this image is not the one it was "
                    "registered with: its credentials do not apply — the watermark may have "
                    f"been copied ({reason})"
                )
            else:  # the store's index pointed here, the signed manifest disagrees
                evidence.append(
                    "the manifest store lists this image, but the registration's signed "
                    f"fingerprint does not match it: its credentials do not apply ({reason})"
                )
    others = tuple(c.describe() for c in recovery.others) if recovery is not None else ()

    if payload is not None and watermark is not None:
        evidence.append(
            f"watermark: content ID {payload.hex()} detected "
            f"(false-positive probability {watermark.p_value:.1e})"
        )
        claims.append(Claim("watermark", ai=True))
    if label is not None and label.found:
        evidence.append(
            f"label: visible AI label found ({label.position}, match {label.score:.2f})"
        )
        claims.append(Claim("label", ai=True))
    if disclosure is not None and disclosure.ai_generated:
        places = ", ".join(disclosure.found_in) or "metadata"
        kind = (disclosure.digital_source_type or "").rsplit("/", 1)[-1] or "AI disclosure"
        evidence.append(f"metadata: {kind} in {places}")
        claims.append(Claim("metadata", ai=True))

    if chosen is not None and not chosen.bound and payload is not None:
        consistent: bool | None = False  # a copied watermark: its credentials are another's
    else:
        bindings = (
            [b.value for b in manifest.soft_bindings if b.alg == SOFT_BINDING_ALG]
            if manifest is not None
            else []
        )
        consistent = None if payload is None or not bindings else payload in bindings
    if consistent is False:
        trusted = False
    verdict = decide(claims)
    likeness = manifest.likeness if manifest is not None else None

    return VerificationReport(
        source=source,
        ai_generated=verdict.ai_generated,
        evidence=tuple(evidence),
        conflicts=verdict.conflicts,
        consistent=consistent,
        tampered=tampered,
        trusted=trusted,
        manifest_origin=origin,
        content_id=None if payload is None else payload.hex(),
        likeness=likeness,
        likeness_expired=None if likeness is None or manifest is None else manifest.consent_expired,
        content_bound=content_bound,
        fingerprint_distance=distance,
        recovered_via=recovery.via if recovery is not None else None,
        other_registrations=others,
        headline=verdict.headline,
        provenance=manifest,
        watermark=watermark,
        fingerprint=fingerprint,
        label=label,
        disclosure=disclosure,
        notes=notes,
    )


__all__ = ["RECOVERED_NOTE", "ManifestOrigin", "VerificationReport", "build_report"]
