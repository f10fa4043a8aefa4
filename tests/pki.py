"""One test PKI for every test: a root CA that issues C2PA-profile signing certificates.

Example:
    >>> import tempfile, pathlib
    >>> from pki import TestCA
    >>> ca = TestCA.create(pathlib.Path(tempfile.mkdtemp()), organization="Example")
    >>> identity = ca.issue("Example Signer")
    >>> identity.signer().is_dev_identity
    False
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from aiwatermark import keys
from tsa import TSACredential

ALGS: dict[str, Callable[[], Any]] = {
    "es256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "es384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "es512": lambda: ec.generate_private_key(ec.SECP521R1()),
    "ps256": lambda: rsa.generate_private_key(65537, 2048),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
}
"""Every signature algorithm C2PA allows, with a key generator for it."""

_PEM = serialization.Encoding.PEM


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )


@dataclass(frozen=True)
class Identity:
    """A signing certificate chain and its private key, written as PEM files (key 0600)."""

    chain: Path
    key: Path
    private_key: Any
    alg: str = "es256"

    def signer(self, tsa_url: str | None = None) -> keys.Signer:
        return keys.Signer.from_files(self.chain, self.key, alg=self.alg, tsa_url=tsa_url)


@dataclass(frozen=True)
class TestCA:
    """A self-made root CA: trusted only where a test passes ``root_path`` as an anchor."""

    __test__ = False  # not a pytest test class

    folder: Path
    organization: str
    root_key: Any
    root_cert: x509.Certificate

    @property
    def root_pem(self) -> bytes:
        return self.root_cert.public_bytes(_PEM)

    @property
    def root_path(self) -> Path:
        return self.folder / "root.pem"

    @classmethod
    def create(
        cls, folder: Path, *, organization: str = "Test Newsroom", common_name: str = "Test Root CA"
    ) -> TestCA:
        """A root valid from yesterday for 30 days, written to ``folder/root.pem``."""
        folder.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.timezone.utc)
        root_key = ec.generate_private_key(ec.SECP256R1())
        name = _name(common_name, organization)
        root = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(keys._key_usage(issues_certificates=True), critical=True)
            .sign(root_key, hashes.SHA256())
        )
        ca = cls(folder, organization, root_key, root)
        ca.root_path.write_bytes(ca.root_pem)
        return ca

    def issue(
        self,
        common_name: str = "Test Signer",
        *,
        alg: str = "es256",
        expired: bool = False,
        ca: bool = False,
        eku: bool = True,
        include_root: bool = True,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> Identity:
        """A signing certificate for ``common_name``, written as ``<name>-chain.pem``/``-key.pem``.

        The defaults give the C2PA certificate profile; ``expired``, ``ca`` and ``eku=False``
        break it one way each, for tests of the profile check. ``not_before``/``not_after``
        set the validity exactly (e.g. a certificate that expires during a test).
        """
        now = dt.datetime.now(dt.timezone.utc)
        key = ALGS[alg]()
        start = now - dt.timedelta(days=10 if expired else 1)
        end = now - dt.timedelta(days=1) if expired else now + dt.timedelta(days=30)
        builder = self._builder(common_name, key, not_before or start, not_after or end, ca)
        if eku:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
            )
        leaf = builder.sign(self.root_key, hashes.SHA256())
        stem = common_name.lower().replace(" ", "-")
        chain = self.folder / f"{stem}-{alg}-chain.pem"
        chain.write_bytes(leaf.public_bytes(_PEM) + (self.root_pem if include_root else b""))
        key_path = self.folder / f"{stem}-{alg}-key.pem"
        key_path.touch(mode=0o600)
        key_path.chmod(0o600)
        key_path.write_bytes(
            key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        return Identity(chain, key_path, key, alg)

    def issue_tsa(
        self,
        common_name: str = "Test TSA",
        *,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        time_stamping: bool = True,
    ) -> TSACredential:
        """A time-stamping certificate (RFC 3161 §2.3: the only EKU is id-kp-timeStamping,
        critical) and its key, valid from yesterday for 30 days unless told otherwise.

        ``time_stamping=False`` gives it emailProtection instead, for the test that a
        certificate not meant for time-stamping is refused.
        """
        usage = ExtendedKeyUsageOID.TIME_STAMPING
        if not time_stamping:
            usage = ExtendedKeyUsageOID.EMAIL_PROTECTION
        now = dt.datetime.now(dt.timezone.utc)
        key = ec.generate_private_key(ec.SECP256R1())
        start = not_before or now - dt.timedelta(days=1)
        cert = (
            self._builder(common_name, key, start, not_after or now + dt.timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(self.root_key, hashes.SHA256())
        )
        return TSACredential((cert, self.root_cert), key)

    def _builder(
        self, common_name: str, key: Any, start: dt.datetime, end: dt.datetime, ca: bool = False
    ) -> x509.CertificateBuilder:
        """What every certificate this CA issues has in common."""
        return (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, self.organization))
            .issuer_name(self.root_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(keys._key_usage(issues_certificates=ca), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.root_key.public_key()),
                critical=False,
            )
        )
