"""The decision policy, row by row as docs/verdict.md states it."""

from __future__ import annotations

import pytest

from aiwatermark.verdict import Claim, decide

CAPTURE_TRUSTED = Claim("C2PA (embedded)", ai=False, trusted=True, detail="digitalCapture")
CAPTURE_UNTRUSTED = Claim(
    "C2PA (embedded)", ai=False, detail="digitalCapture", why_untrusted="its signer is not trusted"
)
AI_MANIFEST_UNTRUSTED = Claim("C2PA (recovered)", ai=True, detail="trainedAlgorithmicMedia")


@pytest.mark.parametrize(
    ("claims", "ai_generated", "conflicts"),
    [
        ([], None, 0),
        ([Claim("watermark", ai=True)], True, 0),
        ([Claim("fingerprint match", ai=True)], True, 0),
        ([Claim("label", ai=True)], True, 0),
        ([Claim("metadata", ai=True)], True, 0),
        ([AI_MANIFEST_UNTRUSTED], True, 0),  # an AI claim needs no trust
        ([CAPTURE_TRUSTED], False, 0),
        ([CAPTURE_UNTRUSTED], None, 1),
        ([CAPTURE_TRUSTED, CAPTURE_UNTRUSTED], False, 1),
        ([CAPTURE_TRUSTED, Claim("watermark", ai=True)], True, 1),
        ([CAPTURE_TRUSTED, Claim("fingerprint match", ai=True)], True, 1),
        ([CAPTURE_UNTRUSTED, Claim("metadata", ai=True)], True, 1),
    ],
)
def test_policy_table(claims: list[Claim], ai_generated: bool | None, conflicts: int) -> None:
    verdict = decide(claims)
    assert verdict.ai_generated is ai_generated
    assert len(verdict.conflicts) == conflicts


def test_conflicts_name_what_was_claimed_and_why_it_was_not_relied_upon() -> None:
    (text,) = decide([CAPTURE_UNTRUSTED]).conflicts
    assert text == (
        "C2PA (embedded) claims digitalCapture, but its signer is not trusted: not relied upon"
    )
    (text,) = decide([CAPTURE_TRUSTED, Claim("watermark", ai=True)]).conflicts
    assert "trusted signer" in text and "watermark says AI-generated" in text


def test_headline_never_says_not_ai_without_a_trusted_claim() -> None:
    assert "not AI-generated, per" not in decide([CAPTURE_UNTRUSTED]).headline
    assert decide([CAPTURE_TRUSTED]).headline.startswith("not AI-generated")
