"""The manifest definition we hand to c2pa's Builder (see docs/provenance.md, field by field)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from ..fingerprint import FINGERPRINT_ALG
from ..metadata import COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA, TRAINED_ALGORITHMIC_MEDIA
from ._likeness import LIKENESS_LABEL, TRAINING_MINING_LABEL, Likeness

SOFT_BINDING_ALG = "io.github.aiwatermark.tiled-ss.1"
"""``alg`` of our ``c2pa.soft-binding`` assertion: aiwatermark's invisible watermark, v1.

Reverse-domain style, as C2PA asks of algorithms not (yet) in its soft-binding algorithm
list; the ``value`` is the base64 of the 8-byte watermark payload.
"""

WATERMARK_ACTION = "c2pa.watermarked.bound"
"""C2PA 2.2+ action: an invisible watermark bound to this manifest by a soft binding."""

PARENT_LABEL = "parent"


def _soft_binding(alg: str, value: bytes) -> dict[str, Any]:
    encoded = base64.b64encode(value).decode("ascii")
    return {
        "label": "c2pa.soft-binding",
        "data": {"alg": alg, "blocks": [{"scope": {}, "value": encoded}]},
    }


def build(
    *,
    title: str,
    claim_generator: tuple[str, str],
    generator: str | None,
    generator_version: str | None,
    soft_binding: bytes | None,
    fingerprint: bytes | None,
    likeness: Likeness | None,
    has_parent: bool,
    when: dt.datetime,
) -> dict[str, Any]:
    """The manifest definition JSON for c2pa's Builder."""
    when_text = when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    ai_action: dict[str, Any] = {"when": when_text}
    if generator:
        agent = {"name": generator}
        if generator_version:
            agent["version"] = generator_version
        ai_action["softwareAgent"] = agent
    if has_parent:
        actions: list[dict[str, Any]] = [
            {"action": "c2pa.opened", "parameters": {"ingredientIds": [PARENT_LABEL]}},
            {
                "action": "c2pa.edited",
                "digitalSourceType": COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
                **ai_action,
            },
        ]
    else:
        actions = [
            {"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA, **ai_action}
        ]
    assertions: list[dict[str, Any]] = []
    if soft_binding is not None:
        actions.append({"action": WATERMARK_ACTION, "when": when_text})
        assertions.append(_soft_binding(SOFT_BINDING_ALG, soft_binding))
    if fingerprint is not None:
        # A second soft binding, of fingerprint type: it ties the credentials to these
        # pixels, so a watermark copied into another picture cannot carry them along.
        assertions.append(_soft_binding(FINGERPRINT_ALG, fingerprint))
    assertions.insert(0, {"label": "c2pa.actions.v2", "data": {"actions": actions}})
    if likeness is not None:
        assertions.append({"label": LIKENESS_LABEL, "data": likeness.to_dict()})
        # A real person's likeness: say in the standard vocabulary that the image is not
        # training data unless the person agreed.
        assertions.append({"label": TRAINING_MINING_LABEL, "data": likeness.training_mining()})
    name, version = claim_generator
    return {
        "claim_generator_info": [{"name": name, "version": version}],
        "title": title,
        "assertions": assertions,
    }
