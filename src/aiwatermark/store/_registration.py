"""What a repository checks before it accepts a manifest: signed, ours, from a trusted signer."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from PIL import Image

from .. import imageio, provenance
from ..consent import use_meta
from ..errors import AiWatermarkError, KeyFileError, StoreError
from ..fingerprint import FINGERPRINT_ALG


class RegistrationError(StoreError):
    """A manifest offered for registration was refused: unreadable, altered, binding nothing
    of ours, or from a signer the repository does not trust."""


@dataclass(frozen=True)
class Registration:
    """A manifest that passed :func:`check_registration`, with the bindings it signs.

    Example:
        >>> from aiwatermark.store import Registration
        >>> Registration(b"jumbf", "urn:c2pa:1", bytes(8), None, "Studio").content_id
        '0000000000000000'
    """

    manifest: bytes
    manifest_id: str
    payload: bytes | None
    fingerprint: bytes | None
    signer: str
    likeness: provenance.Likeness | None = None
    """The signed likeness assertion: what the per-use report of a digital twin counts."""

    @property
    def meta(self) -> dict[str, str]:
        """The store meta for this entry, derived from the verified manifest alone (a
        client's own word about the likeness use is never taken)."""
        meta = {"signer": self.signer}
        if self.likeness is not None:
            meta.update(use_meta(self.likeness, self.signer))
        return meta

    @property
    def content_id(self) -> str | None:
        """The watermark payload as hex."""
        return None if self.payload is None else self.payload.hex()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the manifest summarised by its size)."""
        return {
            "manifestId": self.manifest_id,
            "contentId": self.content_id,
            "fingerprint": None if self.fingerprint is None else self.fingerprint.hex(),
            "signer": self.signer,
            "manifestBytes": len(self.manifest),
        }


@functools.lru_cache(maxsize=1)
def _stand_in() -> bytes:
    # Any valid image stands in for the one the manifest was made for: its content hash
    # cannot match anyway, and the signature, claim and assertions are what is checked.
    return imageio.encode(Image.new("RGB", (1, 1)), "PNG")


def check_registration(
    manifest: bytes, *, trust_anchors: provenance.TrustAnchors | None
) -> Registration:
    """Accept ``manifest`` (a C2PA manifest store) for a repository, or say why not.

    It must read, its signature and claim must hold, it must sign an aiwatermark soft
    binding (the watermark payload, the PDQ fingerprint, or both) and a manifest label, and
    its signer must chain to ``trust_anchors`` — a repository that took any signer's word
    would let anyone attach credentials to anyone's pictures.

    Raises:
        RegistrationError: the reason, in words a client can act on.
        aiwatermark.KeyFileError: ``trust_anchors`` cannot be read.

    Example:
        >>> from aiwatermark.store import check_registration
        >>> try:
        ...     check_registration(b"not a manifest", trust_anchors=None)
        ... except Exception as exc:
        ...     print(type(exc).__name__)
        RegistrationError
    """
    if not isinstance(manifest, (bytes, bytearray)) or not manifest:
        raise RegistrationError("the body must be a C2PA manifest store (application/c2pa)")
    try:
        report = provenance.read_provenance(
            _stand_in(), trust_anchors=trust_anchors, manifest=bytes(manifest)
        )
    except KeyFileError:
        raise
    except AiWatermarkError as exc:
        raise RegistrationError(f"the manifest cannot be read: {exc}") from None
    if not report.present or not report.claim_intact:
        problems = [text for code, text in report.failures]
        raise RegistrationError(
            "the manifest does not verify: " + (problems[0] if problems else "unreadable")
        )
    if not report.signer_trusted:
        who = report.signer.describe() if report.signer else "an unknown signer"
        raise RegistrationError(
            f"the manifest is signed by {who}, whom this repository does not trust"
        )
    payloads = [b.value for b in report.soft_bindings if b.alg == provenance.SOFT_BINDING_ALG]
    prints = [
        b.value for b in report.soft_bindings if b.alg == FINGERPRINT_ALG and len(b.value) == 32
    ]
    if not payloads and not prints:
        raise RegistrationError(
            f"the manifest binds neither an aiwatermark watermark ({provenance.SOFT_BINDING_ALG}) "
            f"nor a fingerprint ({FINGERPRINT_ALG}): nothing could find it"
        )
    if not report.manifest_label:
        raise RegistrationError("the manifest has no label to be fetched by")
    return Registration(
        manifest=bytes(manifest),
        manifest_id=report.manifest_label,
        payload=payloads[0] if payloads else None,
        fingerprint=prints[0] if prints else None,
        signer=report.signer.describe() if report.signer else "",
        likeness=report.likeness,
    )
