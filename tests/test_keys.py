"""Signing identities: files, callbacks, the certificate profile check and the dev identity."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from aiwatermark import keys
from aiwatermark.errors import KeyFileError, SigningError
from pki import TestCA


def _issue(
    folder: Path, *, ca: bool = False, expired: bool = False, eku: bool = True
) -> tuple[Path, Path, ec.EllipticCurvePrivateKey]:
    """A signing certificate from a throwaway root: a leaf-only chain and its key (0600)."""
    root = TestCA.create(folder, organization="Key Tests", common_name="Key Test Root")
    identity = root.issue("Key Test Signer", ca=ca, expired=expired, eku=eku, include_root=False)
    return identity.chain, identity.key, identity.private_key


def test_from_files_reads_a_valid_identity(tmp_path: Path) -> None:
    chain, key_path, _ = _issue(tmp_path)
    signer = keys.Signer.from_files(chain, key_path)
    assert signer.alg == "es256" and signer.tsa_url is None
    assert signer.subject == "O=Key Tests,CN=Key Test Signer"
    assert not signer.is_dev_identity
    assert signer.cert_chain_pem.startswith(b"-----BEGIN CERTIFICATE-----")


def test_repr_never_shows_key_material(tmp_path: Path) -> None:
    chain, key_path, _ = _issue(tmp_path)
    signer = keys.Signer.from_files(chain, key_path, tsa_url="https://tsa.example/")
    text = repr(signer)
    assert "PRIVATE" not in text and "key=private key" in text and "tsa.example" in text


def test_a_signer_pickles_for_worker_processes_and_still_signs(tmp_path: Path) -> None:
    import pickle

    import aiwatermark

    chain, key_path, _ = _issue(tmp_path)
    signer = keys.Signer.from_files(chain, key_path, tsa_url="https://tsa.example/")
    copy = pickle.loads(pickle.dumps(signer))
    assert repr(copy) == repr(signer) and copy.cert_chain_pem == signer.cert_chain_pem
    copy = pickle.loads(pickle.dumps(keys.Signer.from_files(chain, key_path)))
    result = aiwatermark.mark("fixtures/coffee.png", signer=copy, store=False)
    assert "c2pa" in result.layers


def test_world_readable_key_is_refused(tmp_path: Path) -> None:
    chain, key_path, _ = _issue(tmp_path)
    key_path.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        keys.Signer.from_files(chain, key_path)
    key_path.chmod(0o640)  # group-readable is allowed (e.g. an ssl-cert group)
    keys.Signer.from_files(chain, key_path)


def test_file_problems_are_key_file_errors(tmp_path: Path) -> None:
    chain, key_path, _ = _issue(tmp_path)
    with pytest.raises(KeyFileError, match="no such file"):
        keys.Signer.from_files(tmp_path / "missing.pem", key_path)
    other = tmp_path / "other"
    other.mkdir()
    _, other_key, _ = _issue(other)
    with pytest.raises(KeyFileError, match="does not belong"):
        keys.Signer.from_files(chain, other_key)
    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    junk.chmod(0o600)
    with pytest.raises(KeyFileError, match="not PEM"):
        keys.Signer.from_files(junk, key_path)
    with pytest.raises(KeyFileError, match="not a PEM private key"):
        keys.Signer.from_files(chain, junk)


def test_encrypted_key_is_refused(tmp_path: Path) -> None:
    chain, key_path, key = _issue(tmp_path)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(KeyFileError, match="encrypted"):
        keys.Signer.from_files(chain, key_path)


def test_algorithm_checks(tmp_path: Path) -> None:
    chain, key_path, _ = _issue(tmp_path)
    with pytest.raises(SigningError, match="unknown signing algorithm"):
        keys.Signer.from_files(chain, key_path, alg="rs256")
    with pytest.raises(SigningError, match="does not fit"):
        keys.Signer.from_files(chain, key_path, alg="es384")
    assert keys.Signer.from_files(chain, key_path, alg="ES256").alg == "es256"
    with pytest.raises(SigningError, match="http"):
        keys.Signer.from_files(chain, key_path, tsa_url="tsa.example")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ca": True}, "CA certificate"),
        ({"expired": True}, "expired"),
        ({"eku": False}, "extended key usage"),
    ],
)
def test_certificate_profile_is_checked(
    tmp_path: Path, kwargs: dict[str, bool], message: str
) -> None:
    chain, key_path, _ = _issue(tmp_path, **kwargs)
    with pytest.raises(SigningError, match=message):
        keys.Signer.from_files(chain, key_path)


def test_from_pem_and_from_callback(tmp_path: Path) -> None:
    chain, key_path, key = _issue(tmp_path)
    from_pem = keys.Signer.from_pem(chain.read_text(), key_path.read_bytes())
    assert from_pem.subject.endswith("CN=Key Test Signer")
    signer = keys.Signer.from_callback(
        lambda data: key.sign(data, ec.ECDSA(hashes.SHA256())), chain, "es256"
    )
    assert "key=callback" in repr(signer)
    with pytest.raises(SigningError, match="sign_fn"):
        keys.Signer.from_callback("not callable", chain, "es256")  # type: ignore[arg-type]


def test_init_dev_identity(tmp_path: Path) -> None:
    identity = keys.init_dev_identity(tmp_path / "dev")
    assert identity.created
    assert identity.private_key.stat().st_mode & 0o777 == 0o600
    chain = x509.load_pem_x509_certificates(identity.cert_chain.read_bytes())
    leaf = chain[0]
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert (
        ExtendedKeyUsageOID.EMAIL_PROTECTION
        in leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    organization = leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert organization == keys.DEV_ORGANIZATION
    assert keys.is_dev_certificate(leaf)
    assert keys.is_dev_certificate(identity.cert_chain.read_text())
    assert not list(tmp_path.glob("dev/*root*key*")), "the root CA key must not be kept"

    first = identity.cert_chain.read_bytes()
    again = keys.init_dev_identity(tmp_path / "dev")
    assert not again.created and again.cert_chain.read_bytes() == first
    renewed = keys.init_dev_identity(tmp_path / "dev", force=True)
    assert renewed.created and renewed.cert_chain.read_bytes() != first
    assert sorted(renewed.to_dict()) == [
        "cert_chain",
        "created",
        "directory",
        "private_key",
        "root_certificate",
    ]


def test_dev_signer_uses_aiwatermark_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIWATERMARK_HOME", str(tmp_path))
    signer = keys.dev_signer()
    notice = capsys.readouterr().err
    assert notice.count("\n") == 1 and "development signing identity" in notice
    assert (tmp_path / "dev-identity" / "dev-key.pem").is_file()
    assert signer.is_dev_identity
    keys.dev_signer()
    assert capsys.readouterr().err == ""


def test_is_dev_certificate_rejects_others(tmp_path: Path) -> None:
    chain, _, _ = _issue(tmp_path)
    assert not keys.is_dev_certificate(chain.read_bytes())
    assert not keys.is_dev_certificate("garbage")


def _first_use(folder: str) -> bytes:
    from aiwatermark import keys as worker_keys

    return worker_keys.dev_signer(folder).cert_chain_pem


def test_processes_starting_at_once_share_one_development_identity(tmp_path: Path) -> None:
    import multiprocessing

    folder = str(tmp_path / "identity")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        chains = pool.map(_first_use, [folder] * 8)
    assert len(set(chains)) == 1  # one identity, its certificate matching its key
    assert keys.dev_signer(folder).cert_chain_pem == chains[0]
