"""Recovering Content Credentials from the manifest store, bound to the presented pixels.

A content ID read from the watermark says which registration an image *claims*; anyone can
copy a watermark into another picture. So every candidate manifest is checked against the
image: the PDQ fingerprint signed into the manifest must be within
:data:`fingerprint.MATCH_THRESHOLD` bits of the presented image's. When the watermark is
gone, the fingerprint itself finds the registration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from . import fingerprint as fp
from . import provenance
from .errors import AiWatermarkError, KeyFileError, StoreError
from .store import ManifestStore, StoredManifest

RecoveredVia = Literal["watermark", "fingerprint"]


@dataclass(frozen=True)
class Candidate:
    """One store entry, read and judged against the presented image."""

    entry: StoredManifest
    report: provenance.ProvenanceReport
    distance: int | None
    """Fingerprint distance between the image and the fingerprint signed in the manifest;
    None when the manifest signs none (made before fingerprints) or the image has none."""
    comparable: bool
    """The presented image has enough structure for a fingerprint distance to mean anything:
    two different flat pictures can sit within the threshold of each other."""

    @property
    def sound(self) -> bool:
        """Signature and claim intact (the content hash of the original bytes cannot match)."""
        return self.report.claim_intact

    @property
    def trusted_signer(self) -> bool:
        """The claim holds and its signer chains to the caller's trust anchors."""
        return self.report.signer_trusted

    @property
    def bound(self) -> bool:
        """True when the signed fingerprint shows these pixels are the registered image."""
        return self.comparable and self.distance is not None and self.distance <= fp.MATCH_THRESHOLD

    def describe(self) -> str:
        who = self.report.signer.describe() if self.report.signer else "an unknown signer"
        trust = "trusted" if self.trusted_signer else "NOT trusted"
        where = (
            "no signed fingerprint"
            if self.distance is None
            else f"fingerprint distance {self.distance}"
        )
        origin = f" in {self.entry.origin}" if self.entry.origin else ""
        return f"store entry {self.entry.id}{origin}: signed by {who} (signer {trust}), {where}"


@dataclass(frozen=True)
class Recovery:
    """The candidate that applies best, how it was found, and the others."""

    via: RecoveredVia
    chosen: Candidate
    others: tuple[Candidate, ...] = ()


def _look_up(
    stores: Sequence[ManifestStore],
    payload: bytes | None,
    image_fingerprint: fp.Fingerprint | None,
    problems: list[str],
) -> tuple[RecoveredVia, list[StoredManifest]] | None:
    """Every store's entries for the payload (or, without one, the fingerprint).

    A store that cannot be reached is a note, not a failure: the others still answer, and
    the verdict rests on what the image itself says.
    """
    if payload is None and (image_fingerprint is None or not image_fingerprint.reliable):
        return None
    via: RecoveredVia = "watermark" if payload is not None else "fingerprint"
    entries: list[StoredManifest] = []
    for store in stores:
        try:
            if payload is not None:
                entries.extend(store.by_payload(payload))
            else:
                assert image_fingerprint is not None
                found = store.by_fingerprint(image_fingerprint.value, fp.MATCH_THRESHOLD)
                entries.extend(entry for entry, _ in found)
        except StoreError as exc:
            problems.append(f"manifest store not read: {exc}")
    return via, entries


def recover(
    stores: Sequence[ManifestStore],
    *,
    asset: bytes,
    payload: bytes | None,
    image_fingerprint: fp.Fingerprint | None,
    trust_anchors: provenance.TrustAnchors | None,
    skip_label: str | None,
    problems: list[str],
) -> Recovery | None:
    """Look the image up in every store (by watermark payload, else by fingerprint) and
    judge each entry.

    ``asset`` is any valid image the detached manifests are read against; ``skip_label``
    leaves out the manifest already embedded in the file. Unreadable entries and
    unreachable stores are described in ``problems``.
    """
    found = _look_up(stores, payload, image_fingerprint, problems)
    if found is None:
        return None
    via, entries = found
    judged: list[Candidate] = []
    for entry in entries:
        try:
            report = provenance.read_provenance(
                asset, trust_anchors=trust_anchors, manifest=entry.manifest
            )
        except KeyFileError:
            raise  # unreadable trust anchors are the caller's mistake, not the store's
        except AiWatermarkError as exc:
            problems.append(f"store entry {entry.id} not read: {exc}")
            continue
        if skip_label is not None and report.manifest_label == skip_label:
            continue
        if via == "watermark" and not any(
            b.alg == provenance.SOFT_BINDING_ALG and b.value == payload
            for b in report.soft_bindings
        ):
            problems.append(
                f"store entry {entry.id} ignored: its signed manifest does not bind content "
                f"ID {payload.hex() if payload else ''}"
            )
            continue
        signed = [b.value for b in report.soft_bindings if b.alg == fp.FINGERPRINT_ALG]
        distance = (
            min(image_fingerprint.distance(v) for v in signed if len(v) == 32)
            if image_fingerprint is not None and any(len(v) == 32 for v in signed)
            else None
        )
        judged.append(
            Candidate(
                entry,
                report,
                distance,
                comparable=image_fingerprint is not None and image_fingerprint.reliable,
            )
        )
    if not judged:
        return None
    # Bound to these pixels first, then intact, then trusted, then nearest.
    ranked = sorted(
        judged,
        key=lambda c: (
            not c.bound,
            not c.sound,
            not c.trusted_signer,
            c.distance if c.distance is not None else 10**6,
        ),
    )
    return Recovery(via, ranked[0], tuple(ranked[1:]))
