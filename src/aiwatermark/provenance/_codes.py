"""C2PA validation status codes in plain language (what went wrong, and what it means)."""

from __future__ import annotations

UNTRUSTED = "signingCredential.untrusted"
EXPIRED = "signingCredential.expired"
# signingCredential.expired after a trusted timestamp: the certificate was checked at the
# timestamp's time, so the usual "no timestamp" explanation would be wrong.
EXPIRED_AT_TIMESTAMP = (
    "the signing certificate was not valid (expired or not yet valid) at the time its "
    "trusted RFC 3161 timestamp records"
)
DEV_IDENTITY = "aiwatermark.devIdentity"
UNREADABLE = "aiwatermark.manifestUnreadable"
LIKENESS_MALFORMED = "aiwatermark.likenessMalformed"

# Failures that say nothing about tampering: the content and claim are intact.
NOT_TAMPER = frozenset({UNTRUSTED, DEV_IDENTITY, "signingCredential.ocsp.skipped"})

# The hard binding no longer matches the bytes: expected for a manifest recovered for a
# re-encoded copy, tampering for an embedded one.
CONTENT_HASH_MISMATCH = frozenset(
    {"assertion.dataHash.mismatch", "assertion.bmffHash.mismatch", "assertion.boxesHash.mismatch"}
)

_PLAIN = {
    UNTRUSTED: (
        "intact, signer not trusted: the signature is valid but the certificate does not "
        "chain to a trust anchor you gave (pass trust_anchors= to check a known signer)"
    ),
    DEV_IDENTITY: (
        "signed with an aiwatermark development certificate, which is for testing only and "
        "never trusted"
    ),
    UNREADABLE: "a C2PA manifest is there but damaged and cannot be read",
    LIKENESS_MALFORMED: "the likeness-consent assertion is malformed and was ignored",
    "assertion.dataHash.mismatch": (
        "the image bytes changed after signing (edited, tampered with, or re-saved)"
    ),
    "assertion.bmffHash.mismatch": "the image bytes changed after signing",
    "assertion.boxesHash.mismatch": "the image bytes changed after signing",
    "assertion.hashedURI.mismatch": "an assertion was altered after signing",
    "assertion.missing": "an assertion the claim lists is missing",
    "assertion.multipleHardBindings": "the manifest has more than one content hash",
    "assertion.undeclared": "the manifest holds an assertion the signed claim does not list",
    "assertion.inaccessible": "an assertion cannot be read",
    "assertion.action.ingredientMismatch": "an action points at a missing ingredient",
    "assertion.cbor.invalid": "an assertion is not valid CBOR",
    "assertion.json.invalid": "an assertion is not valid JSON",
    "claim.missing": "the manifest has no claim",
    "claim.multiple": "the manifest has more than one claim",
    "claim.hardBindings.missing": "the claim does not bind to the image bytes",
    "claim.malformed": "the claim is malformed",
    "claimSignature.missing": "the claim signature is missing",
    "claimSignature.mismatch": "the claim signature does not match: the manifest was altered",
    "claimSignature.outsideValidity": (
        "the certificate was not valid (expired or not yet valid) when the claim was signed"
    ),
    "signingCredential.invalid": "the signing certificate is invalid or malformed",
    "signingCredential.revoked": "the signing certificate has been revoked",
    EXPIRED: (
        "the signing certificate has expired (or is not yet valid), and no timestamp from a "
        "trusted timestamp authority shows the image was signed while it was valid"
    ),
    "signingCredential.ocsp.revoked": "the signing certificate has been revoked (OCSP)",
    "algorithm.unsupported": "the manifest uses a signature or hash algorithm C2PA does not allow",
    "algorithm.deprecated": "the manifest uses a deprecated algorithm",
    "timeStamp.mismatch": "the timestamp does not match the signature",
    "timeStamp.malformed": "the timestamp is malformed",
    "timeStamp.outsideValidity": "the timestamp authority's certificate was not valid",
    "timeStamp.untrusted": "the timestamp authority is not trusted",
    "timeStamp.validated": "the RFC 3161 timestamp matches the signature",
    "timeStamp.trusted": "the timestamp authority chains to a trust anchor",
    "manifest.inaccessible": "the manifest cannot be read",
    "manifest.missing": "a manifest the store refers to is missing",
    "manifest.multipleParents": "the manifest claims more than one parent ingredient",
    "manifest.update.invalid": "an update manifest is invalid",
    "ingredient.manifest.missing": "an ingredient's manifest is missing",
    "ingredient.claimSignature.mismatch": "an ingredient's manifest was altered",
    "ingredient.hashedURI.mismatch": "an ingredient's manifest was altered",
    "general.error": "the validator hit an unexpected error",
}


def explain(code: str, fallback: str | None = None) -> str:
    """Plain-language explanation of a C2PA validation status code."""
    if code in _PLAIN:
        return _PLAIN[code]
    if fallback:
        return fallback
    return f"validation failure {code}"
