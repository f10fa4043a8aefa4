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

from .invisible import Detection
from .metadata import Disclosure
from .provenance import (
    CONTENT_HASH_MISMATCH,
    NOT_TAMPER,
    SOFT_BINDING_ALG,
    Likeness,
    ProvenanceReport,
)
from .visible import LabelDetection

ManifestOrigin = Literal["embedded", "recovered"]

RECOVERED_NOTE = "recovered via watermark after metadata was stripped"


@dataclass(frozen=True)
class VerificationReport:
    """Every layer's result and the verdict they add up to.

    ``ai_generated`` is True when any layer discloses AI generation, False when a valid
    C2PA manifest positively describes non-AI content and nothing else claims AI, and None
    when no layer says anything (which is not proof of authenticity). ``evidence`` says in
    words which layer said what. ``manifest_origin`` is ``"embedded"`` for a manifest in the
    file (bound to its bytes) and ``"recovered"`` for one found in the manifest store by the
    watermark's content ID after the metadata was stripped. ``consistent`` compares the
    watermark payload with the manifest's soft binding (None unless both exist);
    ``tampered`` means an embedded manifest is present but invalid.

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

    @property
    def likeness_consent(self) -> bool:
        """True when the manifest records a person's consent to their likeness being shown."""
        return self.likeness is not None

    @property
    def recovered(self) -> bool:
        """True when the manifest came from the store via the watermark, not from the file."""
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
            "source": self.source,
            "ai_generated": self.ai_generated,
            "evidence": list(self.evidence),
            "consistent": self.consistent,
            "tampered": self.tampered,
            "trusted": self.trusted,
            "manifest_origin": self.manifest_origin,
            "content_id": self.content_id,
            "likeness_consent": self.likeness_consent,
            "likeness": None if self.likeness is None else self.likeness.to_dict(),
            "likeness_expired": self.likeness_expired,
            "layers": {
                "provenance": None if self.provenance is None else self.provenance.to_dict(),
                "watermark": None if self.watermark is None else self.watermark.to_dict(),
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
        if self.ai_generated:
            verdict = "AI-generated"
        elif self.ai_generated is None:
            verdict = "no AI disclosure found (absence of marks does not prove authenticity)"
        else:
            verdict = "not AI-generated, per its signed Content Credentials"
        lines = [f"verdict: {verdict}"]
        lines.extend(f"  - {item}" for item in self.evidence)
        if self.tampered:
            lines.append("WARNING: the embedded Content Credentials are invalid (tampered)")
        if self.consistent is False:
            lines.append(
                "WARNING: the watermark's content ID does not match the manifest's soft "
                "binding; the credentials belong to another image"
            )
        if self.likeness is not None:
            state = "EXPIRED" if self.likeness_expired else "valid"
            until = self.likeness.valid_until or "open-ended"
            lines.append(
                f"likeness consent: {self.likeness.subject} (ref {self.likeness.consent_ref}, "
                f"until {until}): {state}"
            )
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


def _claim_sound(report: ProvenanceReport, origin: ManifestOrigin) -> bool:
    """True when the signature and claim hold up (for an embedded one: and the bytes too).

    A recovered manifest hashed the original file's bytes and the copy that led us to it was
    re-encoded, so content-hash failures say nothing about its signature or claim; neither
    does an untrusted or development signer.
    """
    if report.intact:
        return True
    if origin == "embedded" or not report.failures:
        return False
    allowed = CONTENT_HASH_MISMATCH | NOT_TAMPER
    return all(code in allowed for code, _ in report.failures)


def _trusted(report: ProvenanceReport, origin: ManifestOrigin, sound: bool) -> bool:
    if origin == "embedded":
        return report.trusted
    # A recovered manifest is never "Trusted" as a whole (its content hash cannot match),
    # but its signer is when the validator raised no trust complaint about it.
    codes = {code for code, _ in report.failures}
    return sound and not report.is_dev_identity and not codes & NOT_TAMPER


def _manifest_evidence(report: ProvenanceReport, origin: ManifestOrigin, sound: bool) -> str:
    where = "embedded" if origin == "embedded" else RECOVERED_NOTE
    if report.is_dev_identity:
        who = "the aiwatermark development identity (not trusted)"
    else:
        who = report.signer.describe() if report.signer else "an unknown signer"
    kind = (report.digital_source_type or "").rsplit("/", 1)[-1] or "no digital source type"
    generator = f", generator {report.generator}" if report.generator else ""
    if origin == "recovered":
        state = "signature and claim valid" if sound else "signature or claim INVALID"
        if sound and _trusted(report, origin, sound):
            state += ", signer trusted"
    elif report.state == "Invalid":
        problems = [text for code, text in report.failures if code not in NOT_TAMPER]
        state = "INVALID: " + (problems[0] if problems else "does not verify")
    else:
        state = "trusted" if report.trusted else "intact"
    return f"C2PA ({where}): {kind}{generator}; signed by {who}; {state}"


def build_report(
    *,
    source: str,
    embedded: ProvenanceReport | None,
    recovered: ProvenanceReport | None,
    watermark: Detection | None,
    label: LabelDetection | None,
    disclosure: Disclosure | None,
    notes: tuple[str, ...] = (),
) -> VerificationReport:
    """Combine the layers' results into a :class:`VerificationReport` (used by ``verify``).

    Example:
        >>> from aiwatermark.report import build_report
        >>> build_report(source="x.jpg", embedded=None, recovered=None, watermark=None,
        ...              label=None, disclosure=None).ai_generated is None
        True
    """
    evidence: list[str] = []
    claims: list[bool] = []

    # An embedded manifest that fails (the file was edited) and the intact original
    # recovered from the store can both be there: report both, rely on the sound one.
    judged: list[tuple[ProvenanceReport, ManifestOrigin, bool]] = []
    if embedded is not None and embedded.present:
        judged.append((embedded, "embedded", _claim_sound(embedded, "embedded")))
    if recovered is not None and recovered.present:
        judged.append((recovered, "recovered", _claim_sound(recovered, "recovered")))
    tampered = any(where == "embedded" and not ok for _, where, ok in judged)
    for report, where, ok in judged:
        evidence.append(_manifest_evidence(report, where, ok))
        # Only a positive statement counts: an AI source type, or a non-AI one such as a
        # camera capture. A manifest that states no source type says nothing either way.
        if ok and (report.ai_generated or report.digital_source_type):
            claims.append(report.ai_generated)
    manifest: ProvenanceReport | None = None
    origin: ManifestOrigin | None = None
    sound = False
    if judged:
        manifest, origin, sound = next((j for j in judged if j[2]), judged[0])

    payload = watermark.payload if watermark is not None and watermark.detected else None
    if payload is not None and watermark is not None:
        evidence.append(
            f"watermark: content ID {payload.hex()} detected "
            f"(false-positive probability {watermark.p_value:.1e})"
        )
        claims.append(True)
    if label is not None and label.found:
        evidence.append(
            f"label: visible AI label found ({label.position}, match {label.score:.2f})"
        )
        claims.append(True)
    if disclosure is not None and disclosure.ai_generated:
        places = ", ".join(disclosure.found_in) or "metadata"
        kind = (disclosure.digital_source_type or "").rsplit("/", 1)[-1] or "AI disclosure"
        evidence.append(f"metadata: {kind} in {places}")
        claims.append(True)

    bindings = (
        []
        if manifest is None or not sound
        else [b.value for b in manifest.soft_bindings if b.alg == SOFT_BINDING_ALG]
    )
    consistent = None if payload is None or not bindings else payload in bindings
    likeness = manifest.likeness if manifest is not None and sound else None

    return VerificationReport(
        source=source,
        ai_generated=True if True in claims else (False if claims else None),
        evidence=tuple(evidence),
        consistent=consistent,
        tampered=tampered,
        trusted=manifest is not None and origin is not None and _trusted(manifest, origin, sound),
        manifest_origin=origin,
        content_id=None if payload is None else payload.hex(),
        likeness=likeness,
        likeness_expired=None
        if likeness is None or manifest is None
        else (manifest.consent_expired),
        provenance=manifest,
        watermark=watermark,
        label=label,
        disclosure=disclosure,
        notes=notes,
    )


__all__ = ["RECOVERED_NOTE", "ManifestOrigin", "VerificationReport", "build_report"]
