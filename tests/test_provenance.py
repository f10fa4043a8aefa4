"""C2PA Content Credentials: sign and verify real images with a test CA (tests/pki.py)."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from aiwatermark import AiWatermarkError, imageio, keys, provenance
from aiwatermark.errors import (
    KeyFileError,
    OutputExistsError,
    PayloadError,
    SigningError,
    UnsupportedImageError,
)
from pki import ALGS, Identity, TestCA

FORMATS = ["JPEG", "PNG", "WEBP", "TIFF", "GIF", "AVIF"]
UNTRUSTED = "signingCredential.untrusted"


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """A root CA, "Test Root CA" of "Test Newsroom"."""
    return TestCA.create(
        tmp_path_factory.mktemp("test-ca"), organization="Test Newsroom", common_name="Test Root CA"
    )


@pytest.fixture(scope="session")
def identities(test_ca: TestCA) -> dict[str, Identity]:
    """One C2PA-profile signing certificate per algorithm, "Test Signer <alg>"."""
    return {alg: test_ca.issue(f"Test Signer {alg}", alg=alg) for alg in ALGS}


@pytest.fixture(scope="session")
def signer(identities: dict[str, Identity]) -> keys.Signer:
    return identities["es256"].signer()


@pytest.fixture(scope="session")
def small_photo() -> Image.Image:
    with Image.open(Path(__file__).resolve().parent.parent / "fixtures" / "astronaut.jpg") as im:
        small: Image.Image = im.convert("RGB").resize((128, 128))
    return small


@pytest.fixture(scope="session")
def jpeg(small_photo: Image.Image) -> bytes:
    return imageio.encode(small_photo, "JPEG")


@pytest.fixture(scope="session")
def signed_jpeg(jpeg: bytes, signer: keys.Signer) -> provenance.SignedAsset:
    return provenance.sign(
        jpeg,
        format="JPEG",
        signer=signer,
        generator="ImageGen",
        generator_version="2.1",
        soft_binding=b"\x01\x02\x03\x04\x05\x06\x07\x08",
    )


def codes(report: provenance.ProvenanceReport) -> set[str]:
    return {code for code, _ in report.failures}


def pixel_byte_offset(data: bytes) -> int:
    """An offset inside the compressed pixel data (JPEG scan / PNG IDAT), far from headers."""
    if data.startswith(b"\xff\xd8"):
        start = data.rindex(b"\xff\xda")
        return start + (len(data) - start) // 2
    start = data.index(b"IDAT") + 4
    length = int.from_bytes(data[start - 8 : start - 4], "big")
    return start + length // 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_signs_and_verifies(
    fmt: str, small_photo: Image.Image, signer: keys.Signer, test_ca: TestCA
) -> None:
    data = imageio.encode(small_photo, fmt)
    signed = provenance.sign(data, format=fmt, signer=signer, generator="ImageGen")
    with Image.open(io.BytesIO(signed.data)) as reopened:
        reopened.load()
        assert reopened.size == (128, 128)
    report = provenance.read_provenance(signed.data)
    assert report.present and report.state == "Valid" and report.intact
    assert codes(report) == {UNTRUSTED}
    assert report.ai_generated and report.generator == "ImageGen"
    assert report.digital_source_type == provenance.TRAINED_ALGORITHMIC_MEDIA
    assert report.manifest_label == signed.manifest_label and report.source == "embedded"
    trusted = provenance.read_provenance(signed.data, trust_anchors=test_ca.root_path)
    assert trusted.state == "Trusted" and trusted.trusted and trusted.failures == ()


@pytest.mark.parametrize("alg", ["es384", "es512", "ps256", "ed25519"])
def test_every_algorithm_signs_a_trusted_manifest(
    alg: str, jpeg: bytes, test_ca: TestCA, identities: dict[str, Identity]
) -> None:
    signer = keys.Signer.from_files(identities[alg].chain, identities[alg].key, alg=alg)
    signed = provenance.sign(jpeg, format="JPEG", signer=signer)
    report = provenance.read_provenance(signed.data, trust_anchors=test_ca.root_pem)
    assert report.state == "Trusted"
    assert report.signer is not None and report.signer.algorithm == alg
    assert report.signer.common_name == f"Test Signer {alg}"


def test_callback_signer_keeps_the_key_outside(
    jpeg: bytes, test_ca: TestCA, identities: dict[str, Identity]
) -> None:
    private_key = identities["es256"].private_key
    calls: list[int] = []

    def kms_sign(data: bytes) -> bytes:
        calls.append(len(data))
        signature: bytes = private_key.sign(data, ec.ECDSA(hashes.SHA256()))
        return signature

    signer = keys.Signer.from_callback(kms_sign, identities["es256"].chain, "es256")
    signed = provenance.sign(jpeg, format="JPEG", signer=signer)
    assert calls, "the callback was never asked to sign"
    report = provenance.read_provenance(signed.data, trust_anchors=test_ca.root_pem.decode())
    assert report.state == "Trusted"


def test_failing_callback_is_a_signing_error(jpeg: bytes, identities: dict[str, Identity]) -> None:
    def broken(data: bytes) -> bytes:
        raise RuntimeError("HSM offline")

    signer = keys.Signer.from_callback(broken, identities["es256"].chain.read_bytes(), "es256")
    with pytest.raises(SigningError, match="HSM offline"):
        provenance.sign(jpeg, format="JPEG", signer=signer)


def test_report_fields(signed_jpeg: provenance.SignedAsset, signer: keys.Signer) -> None:
    report = provenance.read_provenance(signed_jpeg.data)
    assert report.claim_generator is not None
    assert report.claim_generator.startswith("aiwatermark ")
    assert (report.generator, report.generator_version) == ("ImageGen", "2.1")
    assert report.title == "AI-generated image"
    assert report.actions == ("c2pa.created", provenance.WATERMARK_ACTION)
    assert report.signer is not None
    assert report.signer.organization == "Test Newsroom"
    assert report.signer.issuer == "Test Root CA (Test Newsroom)"
    assert report.signing_time is not None and not report.timestamped
    age = dt.datetime.now(dt.timezone.utc) - report.signing_time
    assert dt.timedelta(0) <= age < dt.timedelta(hours=1)
    assert not report.is_dev_identity
    json.dumps(report.to_dict())
    assert "intact, signer not trusted" in str(report)


def test_soft_binding_points_at_the_watermark(signed_jpeg: provenance.SignedAsset) -> None:
    report = provenance.read_provenance(signed_jpeg.data)
    assert report.soft_bindings == (
        provenance.SoftBinding(provenance.SOFT_BINDING_ALG, bytes(range(1, 9))),
    )
    assert provenance.WATERMARK_ACTION in report.actions
    assert report.to_dict()["soft_bindings"] == [
        {"alg": "io.github.aiwatermark.tiled-ss.1", "value": "0102030405060708"}
    ]


def test_bad_soft_binding_is_a_payload_error(jpeg: bytes, signer: keys.Signer) -> None:
    with pytest.raises(PayloadError):
        provenance.sign(jpeg, format="JPEG", signer=signer, soft_binding=b"")


def test_flipped_pixel_byte_is_invalid(
    signed_jpeg: provenance.SignedAsset, small_photo: Image.Image, signer: keys.Signer
) -> None:
    png = provenance.sign(imageio.encode(small_photo, "PNG"), format="PNG", signer=signer).data
    for data in (signed_jpeg.data, png):
        tampered = bytearray(data)
        tampered[pixel_byte_offset(data)] ^= 0x01
        report = provenance.read_provenance(bytes(tampered))
        assert report.present and report.state == "Invalid" and not report.intact
        assert "assertion.dataHash.mismatch" in codes(report)
        assert "changed after signing" in report.summary()


def test_reencoded_image_has_no_manifest(signed_jpeg: provenance.SignedAsset) -> None:
    for fmt in ("JPEG", "PNG"):
        with Image.open(io.BytesIO(signed_jpeg.data)) as im:
            stripped = imageio.encode(im.convert("RGB"), fmt)
        report = provenance.read_provenance(stripped)
        assert not report.present and report.state is None
        assert str(report) == "No Content Credentials (C2PA manifest) found."


def test_unsigned_photo_has_no_manifest(photo_paths: list[Path]) -> None:
    for path in photo_paths:
        assert not provenance.read_provenance(path).present


def test_garbage_is_an_error_not_a_crash() -> None:
    with pytest.raises(UnsupportedImageError):
        provenance.read_provenance(b"this is not an image at all")


def _jumbf_span(data: bytes, manifest: bytes) -> tuple[int, int]:
    """Where the manifest store sits inside a signed JPEG (its body, after the JUMBF header)."""
    start = data.index(manifest[8:40])
    return start, start + len(manifest) - 40


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.floats(0, 1, exclude_max=True), flip=st.integers(1, 255))
def test_mutated_manifest_gives_invalid_report_or_our_error(
    signed_jpeg: provenance.SignedAsset, position: float, flip: int
) -> None:
    start, end = _jumbf_span(signed_jpeg.data, signed_jpeg.manifest)
    corrupt = bytearray(signed_jpeg.data)
    corrupt[start + int(position * (end - start))] ^= flip
    try:
        report = provenance.read_provenance(bytes(corrupt))
    except AiWatermarkError:
        return
    # A flipped byte in padding leaves the manifest intact; anything else must not verify.
    assert report.state in ("Valid", "Invalid", None)
    if report.state == "Invalid":
        assert report.failures


def test_detached_manifest_garbage_is_an_invalid_report(jpeg: bytes) -> None:
    report = provenance.read_provenance(jpeg, manifest=b"\x00\x00\x00\x10jumbgarbage!")
    assert report.present and report.state == "Invalid" and report.source == "detached"
    assert "aiwatermark.manifestUnreadable" in codes(report)


def test_detached_manifest_from_sign(jpeg: bytes, signer: keys.Signer) -> None:
    detached = provenance.sign(jpeg, format="JPEG", signer=signer, embed=False)
    assert detached.data == jpeg
    report = provenance.read_provenance(jpeg, manifest=detached.manifest)
    assert report.source == "detached" and report.state == "Valid"
    assert report.manifest_label == detached.manifest_label
    # The manifest of an embedded signature, as a manifest store keeps it, also checks out.
    embedded = provenance.sign(jpeg, format="JPEG", signer=signer)
    again = provenance.read_provenance(embedded.data, manifest=embedded.manifest)
    assert again.state == "Valid"


def test_sign_file_embedded_and_sidecar(
    tmp_path: Path, small_photo: Image.Image, signer: keys.Signer
) -> None:
    src = tmp_path / "gen.png"
    imageio.save(small_photo, src)
    original = src.read_bytes()

    out = provenance.sign_file(src, tmp_path / "gen-signed.png", signer=signer)
    assert out == tmp_path / "gen-signed.png"
    assert provenance.read_provenance(out).title == "gen-signed.png"
    with pytest.raises(OutputExistsError):
        provenance.sign_file(src, out, signer=signer)

    sidecar = provenance.sign_file(src, src, signer=signer, sidecar=True)
    assert sidecar == tmp_path / "gen.c2pa" and src.read_bytes() == original
    report = provenance.read_provenance(src)
    assert report.source == "detached" and report.state == "Valid"
    assert provenance.read_provenance(original, manifest=sidecar.read_bytes()).intact
    with pytest.raises(OutputExistsError):
        provenance.sign_file(src, src, signer=signer, sidecar=True)

    copy_sidecar = provenance.sign_file(src, tmp_path / "copy.png", signer=signer, sidecar=True)
    assert (tmp_path / "copy.png").read_bytes() == original
    copied = provenance.read_provenance(tmp_path / "copy.png", manifest=copy_sidecar.read_bytes())
    assert copied.intact


def test_ai_edit_of_a_photo_records_the_parent(
    jpeg: bytes, small_photo: Image.Image, signer: keys.Signer
) -> None:
    edited = imageio.encode(small_photo.rotate(10), "JPEG")
    signed = provenance.sign(
        edited, format="JPEG", signer=signer, parent=jpeg, generator="InpaintModel"
    )
    report = provenance.read_provenance(signed.data)
    assert report.state == "Valid"
    assert report.actions == ("c2pa.opened", "c2pa.edited")
    assert report.digital_source_type == provenance.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    assert report.ai_generated and report.generator == "InpaintModel"
    assert [(i.relationship, i.format) for i in report.ingredients] == [("parentOf", "image/jpeg")]


def test_ai_edit_of_a_signed_parent_keeps_its_credentials(
    signed_jpeg: provenance.SignedAsset, small_photo: Image.Image, signer: keys.Signer
) -> None:
    edited = imageio.encode(small_photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "PNG")
    signed = provenance.sign(edited, format="PNG", signer=signer, parent=signed_jpeg.data)
    report = provenance.read_provenance(signed.data)
    assert report.intact and report.ingredients[0].has_manifest


def test_likeness_assertion_round_trip(jpeg: bytes, signer: keys.Signer) -> None:
    consent = provenance.Likeness(
        subject="Jane Doe",
        rights_holder="Doe Talent LLC",
        consent_ref="https://contracts.example/2026-017",
        scope=["advertising", "social"],
        purpose="spring campaign",
        valid_from=dt.date(2020, 1, 1),
        valid_until=dt.date.today() + dt.timedelta(days=365),
        compensation_ref="INV-42",
    )
    report = provenance.read_provenance(
        provenance.sign(jpeg, format="JPEG", signer=signer, likeness=consent).data
    )
    assert report.likeness == consent and not report.consent_expired
    assert report.likeness.scope == ("advertising", "social")


def test_expired_likeness_consent_is_flagged(jpeg: bytes, signer: keys.Signer) -> None:
    consent = provenance.Likeness(
        subject="Jane Doe",
        rights_holder="Jane Doe",
        consent_ref="c-1",
        valid_until=dt.date(2021, 6, 30),
    )
    report = provenance.read_provenance(
        provenance.sign(jpeg, format="JPEG", signer=signer, likeness=consent).data
    )
    assert report.consent_expired and report.intact
    assert "CONSENT EXPIRED" in report.summary()


def test_likeness_from_json_and_validation(tmp_path: Path) -> None:
    body = {
        "subject": "J",
        "rights_holder": "J",
        "consent_ref": "c",
        "scope": ["ads"],
        "valid_until": "2030-01-01",
    }
    path = tmp_path / "consent.json"
    path.write_text(json.dumps(body))
    assert provenance.Likeness.from_json(path) == provenance.Likeness.from_json(json.dumps(body))
    assert provenance.Likeness.from_json(str(path)).to_dict() == body
    with pytest.raises(SigningError, match="before valid_from"):
        provenance.Likeness(
            "J", "J", "c", valid_from=dt.date(2030, 1, 1), valid_until=dt.date(2029, 1, 1)
        )
    with pytest.raises(SigningError, match="unknown field"):
        provenance.Likeness.from_dict({**body, "age": 30})
    with pytest.raises(SigningError, match="not valid JSON"):
        provenance.Likeness.from_json("{oops")
    with pytest.raises(SigningError, match="cannot read"):
        provenance.Likeness.from_json(tmp_path / "missing.json")


def test_thumbnail_only_when_asked(jpeg: bytes, signer: keys.Signer) -> None:
    plain = provenance.sign(jpeg, format="JPEG", signer=signer)
    with_thumb = provenance.sign(jpeg, format="JPEG", signer=signer, thumbnail=True)
    assert b"c2pa.thumbnail.claim" in with_thumb.manifest
    assert b"c2pa.thumbnail.claim" not in plain.manifest
    assert provenance.read_provenance(with_thumb.data).intact


def test_dev_identity_is_never_trusted(
    jpeg: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIWATERMARK_HOME", str(tmp_path))
    signer = keys.dev_signer()
    identity = keys.init_dev_identity()
    signed = provenance.sign(jpeg, format="JPEG", signer=signer)
    for anchors in (None, identity.root_certificate):
        report = provenance.read_provenance(signed.data, trust_anchors=anchors)
        assert report.is_dev_identity and report.state == "Valid" and not report.trusted
        assert "aiwatermark.devIdentity" in codes(report)
        assert "development certificate — not trusted" in report.summary()


def test_trust_anchor_errors(signed_jpeg: provenance.SignedAsset, tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="not PEM"):
        provenance.read_provenance(signed_jpeg.data, trust_anchors=b"nope")
    with pytest.raises(KeyFileError, match="cannot read"):
        provenance.read_provenance(signed_jpeg.data, trust_anchors=tmp_path / "none.pem")


def test_sign_input_errors(jpeg: bytes, signer: keys.Signer) -> None:
    with pytest.raises(UnsupportedImageError, match="bytes are image/jpeg"):
        provenance.sign(jpeg, format="PNG", signer=signer)
    with pytest.raises(UnsupportedImageError):
        provenance.sign(jpeg, format="HEIC", signer=signer)
    with pytest.raises(SigningError, match=r"keys\.Signer"):
        provenance.sign(jpeg, format="JPEG", signer="me")  # type: ignore[arg-type]
    with pytest.raises(UnsupportedImageError, match="parent"):
        provenance.sign(jpeg, format="JPEG", signer=signer, parent=b"not an image")
