"""Signed C2PA Content Credentials: say, verifiably, that an image is AI-generated.

:func:`sign` embeds a C2PA manifest (or makes a detached one) that records how the image was
made — ``c2pa.created`` with digital source type ``trainedAlgorithmicMedia``, or
``c2pa.opened`` + ``c2pa.edited`` for an AI edit of a photo — signed with an
:class:`aiwatermark.keys.Signer`. It can bind the invisible watermark payload
(``c2pa.soft-binding``, algorithm :data:`SOFT_BINDING_ALG`) and record likeness consent
(:class:`Likeness`, assertion :data:`LIKENESS_LABEL`). :func:`read_provenance` verifies a
manifest offline and explains the result in a :class:`ProvenanceReport`. docs/provenance.md
describes the manifest field by field.

Example:
    >>> import tempfile
    >>> from aiwatermark import imageio, keys, provenance
    >>> from PIL import Image
    >>> png = imageio.encode(Image.new("RGB", (64, 64), "orange"), "PNG")
    >>> signer = keys.dev_signer(tempfile.mkdtemp())
    >>> signed = provenance.sign(png, format="PNG", signer=signer, soft_binding=bytes(8))
    >>> report = provenance.read_provenance(signed.data)
    >>> report.state, report.is_dev_identity, report.soft_bindings[0].value
    ('Valid', True, b'\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00')
"""

from __future__ import annotations

from ..metadata import COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA, TRAINED_ALGORITHMIC_MEDIA
from ._codes import CONTENT_HASH_MISMATCH, NOT_TAMPER
from ._likeness import LIKENESS_LABEL, MINING_USES, TRAINING_MINING_LABEL, Likeness
from ._manifest import SOFT_BINDING_ALG, WATERMARK_ACTION
from ._read import (
    Ingredient,
    ProvenanceReport,
    SignerInfo,
    SoftBinding,
    TrustAnchors,
    load_trust_anchors,
    read_provenance,
)
from ._sign import SIDECAR_SUFFIX, SignedAsset, sign, sign_file

__all__ = [
    "COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA",
    "CONTENT_HASH_MISMATCH",
    "LIKENESS_LABEL",
    "MINING_USES",
    "NOT_TAMPER",
    "SIDECAR_SUFFIX",
    "SOFT_BINDING_ALG",
    "TRAINED_ALGORITHMIC_MEDIA",
    "TRAINING_MINING_LABEL",
    "WATERMARK_ACTION",
    "Ingredient",
    "Likeness",
    "ProvenanceReport",
    "SignedAsset",
    "SignerInfo",
    "SoftBinding",
    "TrustAnchors",
    "load_trust_anchors",
    "read_provenance",
    "sign",
    "sign_file",
]
