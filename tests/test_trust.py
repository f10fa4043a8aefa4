"""The attack table of the trust issue: each row is an attacker with only the public API.

A platform gates uploads on ``verify(..., trust_anchors=producer_root)``. Every test first
checks that the attack itself works on the layer it targets (the watermark is copied, read
or removed), then that ``verify`` does not lie about the result. Real photographs, real
signing with a producer CA and an attacker's self-made CA, a real SQLite store.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import c2pa
import numpy as np
import pytest
import skimage.data
from PIL import Image

import aiwatermark
from adversary import (
    add_pattern,
    collusion_estimate,
    copy_watermark_public,
    estimate_pattern,
    psnr,
    remove_by_reembed,
    square_photo,
    subtract_pattern,
)
from aiwatermark import PayloadTakenError, fingerprint, imageio, invisible, provenance
from aiwatermark._demo import share_like_a_platform
from aiwatermark.store import SQLiteManifestStore
from consents import JANE_USE, register_jane
from pki import Identity, TestCA
from stores import ListStore

SECRET = "producer-secret-key"
PHOTOS = (
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "stereo_motorcycle",
    "cat",
    "colorwheel",
    "retina",
    "camera",
    "moon",
    "brick",
    "grass",
    "gravel",
)


def photo(name: str) -> np.ndarray:
    """A real 512×512 RGB photograph shipped with scikit-image (or the astronaut fixture)."""
    if name == "astronaut":
        with Image.open(Path(__file__).parent.parent / "fixtures" / "astronaut.jpg") as im:
            return square_photo(im)
    data = getattr(skimage.data, name)()
    return square_photo(data[0] if isinstance(data, tuple) else data)


@dataclass(frozen=True)
class World:
    producer: Identity
    producer_root: Path
    attacker: Identity
    store: SQLiteManifestStore


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    folder = tmp_path_factory.mktemp("trust")
    producer_ca = TestCA.create(folder / "producer", organization="Producer Studio")
    attacker_ca = TestCA.create(folder / "attacker", organization="Producer Studio")
    store = SQLiteManifestStore(folder / "store" / "manifests.sqlite3")
    register_jane(store.consents)
    return World(
        producer=producer_ca.issue("Producer Signer"),
        producer_root=producer_ca.root_path,
        attacker=attacker_ca.issue("Producer Signer"),  # same names, different key
        store=store,
    )


def mark_victim(world: World, name: str = "astronaut", **kwargs: object) -> aiwatermark.MarkResult:
    """The producer marks a digital-twin shot of Jane Doe and registers it."""
    result = aiwatermark.mark(
        photo(name),
        format="PNG",
        signer=world.producer.signer(),
        generator="Producer Gen 2",
        likeness=JANE_USE,
        store=world.store,
        **kwargs,  # type: ignore[arg-type]
    )
    assert result.data is not None and result.stored
    return result


def upload(pixels: np.ndarray | Image.Image, quality: int = 90) -> bytes:
    """What reaches the platform: a JPEG with no metadata."""
    return imageio.encode(imageio.open(pixels), "JPEG", quality=quality, keep_metadata=False)


def verify(world: World, data: bytes, key: str | None = None) -> aiwatermark.VerificationReport:
    return aiwatermark.verify(data, trust_anchors=world.producer_root, store=world.store, key=key)


def assert_credentials_not_applied(report: aiwatermark.VerificationReport) -> None:
    assert report.ai_generated is True  # the watermark itself is still evidence
    assert report.trusted is False and report.consistent is False
    assert report.content_bound is False and report.manifest_origin is None
    assert report.likeness is None and report.provenance is None
    assert report.fingerprint_distance is not None
    assert report.fingerprint_distance > fingerprint.MATCH_THRESHOLD
    text = report.summary()
    assert "this image is not the one it was registered with" in text
    assert "Producer Gen" not in text and "Jane Doe" not in text
    assert "Jane Doe" not in json.dumps(report.to_dict())


def test_the_genuine_share_still_verifies_trusted_with_its_consent(world: World) -> None:
    victim = mark_victim(world)
    assert victim.data is not None
    shared = share_like_a_platform(victim.data)  # fit 1080 px, JPEG 75, metadata stripped
    report = verify(world, shared)
    assert report.ai_generated is True and report.trusted is True and report.consistent is True
    assert report.content_bound is True and report.recovered_via == "watermark"
    assert report.fingerprint_distance is not None and report.fingerprint_distance <= 8
    assert report.likeness is not None and report.likeness.subject == "Jane Doe"
    assert "from a trusted signer" in report.summary().splitlines()[0]


def test_watermark_copied_into_another_photo_carries_no_credentials(world: World) -> None:
    victim = mark_victim(world)
    assert victim.data is not None
    forged = copy_watermark_public(imageio.open(victim.data), photo("coffee"))
    report = verify(world, upload(forged))
    assert report.content_id == victim.content_id  # the copy itself worked
    assert_credentials_not_applied(report)


@pytest.mark.parametrize("target", ["chelsea", "rocket"])
def test_secret_key_pattern_estimated_from_one_pair_carries_no_credentials(
    world: World, target: str
) -> None:
    # The attacker had one of its own pictures marked by the producer (secret key).
    original = photo("immunohistochemistry")
    pair = mark_victim(world, "immunohistochemistry", key=SECRET)
    assert pair.data is not None
    pattern = estimate_pattern(imageio.open(pair.data), original)
    forged = add_pattern(photo(target), pattern, psnr_db=40.0)
    assert psnr(forged, photo(target)) > 39.5
    report = verify(world, upload(forged), key=SECRET)
    assert report.content_id == pair.content_id  # the estimate reads as the producer's ID
    assert_credentials_not_applied(report)


def test_registering_a_taken_content_id_is_refused(world: World) -> None:
    victim = mark_victim(world)
    assert victim.payload is not None and victim.data is not None
    with pytest.raises(PayloadTakenError, match=victim.payload.hex()):
        aiwatermark.mark(
            photo("coffee"),
            payload=victim.payload,
            signer=world.attacker.signer(),
            generator="Evil Gen",
            store=world.store,
        )
    # Written straight into the store, bypassing mark(): refused all the same.
    evil = provenance.sign(
        upload(photo("coffee")),
        format="JPEG",
        signer=world.attacker.signer(),
        generator="Evil Gen",
        soft_binding=victim.payload,
        embed=False,
    )
    with pytest.raises(PayloadTakenError):
        world.store.put(victim.payload, evil.manifest, {"file": "evil.jpg"})
    assert len(world.store.by_payload(victim.payload)) == 1
    report = verify(world, share_like_a_platform(victim.data))
    assert report.trusted is True and report.provenance is not None
    assert report.provenance.generator == "Producer Gen 2"
    assert "Evil Gen" not in report.summary()


def sign_as_capture(image: bytes, identity: Identity) -> bytes:
    """The attacker's own manifest: a camera capture (digitalCapture), signed with its CA."""
    definition = {
        "claim_generator_info": [{"name": "Totally Real Camera", "version": "1.0"}],
        "title": "holiday.jpg",
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": "http://cv.iptc.org/newscodes/"
                            "digitalsourcetype/digitalCapture",
                        }
                    ]
                },
            }
        ],
    }
    info = c2pa.C2paSignerInfo(
        b"es256", identity.chain.read_bytes(), identity.key.read_bytes(), None
    )
    out = io.BytesIO()
    with c2pa.Builder(definition) as builder:
        builder.sign(c2pa.Signer.from_info(info), "image/jpeg", io.BytesIO(image), out)
    return out.getvalue()


def test_an_untrusted_capture_claim_cannot_clear_an_ai_image(world: World) -> None:
    # An AI image that never had a watermark, label or metadata, signed as a camera photo.
    forged = sign_as_capture(upload(photo("cat")), world.attacker)
    report = verify(world, forged)
    assert report.provenance is not None and report.provenance.intact  # a valid signature
    assert report.trusted is False
    assert report.ai_generated is None
    (conflict,) = report.conflicts
    assert "digitalCapture" in conflict and "signer is not trusted" in conflict
    assert report.summary().startswith("verdict: undetermined")
    assert "signer NOT trusted" in report.summary()


def test_a_capture_claim_on_a_registered_ai_image_is_overruled(world: World) -> None:
    victim = mark_victim(world, "stereo_motorcycle", key=SECRET)
    assert victim.data is not None
    # Watermark gone (no key to read it), label and metadata gone, re-signed as a capture.
    forged = sign_as_capture(upload(imageio.open(victim.data)), world.attacker)
    report = verify(world, forged)
    assert report.watermark is not None and not report.watermark.detected
    assert report.ai_generated is True and report.recovered_via == "fingerprint"
    assert any("matches a registered AI-generated image" in e for e in report.evidence)
    assert any("digitalCapture" in c for c in report.conflicts)


def test_public_key_watermark_removed_by_re_embedding_still_matches(world: World) -> None:
    victim = mark_victim(world, "hubble_deep_field")
    assert victim.data is not None
    marked = imageio.open(victim.data)
    removed = remove_by_reembed(marked)
    assert not invisible.detect(removed).detected  # the removal itself worked
    assert psnr(removed, marked) > 40.0
    report = verify(world, upload(removed))
    assert report.ai_generated is True and report.recovered_via == "fingerprint"
    assert report.trusted is True and report.content_bound is True
    assert report.likeness is not None and report.likeness.subject == "Jane Doe"
    assert any("matches a registered AI-generated image" in e for e in report.evidence)


@pytest.mark.parametrize("key", [None, SECRET], ids=["public-key", "secret-key"])
def test_collusion_of_thirteen_marked_images_still_matches(world: World, key: str | None) -> None:
    marked = [imageio.open(mark_victim(world, name, key=key).data or b"") for name in PHOTOS[:13]]
    victim = marked[0]
    estimate = collusion_estimate(marked)
    removed = subtract_pattern(victim, estimate, gain=COLLUSION_GAIN)
    assert not invisible.detect(removed, key=key).detected  # the collusion worked
    assert psnr(removed, victim) > 35.0
    report = verify(world, upload(removed), key=key)
    assert report.ai_generated is True and report.recovered_via == "fingerprint"
    assert report.trusted is True and report.content_bound is True


COLLUSION_GAIN = 1.0


def test_a_shared_store_with_two_entries_for_one_id_applies_the_bound_trusted_one(
    world: World,
) -> None:
    shared_store = ListStore()
    victim_payload = bytes.fromhex("5eed5eed5eed5eed")
    # The attacker got its claim under the victim's content ID in first.
    evil = provenance.sign(
        upload(photo("coffee")),
        format="JPEG",
        signer=world.attacker.signer(),
        generator="Evil Gen",
        soft_binding=victim_payload,
        fingerprint=fingerprint.compute(photo("coffee")).value,
        embed=False,
    )
    shared_store.put(victim_payload, evil.manifest, {"file": "evil.jpg"})
    producer_side = ListStore()
    victim = aiwatermark.mark(
        photo("astronaut"),
        payload=victim_payload,
        format="PNG",
        signer=world.producer.signer(),
        generator="Producer Gen 2",
        store=producer_side,
    )
    assert victim.data is not None
    (registered,) = producer_side.entries
    shared_store.put(registered.payload, registered.manifest, fingerprint=registered.fingerprint)
    report = aiwatermark.verify(
        share_like_a_platform(victim.data), trust_anchors=world.producer_root, store=shared_store
    )
    assert report.trusted is True and report.provenance is not None
    assert report.provenance.generator == "Producer Gen 2"
    (other,) = report.other_registrations
    assert "NOT trusted" in other and "fingerprint distance" in other
    assert "Evil Gen" not in report.summary()


def test_a_forged_store_index_cannot_attach_credentials(world: World) -> None:
    shared_store = ListStore()
    victim = mark_victim(world, "rocket", key=SECRET)
    assert victim.data is not None
    stranger = upload(photo("chelsea"))
    # An entry whose unsigned index column claims the stranger's picture, but whose signed
    # manifest binds the victim's pixels.
    assert victim.payload is not None
    (registered,) = world.store.by_payload(victim.payload)
    shared_store.put(None, registered.manifest, fingerprint=fingerprint.compute(stranger).value)
    report = aiwatermark.verify(stranger, trust_anchors=world.producer_root, store=shared_store)
    assert report.ai_generated is None and report.trusted is False
    assert report.content_bound is False and report.likeness is None
    assert any("signed fingerprint does not match" in e for e in report.evidence)


def test_mark_draws_a_fresh_id_when_its_random_one_is_taken(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = mark_victim(world).payload
    assert taken is not None
    real_urandom = os.urandom
    draws = [taken, bytes.fromhex("0123456789abcdef")]

    def unlucky(n: int) -> bytes:  # the first content ID drawn is one already registered
        return draws.pop(0) if n == len(taken) and draws else real_urandom(n)

    monkeypatch.setattr(os, "urandom", unlucky)
    result = aiwatermark.mark(photo("cat"), signer=world.producer.signer(), store=world.store)
    assert result.payload == bytes.fromhex("0123456789abcdef")
    assert len(world.store.by_payload(taken)) == 1


def _gradient(seed: int) -> np.ndarray:
    """A smooth studio-backdrop gradient: PDQ quality 0, too flat to identify."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:512, 0:512] / 512
    channels = [rng.uniform(80, 170) + rng.uniform(-50, 50) * (x if c % 2 else y) for c in range(3)]
    return np.dstack(channels).astype(np.uint8)


def test_a_watermark_copied_between_flat_images_carries_no_credentials(world: World) -> None:
    victim = aiwatermark.mark(
        _gradient(1), format="PNG", signer=world.producer.signer(), store=world.store
    )
    assert victim.data is not None and victim.fingerprint is not None
    assert not victim.fingerprint.reliable
    forged = copy_watermark_public(imageio.open(victim.data), _gradient(2))
    report = verify(world, upload(forged))
    assert report.content_id == victim.content_id
    assert report.trusted is False and report.content_bound is False
    assert report.provenance is None and report.consistent is False
    assert any("too flat" in e for e in report.evidence)
