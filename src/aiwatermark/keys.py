"""Signing identities for C2PA Content Credentials: certificate chain + private key (or a KMS).

A :class:`Signer` pairs an X.509 certificate chain (leaf first, PEM) with a way to sign:
a private-key file (:meth:`Signer.from_files`), PEM text from a secret store
(:meth:`Signer.from_pem`) or a callback that asks a KMS/HSM (:meth:`Signer.from_callback`),
so the key never has to leave the hardware. Algorithms: ``es256``, ``es384``, ``es512``
(ECDSA on P-256/P-384/P-521), ``ps256``, ``ps384``, ``ps512`` (RSA-PSS) and ``ed25519``.

The certificate is checked up front against the C2PA certificate profile (not a CA, key usage
``digitalSignature``, an extended key usage, an authority key identifier, in its validity
period), so a bad certificate fails here with a message instead of deep inside the signer.

Private-key files must not be readable by other users: a world-readable key raises
:class:`~aiwatermark.KeyFileError` (``chmod 600 key.pem``). Key material is never logged and
never appears in a ``repr``.

An RFC 3161 timestamp authority (``tsa_url``) is off by default; with it, signing contacts
that URL (the only network access aiwatermark makes), and the manifest stays verifiable after
the certificate expires for readers who trust that authority. A TSA that cannot be reached or
answers anything but a valid timestamp makes signing fail with
:class:`~aiwatermark.SigningError`: nothing is signed without the timestamp asked for.

For trying things out, :func:`init_dev_identity` makes a local development CA and signing
certificate (Organization ``aiwatermark development (not trusted)``) and :func:`dev_signer`
uses it. Reports always flag it (:func:`is_dev_certificate`) and never call it trusted.

Example:
    >>> import os, tempfile
    >>> from aiwatermark import keys
    >>> os.environ["AIWATERMARK_HOME"] = tempfile.mkdtemp()
    >>> signer = keys.dev_signer()  # doctest: +SKIP
    >>> signer.is_dev_identity  # doctest: +SKIP
    True
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import c2pa
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ._home import HOME_ENV
from .errors import KeyFileError, SigningError

PathLike = Union[str, "os.PathLike[str]"]

ALGORITHMS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")
"""Signing algorithms C2PA allows, by the names :class:`Signer` accepts."""

DEV_ORGANIZATION = "aiwatermark development (not trusted)"
"""Organization (O) of the development CA and signing certificate."""

_CURVES = {"es256": "secp256r1", "es384": "secp384r1", "es512": "secp521r1"}

_DEV_FILES = {
    "root_certificate": "dev-root-ca.pem",
    "cert_chain": "dev-chain.pem",
    "private_key": "dev-key.pem",
}

SignFunction = Callable[[bytes], bytes]
"""A callback that signs the bytes it is given and returns the signature."""


def _home() -> Path:
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("aiwatermark"))


def _check_alg(alg: str) -> str:
    name = str(alg).lower().replace("-", "")
    if name not in ALGORITHMS:
        raise SigningError(
            f"unknown signing algorithm {alg!r}; choose one of {', '.join(ALGORITHMS)}"
        )
    return name


def _check_tsa(tsa_url: str | None) -> str | None:
    if tsa_url is None:
        return None
    if not str(tsa_url).startswith(("http://", "https://")):
        raise SigningError(
            f"timestamp authority URL {tsa_url!r} must start with http:// or https://"
        )
    return str(tsa_url)


def _read_file(path: PathLike, what: str) -> bytes:
    try:
        return Path(os.fspath(path)).read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"{what} {os.fspath(path)!r}: no such file") from None
    except OSError as exc:
        raise KeyFileError(f"{what} {os.fspath(path)!r}: cannot read it ({exc.strerror})") from None


def _check_private(path: PathLike) -> None:
    if os.name == "nt":  # POSIX mode bits mean nothing on Windows; ACLs govern access there.
        return
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise KeyFileError(
            f"private key {os.fspath(path)!r}: cannot read it ({exc.strerror})"
        ) from None
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise KeyFileError(
            f"private key {os.fspath(path)!r} is readable by every user on this machine "
            f"(mode {stat.S_IMODE(mode):o}); restrict it with: chmod 600 {os.fspath(path)}"
        )


def _load_chain(pem: bytes, name: str) -> list[x509.Certificate]:
    try:
        chain = x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise KeyFileError(
            f"certificate chain {name}: not PEM certificates (expected '-----BEGIN "
            "CERTIFICATE-----' blocks, signing certificate first)"
        ) from None
    return chain


def _check_profile(cert: x509.Certificate, name: str) -> None:
    """Reject what c2pa-rs would reject with a bare "the certificate is invalid"."""
    problem = None
    now = dt.datetime.now(dt.timezone.utc)
    extensions = {ext.oid: ext.value for ext in cert.extensions}
    constraints = extensions.get(x509.BasicConstraints.oid)
    usage = extensions.get(x509.KeyUsage.oid)
    if cert.not_valid_after_utc < now:
        problem = f"expired on {cert.not_valid_after_utc:%Y-%m-%d}"
    elif cert.not_valid_before_utc > now:
        problem = f"not valid before {cert.not_valid_before_utc:%Y-%m-%d}"
    elif cert.issuer == cert.subject:
        problem = "is self-signed; C2PA needs a certificate issued by a CA"
    elif isinstance(constraints, x509.BasicConstraints) and constraints.ca:
        problem = "is a CA certificate; sign with an end-entity (CA:false) certificate"
    elif not (isinstance(usage, x509.KeyUsage) and usage.digital_signature):
        problem = "lacks key usage digitalSignature"
    elif x509.ExtendedKeyUsage.oid not in extensions:
        problem = "lacks an extended key usage (e.g. emailProtection or documentSigning)"
    elif x509.AuthorityKeyIdentifier.oid not in extensions:
        problem = "lacks an authority key identifier extension"
    if problem:
        raise SigningError(f"signing certificate in {name} {problem}")


def _key_matches_alg(public_key: Any, alg: str) -> bool:
    if alg in _CURVES:
        return isinstance(public_key, ec.EllipticCurvePublicKey) and (
            public_key.curve.name == _CURVES[alg]
        )
    if alg.startswith("ps"):
        return isinstance(public_key, rsa.RSAPublicKey)
    return isinstance(public_key, ed25519.Ed25519PublicKey)


def _spki(public_key: Any) -> bytes:
    data: bytes = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data


def _name_part(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def is_dev_certificate(cert: x509.Certificate | bytes | str) -> bool:
    """True when ``cert`` (a certificate, or PEM text) is an aiwatermark development one.

    Example:
        >>> from aiwatermark import keys
        >>> keys.is_dev_certificate(b"not a certificate")
        False
    """
    if not isinstance(cert, x509.Certificate):
        data = cert.encode() if isinstance(cert, str) else bytes(cert)
        try:
            cert = x509.load_pem_x509_certificates(data)[0]
        except (ValueError, IndexError):
            return False
    return DEV_ORGANIZATION in (
        _name_part(cert.subject, NameOID.ORGANIZATION_NAME),
        _name_part(cert.issuer, NameOID.ORGANIZATION_NAME),
    )


class Signer:
    """A C2PA signing identity: a certificate chain plus a private key or a signing callback.

    Build one with :meth:`from_files`, :meth:`from_pem` or :meth:`from_callback`; it is
    immutable and safe to share between threads.

    Example:
        >>> from aiwatermark import keys
        >>> signer = keys.Signer.from_files("chain.pem", "key.pem")  # doctest: +SKIP
        >>> signer.alg, signer.subject  # doctest: +SKIP
        ('es256', 'CN=Newsroom Signer, O=Example News')
    """

    __slots__ = ("_chain_pem", "_key_pem", "_sign_fn", "alg", "certificate", "tsa_url")

    alg: str
    """The signing algorithm (one of :data:`ALGORITHMS`)."""
    certificate: x509.Certificate
    """The signing (leaf) certificate."""
    tsa_url: str | None
    """RFC 3161 timestamp authority URL, or None (no timestamp)."""

    def __init__(
        self,
        chain_pem: bytes,
        alg: str,
        tsa_url: str | None,
        *,
        key_pem: bytes | None = None,
        sign_fn: SignFunction | None = None,
        name: str = "certificate chain",
    ) -> None:
        # Private: use the from_* constructors, which read and check the inputs.
        self.alg = _check_alg(alg)
        self.tsa_url = _check_tsa(tsa_url)
        chain = _load_chain(chain_pem, name)
        self.certificate = chain[0]
        _check_profile(self.certificate, name)
        try:
            public_key = self.certificate.public_key()
        except (ValueError, UnsupportedAlgorithm):
            raise KeyFileError(f"{name}: the certificate's public key cannot be read") from None
        if not _key_matches_alg(public_key, self.alg):
            raise SigningError(
                f"algorithm {self.alg} does not fit the {type(public_key).__name__.strip('_')} "
                f"in {name}; ES256/384/512 need a P-256/P-384/P-521 key, PS* an RSA key, "
                "Ed25519 an Ed25519 key"
            )
        self._chain_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
        self._key_pem = key_pem
        self._sign_fn = sign_fn

    @classmethod
    def from_pem(
        cls,
        cert_chain: bytes | str,
        private_key: bytes | str,
        alg: str = "es256",
        tsa_url: str | None = None,
    ) -> Signer:
        """A signer from PEM text held in memory (e.g. fetched from a secret store).

        Example:
            >>> import os
            >>> from aiwatermark import keys
            >>> signer = keys.Signer.from_pem(os.environ["C2PA_CHAIN"],
            ...                               os.environ["C2PA_KEY"])  # doctest: +SKIP
        """
        chain = cert_chain.encode() if isinstance(cert_chain, str) else bytes(cert_chain)
        key = private_key.encode() if isinstance(private_key, str) else bytes(private_key)
        return cls._with_key(chain, key, alg, tsa_url, "certificate chain", "private key")

    @classmethod
    def from_files(
        cls,
        cert_chain_pem: PathLike,
        private_key_pem: PathLike,
        alg: str = "es256",
        tsa_url: str | None = None,
    ) -> Signer:
        """A signer from a PEM certificate chain file (leaf first) and a PEM private key file.

        The key file must not be world-readable (:class:`~aiwatermark.KeyFileError`
        otherwise) and must not be encrypted.

        Example:
            >>> from aiwatermark import keys
            >>> chain, key = "chain.pem", "key.pem"
            >>> signer = keys.Signer.from_files(chain, key, alg="es256")  # doctest: +SKIP
        """
        chain = _read_file(cert_chain_pem, "certificate chain")
        _check_private(private_key_pem)
        key = _read_file(private_key_pem, "private key")
        return cls._with_key(
            chain,
            key,
            alg,
            tsa_url,
            repr(os.fspath(cert_chain_pem)),
            f"private key {os.fspath(private_key_pem)!r}",
        )

    @classmethod
    def _with_key(
        cls,
        chain: bytes,
        key: bytes,
        alg: str,
        tsa_url: str | None,
        chain_name: str,
        key_name: str,
    ) -> Signer:
        signer = cls(chain, alg, tsa_url, key_pem=key, name=chain_name)
        try:
            private = serialization.load_pem_private_key(key, password=None)
        except TypeError:
            raise KeyFileError(
                f"{key_name} is encrypted; decrypt it into a 0600 file, or keep it in a "
                "KMS/HSM and use Signer.from_callback"
            ) from None
        except (ValueError, UnsupportedAlgorithm):
            raise KeyFileError(
                f"{key_name} is not a PEM private key (expected '-----BEGIN PRIVATE KEY-----')"
            ) from None
        if _spki(private.public_key()) != _spki(signer.certificate.public_key()):
            raise KeyFileError(
                f"{key_name} does not belong to the signing certificate in {chain_name}"
            )
        # Re-encode so c2pa always gets unencrypted PKCS#8, whatever PEM flavour was given.
        signer._key_pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return signer

    @classmethod
    def from_callback(
        cls,
        sign_fn: SignFunction,
        cert_chain_pem: PathLike | bytes,
        alg: str,
        tsa_url: str | None = None,
    ) -> Signer:
        """A signer whose private key stays in a KMS/HSM: ``sign_fn(data) -> signature``.

        ``cert_chain_pem`` is a PEM file path or PEM bytes. ``sign_fn`` receives the bytes
        to sign and returns the signature for ``alg``: ECDSA as DER or raw ``r||s``,
        RSA-PSS with MGF1 and a salt as long as the hash, or Ed25519.

        Example:
            >>> from cryptography.hazmat.primitives import hashes
            >>> from cryptography.hazmat.primitives.asymmetric import ec
            >>> from aiwatermark import keys
            >>> def sign(data: bytes) -> bytes:
            ...     return private_key.sign(data, ec.ECDSA(hashes.SHA256()))
            >>> signer = keys.Signer.from_callback(sign, "chain.pem", "es256")  # doctest: +SKIP
        """
        if not callable(sign_fn):
            raise SigningError("sign_fn must be a function taking bytes and returning bytes")
        if isinstance(cert_chain_pem, (bytes, bytearray)):
            chain, name = bytes(cert_chain_pem), "certificate chain"
        else:
            chain = _read_file(cert_chain_pem, "certificate chain")
            name = repr(os.fspath(cert_chain_pem))
        return cls(chain, alg, tsa_url, sign_fn=sign_fn, name=name)

    @property
    def cert_chain_pem(self) -> bytes:
        """The certificate chain, leaf first, as PEM bytes."""
        return self._chain_pem

    @property
    def subject(self) -> str:
        """The signing certificate's subject, e.g. ``'CN=Signer, O=Example'``."""
        return self.certificate.subject.rfc4514_string()

    @property
    def is_dev_identity(self) -> bool:
        """True for the aiwatermark development identity (never trusted)."""
        return is_dev_certificate(self.certificate)

    def __reduce__(self) -> tuple[Any, ...]:
        # Batches and Ray tasks get their signer by pickling; the certificate object does
        # not pickle, so the signer travels as the PEM it was built from (the private key
        # with it, in memory, as a secret store hands it over) and is checked anew. A
        # callback travels only if it pickles (a module-level function does, a lambda not).
        return (
            _restore_signer,
            (self._chain_pem, self.alg, self.tsa_url, self._key_pem, self._sign_fn),
        )

    def __repr__(self) -> str:
        kind = "callback" if self._sign_fn is not None else "private key"
        tsa = f", tsa_url={self.tsa_url!r}" if self.tsa_url else ""
        return f"Signer(alg={self.alg!r}, subject={self.subject!r}, key={kind}{tsa})"

    def _c2pa_signer(self, errors: list[BaseException]) -> Any:
        """A fresh native signer; exceptions raised by a callback are appended to ``errors``.

        A new native signer per signature keeps Signer free of shared native state, so one
        Signer can sign from many threads.
        """
        chain = self._chain_pem.decode()
        if self._sign_fn is None:
            assert self._key_pem is not None
            info = c2pa.C2paSignerInfo(
                self.alg.encode(),
                self._chain_pem,
                self._key_pem,
                self.tsa_url.encode() if self.tsa_url else None,
            )
            return c2pa.Signer.from_info(info)
        sign_fn = self._sign_fn

        def callback(data: bytes) -> bytes:
            # Returning b"" (instead of raising) keeps c2pa from logging the exception text.
            try:
                signature = sign_fn(data)
                if not isinstance(signature, (bytes, bytearray)) or not signature:
                    raise TypeError("the signing callback must return non-empty bytes")
                return bytes(signature)
            except Exception as exc:
                errors.append(exc)
                return b""

        alg = getattr(c2pa.C2paSigningAlg, self.alg.upper())
        return c2pa.Signer.from_callback(callback, alg, chain, self.tsa_url)


@dataclass(frozen=True)
class DevIdentity:
    """Where the development identity lives (made by :func:`init_dev_identity`).

    Example:
        >>> from aiwatermark import keys
        >>> identity = keys.init_dev_identity("/tmp/aiwm-dev")  # doctest: +SKIP
        >>> identity.private_key.name  # doctest: +SKIP
        'dev-key.pem'
    """

    directory: Path
    root_certificate: Path
    """The development root CA certificate (its private key is thrown away after use)."""
    cert_chain: Path
    """Signing certificate followed by the root CA, PEM."""
    private_key: Path
    """The signing key, PEM, mode 0600."""
    created: bool
    """True when this call made the files, False when they already existed."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict.

        Example:
            >>> from aiwatermark import keys
            >>> sorted(keys.init_dev_identity("/tmp/aiwm-dev").to_dict())  # doctest: +SKIP
            ['cert_chain', 'created', 'directory', 'private_key', 'root_certificate']
        """
        return {
            "directory": str(self.directory),
            "root_certificate": str(self.root_certificate),
            "cert_chain": str(self.cert_chain),
            "private_key": str(self.private_key),
            "created": self.created,
        }


def _key_usage(*, issues_certificates: bool) -> x509.KeyUsage:
    """A CA signs certificates (and CRLs); a C2PA signer signs manifests, nothing else."""
    return x509.KeyUsage(
        digital_signature=not issues_certificates,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=issues_certificates,
        crl_sign=issues_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _dev_name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORGANIZATION),
        ]
    )


def _write_private(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, mode)
        with open(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _make_dev_identity(paths: dict[str, Path]) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _dev_name("aiwatermark development root CA")
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            _key_usage(issues_certificates=True),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_dev_name("aiwatermark development signer"))
        .issuer_name(root_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=730))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _key_usage(issues_certificates=False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    # The root key is deliberately never written: nobody can mint more "dev" certificates.
    _write_private(
        paths["private_key"],
        leaf_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        0o600,
    )
    _write_private(paths["cert_chain"], leaf.public_bytes(pem) + root.public_bytes(pem), 0o644)
    _write_private(paths["root_certificate"], root.public_bytes(pem), 0o644)


def init_dev_identity(directory: PathLike | None = None, *, force: bool = False) -> DevIdentity:
    """Create (or find) the local development CA and signing certificate.

    Files go to ``directory``, default ``<config>/dev-identity`` where ``<config>`` is
    ``$AIWATERMARK_HOME`` or the per-user config directory (``~/.config/aiwatermark`` on
    Linux). Existing files are kept unless ``force`` is true. The signing key is written with
    mode 0600; the root CA's key is discarded. The certificates carry the Organization
    :data:`DEV_ORGANIZATION` and are never reported as trusted.

    Example:
        >>> import tempfile
        >>> from aiwatermark import keys
        >>> identity = keys.init_dev_identity(tempfile.mkdtemp())
        >>> identity.created, oct(identity.private_key.stat().st_mode & 0o777)
        (True, '0o600')
    """
    folder = Path(os.fspath(directory)) if directory is not None else _home() / "dev-identity"
    paths = {field: folder / name for field, name in _DEV_FILES.items()}
    exists = all(path.is_file() for path in paths.values())
    if force or not exists:
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            with _creating(folder):
                # Another process may have made it while this one waited: use that one,
                # or the two would leave a certificate and a key that do not match.
                exists = not force and all(path.is_file() for path in paths.values())
                if not exists:
                    _make_dev_identity(paths)
        except OSError as exc:
            raise KeyFileError(
                f"cannot create the development identity in {str(folder)!r} ({exc.strerror}); "
                f"set {HOME_ENV} to a writable directory"
            ) from None
    return DevIdentity(directory=folder, created=force or not exists, **paths)


@contextlib.contextmanager
def _creating(folder: Path) -> Iterator[None]:
    """Hold the identity folder's lock file: processes starting at once (two commands, a
    pool's workers) create one identity, not several half-overwritten ones."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows has no flock; creation is not serialised
        yield
        return
    with open(folder / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _restore_signer(
    chain_pem: bytes,
    alg: str,
    tsa_url: str | None,
    key_pem: bytes | None,
    sign_fn: SignFunction | None,
) -> Signer:
    return Signer(chain_pem, alg, tsa_url, key_pem=key_pem, sign_fn=sign_fn)


def dev_signer(directory: PathLike | None = None, *, tsa_url: str | None = None) -> Signer:
    """The development signer, creating the identity on first use (one notice on stderr).

    For tests and demos only: anything it signs verifies as intact but is reported as
    "development certificate — not trusted". An expired development certificate is
    replaced automatically. ``tsa_url`` is an RFC 3161 timestamp authority, as for
    :class:`Signer`.

    Example:
        >>> import tempfile
        >>> from aiwatermark import keys
        >>> keys.dev_signer(tempfile.mkdtemp()).is_dev_identity  # doctest: +ELLIPSIS
        True
    """
    identity = init_dev_identity(directory)
    if identity.created:
        print(
            f"aiwatermark: created a development signing identity in {identity.directory} "
            "(not trusted; use your own certificate for real content)",
            file=sys.stderr,
        )
    tsa_url = _check_tsa(tsa_url)  # a bad URL must not pass for an expired identity below
    try:
        return Signer.from_files(identity.cert_chain, identity.private_key, tsa_url=tsa_url)
    except SigningError:
        identity = init_dev_identity(directory, force=True)
        print(
            f"aiwatermark: renewed the expired development identity in {identity.directory}",
            file=sys.stderr,
        )
        return Signer.from_files(identity.cert_chain, identity.private_key, tsa_url=tsa_url)


__all__ = [
    "ALGORITHMS",
    "DEV_ORGANIZATION",
    "HOME_ENV",
    "DevIdentity",
    "SignFunction",
    "Signer",
    "dev_signer",
    "init_dev_identity",
    "is_dev_certificate",
]
