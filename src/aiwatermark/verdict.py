"""The decision policy: what the layers' statements add up to. docs/verdict.md has the table.

Every layer that found something makes a :class:`Claim`: the watermark, a fingerprint match
with a registered image, the visible label and the metadata say "AI-generated"; a C2PA
manifest says whatever its digital source type says, and is *trusted* only when it is
intact, bound to these pixels and signed by a signer that chains to the caller's trust
anchors. :func:`decide` then applies three rules, in order:

1. Any claim of AI generation, from any layer, makes ``ai_generated`` True. A manifest that
   says otherwise cannot outvote a watermark, a fingerprint match, a label or metadata: the
   disagreement is reported as a conflict.
2. Otherwise a trusted manifest that states a non-AI source (a camera capture, say) makes
   ``ai_generated`` False.
3. Otherwise ``ai_generated`` is None: nothing was found, or only untrusted claims that the
   image is not AI-generated — which anyone can make, so they are named as conflicts and not
   relied upon.

Example:
    >>> from aiwatermark.verdict import Claim, decide
    >>> decide([Claim("C2PA (embedded)", ai=False, detail="digitalCapture")]).ai_generated
    >>> decide([Claim("watermark", ai=True)]).ai_generated
    True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Claim:
    """One layer's statement about how the image was made.

    ``ai`` is True for "AI-generated" and False for a positive statement of another origin;
    ``trusted`` marks a manifest that is intact, bound to these pixels and from a trusted
    signer (the only kind of claim that may say "not AI"); ``detail`` names what was claimed
    (e.g. ``digitalCapture``) and ``why_untrusted`` why an untrusted claim is not relied on.

    Example:
        >>> from aiwatermark.verdict import Claim
        >>> Claim("watermark", ai=True).to_dict()["source"]
        'watermark'
    """

    source: str
    ai: bool
    trusted: bool = False
    detail: str = ""
    why_untrusted: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "source": self.source,
            "ai": self.ai,
            "trusted": self.trusted,
            "detail": self.detail,
            "why_untrusted": self.why_untrusted,
        }


@dataclass(frozen=True)
class Verdict:
    """What the claims add up to: ``ai_generated`` and the disagreements found on the way.

    Example:
        >>> from aiwatermark.verdict import Claim, decide
        >>> verdict = decide([Claim("watermark", ai=True),
        ...                   Claim("C2PA (embedded)", ai=False, trusted=True,
        ...                         detail="digitalCapture")])
        >>> verdict.ai_generated, len(verdict.conflicts)
        (True, 1)
    """

    ai_generated: bool | None
    conflicts: tuple[str, ...] = ()

    @property
    def headline(self) -> str:
        """The verdict in a few words, as the report's summary line shows it."""
        if self.ai_generated:
            return "AI-generated"
        if self.ai_generated is False:
            return "not AI-generated, per Content Credentials from a trusted signer"
        if self.conflicts:
            return "undetermined: only untrusted claims that the image is not AI-generated"
        return "no AI disclosure found (absence of marks does not prove authenticity)"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"ai_generated": self.ai_generated, "conflicts": list(self.conflicts)}


def _says(claim: Claim) -> str:
    return claim.detail or ("AI-generated" if claim.ai else "not AI-generated")


def decide(claims: Iterable[Claim]) -> Verdict:
    """Apply the policy (module docstring, docs/verdict.md) to the layers' claims.

    Example:
        >>> from aiwatermark.verdict import Claim, decide
        >>> decide([Claim("C2PA (embedded)", ai=False, detail="digitalCapture",
        ...               why_untrusted="its signer is not trusted")]).conflicts[0]
        'C2PA (embedded) claims digitalCapture, but its signer is not trusted: not relied upon'
        >>> decide([]).ai_generated is None
        True
    """
    claims = list(claims)
    ai = [c for c in claims if c.ai]
    trusted_other = [c for c in claims if not c.ai and c.trusted]
    untrusted_other = [c for c in claims if not c.ai and not c.trusted]
    if ai:
        sources = ", ".join(dict.fromkeys(c.source for c in ai))
        conflicts = tuple(
            f"{c.source} says {_says(c)}"
            + (" (trusted signer)" if c.trusted else f" ({c.why_untrusted or 'not trusted'})")
            + f", but {sources} say{'s' if len(ai) == 1 else ''} AI-generated: the AI evidence"
            " stands"
            for c in trusted_other + untrusted_other
        )
        return Verdict(True, conflicts)
    conflicts = tuple(
        f"{c.source} claims {_says(c)}, but {c.why_untrusted or 'it is not trusted'}: "
        "not relied upon"
        for c in untrusted_other
    )
    if trusted_other:
        return Verdict(False, conflicts)
    return Verdict(None, conflicts)


__all__ = ["Claim", "Verdict", "decide"]
