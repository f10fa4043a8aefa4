"""RFC 3161 timestamps end to end: real c2pa signing against the local TSA in tests/tsa.py.

What c2pa-python 0.38 (c2pa-rs 0.91) does, as these tests pin it down: it asks the TSA at
signing time and fails the signature if it cannot; when reading, it checks the token against
the signature (timeStamp.validated) and the TSA's chain against the same trust anchors as the
signer (timeStamp.trusted / timeStamp.untrusted). Only a trusted timestamp moves the
certificate validity check from now to the timestamp's time.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from aiwatermark import SigningError, imageio, keys, provenance
from aiwatermark.cli import main
from aiwatermark.provenance import _codes
from aiwatermark.provenance._sign import _TST_INFO
from pki import Identity, TestCA
from tsa import TimeStampAuthority, rejection

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
# A time the local clock never shows: a report carrying it can only have got it from the TSA.
TSA_TIME = NOW - dt.timedelta(minutes=7)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA.create(tmp_path_factory.mktemp("ca"), organization="Test Newsroom")


@pytest.fixture(scope="module")
def tsa(ca: TestCA) -> Iterator[TimeStampAuthority]:
    with TimeStampAuthority(ca.issue_tsa(), clock=lambda: TSA_TIME) as authority:
        yield authority


@pytest.fixture(scope="module")
def rogue_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TimeStampAuthority]:
    """A well-formed TSA whose root nobody passes as a trust anchor."""
    rogue = TestCA.create(tmp_path_factory.mktemp("rogue"), organization="Rogue Time")
    with TimeStampAuthority(rogue.issue_tsa("Rogue TSA")) as authority:
        yield authority


@pytest.fixture(scope="module")
def identity(ca: TestCA) -> Identity:
    return ca.issue("Signer")


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    return imageio.encode(Image.new("RGB", (64, 64), "teal"), "JPEG")


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa"


def test_signer_tsa_url_gives_a_trusted_timestamp(
    ca: TestCA, tsa: TimeStampAuthority, identity: Identity, jpeg: bytes
) -> None:
    before = tsa.requests
    signed = provenance.sign(jpeg, format="JPEG", signer=identity.signer(tsa.url))
    assert tsa.requests == before + 1
    assert _TST_INFO in signed.manifest

    report = provenance.read_provenance(signed.data, trust_anchors=ca.root_path)
    assert report.state == "Trusted" and report.failures == ()
    assert report.timestamped and report.timestamp_trusted
    assert report.signing_time == TSA_TIME
    assert (
        report.timestamp_authority
        == "Test TSA (Test Newsroom), issued by Test Root CA (Test Newsroom)"
    )
    data = report.to_dict()
    assert data["timestamped"] is True and data["timestamp_trusted"] is True
    assert data["signing_time"] == TSA_TIME.isoformat()
    assert "RFC 3161 timestamp by Test TSA" in report.summary()
    assert "a trusted timestamp authority" in report.summary()


def test_without_tsa_the_time_is_the_signers_claim(
    ca: TestCA, identity: Identity, jpeg: bytes
) -> None:
    signed = provenance.sign(jpeg, format="JPEG", signer=identity.signer())
    assert _TST_INFO not in signed.manifest
    report = provenance.read_provenance(signed.data, trust_anchors=ca.root_path)
    assert report.state == "Trusted" and not report.timestamped
    assert not report.timestamp_trusted and report.timestamp_authority is None
    assert "claimed by the signer, no timestamp" in report.summary()


def test_callback_signer_and_sidecar_are_timestamped(
    ca: TestCA, tsa: TimeStampAuthority, identity: Identity, jpeg: bytes
) -> None:
    def sign(data: bytes) -> bytes:
        signature: bytes = identity.private_key.sign(data, ec.ECDSA(hashes.SHA256()))
        return signature

    signer = keys.Signer.from_callback(sign, identity.chain, "es256", tsa_url=tsa.url)
    signed = provenance.sign(jpeg, format="JPEG", signer=signer, embed=False)
    report = provenance.read_provenance(jpeg, manifest=signed.manifest, trust_anchors=ca.root_path)
    assert report.source == "detached" and report.state == "Trusted"
    assert report.timestamped and report.timestamp_trusted and report.signing_time == TSA_TIME


def test_tsa_is_trusted_only_through_the_trust_anchors(
    tsa: TimeStampAuthority, identity: Identity, jpeg: bytes
) -> None:
    signed = provenance.sign(jpeg, format="JPEG", signer=identity.signer(tsa.url))
    report = provenance.read_provenance(signed.data)
    assert report.state == "Valid" and report.timestamped and not report.timestamp_trusted
    assert "a timestamp authority that is NOT trusted" in report.summary()


def test_untrusted_tsa_is_reported_as_such(
    ca: TestCA, rogue_tsa: TimeStampAuthority, identity: Identity, jpeg: bytes
) -> None:
    signed = provenance.sign(jpeg, format="JPEG", signer=identity.signer(rogue_tsa.url))
    report = provenance.read_provenance(signed.data, trust_anchors=ca.root_path)
    # The signer is trusted and its certificate valid now, so the manifest is; the rogue
    # TSA's time is shown but flagged, and it vouches for nothing (see the expiry test).
    assert report.state == "Trusted"
    assert report.timestamped and not report.timestamp_trusted
    assert report.timestamp_authority is not None and "Rogue TSA" in report.timestamp_authority
    assert "NOT trusted" in report.summary()


def test_trusted_timestamp_keeps_manifest_valid_after_the_certificate_expired(
    ca: TestCA,
    tsa: TimeStampAuthority,
    rogue_tsa: TimeStampAuthority,
    jpeg: bytes,
) -> None:
    # A certificate that really expires during the test: c2pa checks validity against the
    # system clock, which no setting moves.
    # The TSA's own certificate expires with it: c2pa checks that one at the timestamp's
    # time too, so the manifest outlives both.
    end = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=3)
    brief = ca.issue("Brief Signer", not_after=end)
    with TimeStampAuthority(ca.issue_tsa(not_after=end)) as live_tsa:  # stamps "now"
        stamped = provenance.sign(jpeg, format="JPEG", signer=brief.signer(live_tsa.url))
    rogue = provenance.sign(jpeg, format="JPEG", signer=brief.signer(rogue_tsa.url))
    plain = provenance.sign(jpeg, format="JPEG", signer=brief.signer())
    before = provenance.read_provenance(plain.data, trust_anchors=ca.root_path)
    assert before.state == "Trusted"

    not_after = x509_not_after(brief)
    time.sleep(max(0.0, (not_after - dt.datetime.now(dt.timezone.utc)).total_seconds()) + 1.1)

    kept = provenance.read_provenance(stamped.data, trust_anchors=ca.root_path)
    assert kept.state == "Trusted" and kept.failures == ()
    assert kept.timestamped and kept.timestamp_trusted
    assert kept.signing_time is not None and kept.signing_time <= not_after
    # Only a reader who trusts the TSA can lean on it.
    unanchored = provenance.read_provenance(stamped.data)
    assert unanchored.state == "Invalid" and not unanchored.timestamp_trusted
    assert _codes.EXPIRED in {code for code, _ in unanchored.failures}

    lost = provenance.read_provenance(plain.data, trust_anchors=ca.root_path)
    assert lost.state == "Invalid" and not lost.timestamped
    assert (_codes.EXPIRED, _codes.explain(_codes.EXPIRED)) in lost.failures
    assert "no timestamp from a trusted timestamp authority" in lost.summary()

    # An untrusted TSA's word does not stretch the certificate's life.
    forged = provenance.read_provenance(rogue.data, trust_anchors=ca.root_path)
    assert forged.state == "Invalid" and forged.timestamped and not forged.timestamp_trusted
    assert _codes.EXPIRED in {code for code, _ in forged.failures}


def x509_not_after(identity: Identity) -> dt.datetime:
    from cryptography import x509

    return x509.load_pem_x509_certificates(identity.chain.read_bytes())[0].not_valid_after_utc


@pytest.mark.parametrize(
    ("validity", "stamped"),
    [
        # The signer's certificate starts an hour ago; the TSA says it signed 12 hours ago.
        ({"not_before": NOW - dt.timedelta(hours=1)}, NOW - dt.timedelta(hours=12)),
        # The certificate ends tomorrow; the TSA says it signed in two days.
        ({"not_after": NOW + dt.timedelta(days=1)}, NOW + dt.timedelta(days=2)),
    ],
    ids=["before-not-before", "after-not-after"],
)
def test_timestamp_outside_the_certificate_validity_is_invalid(
    ca: TestCA, jpeg: bytes, validity: dict[str, dt.datetime], stamped: dt.datetime
) -> None:
    signer = ca.issue("Window Signer", **validity).signer
    with TimeStampAuthority(ca.issue_tsa(), clock=lambda: stamped) as skewed:
        signed = provenance.sign(jpeg, format="JPEG", signer=signer(skewed.url))
    report = provenance.read_provenance(signed.data, trust_anchors=ca.root_path)
    assert report.state == "Invalid"
    assert report.timestamped and report.timestamp_trusted and report.signing_time == stamped
    assert (_codes.EXPIRED, _codes.EXPIRED_AT_TIMESTAMP) in report.failures


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"garbage", "did not answer with a valid RFC 3161 time-stamp response"),
        (rejection("policy says no"), "did not answer with a valid RFC 3161 time-stamp response"),
        (None, "cannot be reached"),
    ],
    ids=["garbage", "rejection", "unreachable"],
)
def test_tsa_failure_is_a_signing_error_naming_the_url(
    ca: TestCA,
    identity: Identity,
    jpeg: bytes,
    tmp_path: Path,
    answer: bytes | None,
    expected: str,
) -> None:
    src = tmp_path / "in.jpg"
    src.write_bytes(jpeg)
    with TimeStampAuthority(ca.issue_tsa(), answer=answer) as bad:
        url = bad.url if answer is not None else _closed_port_url()
        with pytest.raises(SigningError) as caught:
            provenance.sign_file(src, tmp_path / "out.jpg", signer=identity.signer(url))
    assert url in str(caught.value) and expected in str(caught.value)
    assert not (tmp_path / "out.jpg").exists()


def test_tsa_whose_certificate_expired_is_refused_at_signing(
    ca: TestCA, identity: Identity, jpeg: bytes
) -> None:
    credential = ca.issue_tsa(not_after=NOW + dt.timedelta(hours=1))
    stale = TimeStampAuthority(credential, clock=lambda: NOW + dt.timedelta(days=2))
    with stale, pytest.raises(SigningError, match="expired certificate") as caught:
        provenance.sign(jpeg, format="JPEG", signer=identity.signer(stale.url))
    assert stale.url in str(caught.value)


def test_tsa_certificate_not_for_time_stamping_is_refused_at_signing(
    ca: TestCA, identity: Identity, jpeg: bytes
) -> None:
    impostor = TimeStampAuthority(ca.issue_tsa(time_stamping=False))
    with impostor, pytest.raises(SigningError, match="missing mandatory EKU") as caught:
        provenance.sign(jpeg, format="JPEG", signer=identity.signer(impostor.url))
    assert impostor.url in str(caught.value) and "id-kp-timeStamping" in str(caught.value)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIWATERMARK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AIWATERMARK_KEY", raising=False)
    return tmp_path


def test_cli_mark_tsa_url_then_verify(
    home: Path,
    ca: TestCA,
    tsa: TimeStampAuthority,
    identity: Identity,
    photo_paths: list[Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = home / "marked.jpg"
    signing = ["--cert", str(identity.chain), "--private-key", str(identity.key)]
    assert main(["mark", str(photo_paths[0]), "-o", str(out), *signing, "--tsa-url", tsa.url]) == 0
    capsys.readouterr()

    assert main(["verify", str(out), "--trust-anchors", str(ca.root_path)]) == 0
    text = capsys.readouterr().out
    assert f"timestamped {TSA_TIME.isoformat()} by Test TSA" in text and "(TSA trusted)" in text

    assert main(["verify", str(out), "--json", "--trust-anchors", str(ca.root_path)]) == 0
    layer = json.loads(capsys.readouterr().out)["layers"]["provenance"]
    assert layer["timestamped"] is True and layer["timestamp_trusted"] is True
    assert layer["signing_time"] == TSA_TIME.isoformat()
    assert layer["timestamp_authority"].startswith("Test TSA")


def test_cli_mark_with_dev_identity_and_a_dead_tsa_fails_loudly(
    home: Path, photo_paths: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = home / "marked.jpg"
    url = _closed_port_url()
    assert main(["mark", str(photo_paths[0]), "-o", str(out), "--tsa-url", url]) == 3
    err = capsys.readouterr().err
    assert f"the timestamp authority {url} cannot be reached" in err
    assert not out.exists()


def test_cli_tsa_url_needs_signing(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mark", "a.jpg", "-o", "b.jpg", "--no-c2pa", "--tsa-url", "http://x/"]) == 2
    assert "--no-c2pa" in capsys.readouterr().err


def test_dev_signer_takes_a_tsa_url(home: Path) -> None:
    assert keys.dev_signer(tsa_url="http://127.0.0.1:9/tsa").tsa_url == "http://127.0.0.1:9/tsa"
    with pytest.raises(SigningError, match="must start with http"):
        keys.dev_signer(tsa_url="127.0.0.1:9/tsa")
