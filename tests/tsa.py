"""A local RFC 3161 time-stamp authority for tests: real HTTP on 127.0.0.1, real CMS signatures.

Only the few DER structures RFC 3161 and RFC 5652 need are encoded and decoded here, by
hand, so the tests depend on nothing beyond ``cryptography``. The time it stamps can be set
per test, which is how a test makes a timestamp fall inside or outside a certificate's
validity without moving any clock.

Example:
    >>> import tempfile, pathlib
    >>> from pki import TestCA
    >>> from tsa import TimeStampAuthority
    >>> ca = TestCA.create(pathlib.Path(tempfile.mkdtemp()))
    >>> with TimeStampAuthority(ca.issue_tsa()) as tsa:
    ...     tsa.url.startswith("http://127.0.0.1:")
    True
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

# Object identifiers (RFC 3161, RFC 5652, RFC 5035).
ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
ID_CT_TST_INFO = "1.2.840.113549.1.9.16.1.4"
ID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
ID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
ID_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
ID_SHA256 = "2.16.840.1.101.3.4.2.1"
ID_ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"
TEST_POLICY = "1.3.6.1.4.1.55738.666.1"  # an arbitrary arc: this TSA's only policy

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"

# PKIStatus values (RFC 3161 §2.4.2).
GRANTED = 0
REJECTION = 2


# --- DER, the handful of types we need -------------------------------------------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def integer(value: int) -> bytes:
    size = max(1, (value.bit_length() + 8) // 8)  # +8: room for the sign bit
    return tlv(0x02, value.to_bytes(size, "big", signed=True))


def oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray()
    for value in [40 * parts[0] + parts[1], *parts[2:]]:
        chunk = [value & 0x7F]
        value >>= 7
        while value:
            chunk.append(0x80 | (value & 0x7F))
            value >>= 7
        body.extend(reversed(chunk))
    return tlv(0x06, bytes(body))


def octets(data: bytes) -> bytes:
    return tlv(0x04, data)


def seq(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def set_of(*items: bytes) -> bytes:
    # DER orders the members of a SET OF by their encodings.
    return tlv(0x31, b"".join(sorted(items)))


def explicit(number: int, content: bytes) -> bytes:
    return tlv(0xA0 | number, content)


def generalized_time(moment: dt.datetime) -> bytes:
    return tlv(0x18, moment.astimezone(dt.timezone.utc).strftime("%Y%m%d%H%M%SZ").encode())


def algorithm(dotted: str) -> bytes:
    return seq(oid(dotted))


def read_tlv(data: bytes, offset: int = 0) -> tuple[int, bytes, int]:
    """(tag, content, offset after it) of the DER element at ``offset``; ValueError if cut."""
    if offset + 2 > len(data):
        raise ValueError("truncated DER")
    tag, first = data[offset], data[offset + 1]
    offset += 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or offset + count > len(data):
            raise ValueError("bad DER length")
        size = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    else:
        size = first
    if offset + size > len(data):
        raise ValueError("truncated DER")
    return tag, data[offset : offset + size], offset + size


def children(content: bytes) -> list[tuple[int, bytes, bytes]]:
    """The (tag, content, whole encoding) of each element in a constructed value."""
    found, offset = [], 0
    while offset < len(content):
        tag, body, end = read_tlv(content, offset)
        found.append((tag, body, content[offset:end]))
        offset = end
    return found


# --- RFC 3161 --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeStampRequest:
    message_imprint: bytes
    """The MessageImprint exactly as the client encoded it (echoed into the TSTInfo)."""
    hash_algorithm: str
    hashed_message: bytes
    nonce: int | None
    cert_req: bool
    policy: bytes | None


def _decode_oid(body: bytes) -> str:
    values, current = [], 0
    for byte in body:
        current = (current << 7) | (byte & 0x7F)
        if not byte & 0x80:
            values.append(current)
            current = 0
    first = min(values[0] // 40, 2)
    return ".".join(str(v) for v in [first, values[0] - 40 * first, *values[1:]])


def parse_request(der: bytes) -> TimeStampRequest:
    """Decode a TimeStampReq; ValueError when it is not one."""
    tag, body, end = read_tlv(der)
    if tag != 0x30 or end != len(der):
        raise ValueError("not a DER SEQUENCE")
    fields = children(body)
    if len(fields) < 2 or fields[0][0] != 0x02 or fields[1][0] != 0x30:
        raise ValueError("not a TimeStampReq")
    imprint = children(fields[1][1])
    if len(imprint) != 2 or imprint[0][0] != 0x30 or imprint[1][0] != 0x04:
        raise ValueError("bad MessageImprint")
    alg = children(imprint[0][1])
    if not alg or alg[0][0] != 0x06:
        raise ValueError("bad hash AlgorithmIdentifier")
    nonce, cert_req, policy = None, False, None
    for tag, value, whole in fields[2:]:
        if tag == 0x06:
            policy = whole
        elif tag == 0x02:
            nonce = int.from_bytes(value, "big", signed=True)
        elif tag == 0x01:
            cert_req = value != b"\x00"
    return TimeStampRequest(
        message_imprint=fields[1][2],
        hash_algorithm=_decode_oid(alg[0][1]),
        hashed_message=imprint[1][1],
        nonce=nonce,
        cert_req=cert_req,
        policy=policy,
    )


def _status(value: int, text: str | None = None) -> bytes:
    parts = [integer(value)]
    if text is not None:
        parts.append(seq(tlv(0x0C, text.encode())))  # PKIFreeText: SEQUENCE OF UTF8String
    return seq(*parts)


def rejection(text: str) -> bytes:
    """A TimeStampResp that refuses the request."""
    return seq(_status(REJECTION, text))


@dataclass(frozen=True)
class TSACredential:
    """The TSA's certificate chain (its own first) and EC private key."""

    chain: tuple[Any, ...]
    private_key: ec.EllipticCurvePrivateKey

    @property
    def certificate(self) -> Any:
        return self.chain[0]


def _der(cert: Any) -> bytes:
    data: bytes = cert.public_bytes(serialization.Encoding.DER)
    return data


def make_token(
    request: TimeStampRequest, credential: TSACredential, when: dt.datetime, serial: int
) -> bytes:
    """A TimeStampToken (CMS ContentInfo) over ``request`` at ``when``."""
    cert = credential.certificate
    tst_info = seq(
        integer(1),
        request.policy or oid(TEST_POLICY),
        request.message_imprint,
        integer(serial),
        generalized_time(when),
        *([integer(request.nonce)] if request.nonce is not None else []),
    )
    issuer_name = cert.issuer.public_bytes()
    issuer_serial = seq(seq(explicit(4, issuer_name)), integer(cert.serial_number))
    # ESSCertIDv2 with SHA-256 leaves hashAlgorithm out: it is the DEFAULT.
    ess_cert_id = seq(octets(hashlib.sha256(_der(cert)).digest()), issuer_serial)
    attributes = [
        seq(oid(ID_CONTENT_TYPE), set_of(oid(ID_CT_TST_INFO))),
        seq(oid(ID_MESSAGE_DIGEST), set_of(octets(hashlib.sha256(tst_info).digest()))),
        seq(oid(ID_SIGNING_CERTIFICATE_V2), set_of(seq(seq(ess_cert_id)))),
    ]
    signed_attrs = b"".join(sorted(attributes))
    # The signature covers the attributes as a SET (tag 0x31), stored under [0] IMPLICIT.
    signature = credential.private_key.sign(tlv(0x31, signed_attrs), ec.ECDSA(hashes.SHA256()))
    signer_info = seq(
        integer(1),
        seq(issuer_name, integer(cert.serial_number)),
        algorithm(ID_SHA256),
        tlv(0xA0, signed_attrs),
        algorithm(ID_ECDSA_WITH_SHA256),
        octets(signature),
    )
    certificates = (
        [tlv(0xA0, b"".join(_der(c) for c in credential.chain))] if request.cert_req else []
    )
    signed_data = seq(
        integer(3),
        set_of(algorithm(ID_SHA256)),
        seq(oid(ID_CT_TST_INFO), explicit(0, octets(tst_info))),
        *certificates,
        set_of(signer_info),
    )
    return seq(oid(ID_SIGNED_DATA), explicit(0, signed_data))


def make_response(
    request: TimeStampRequest, credential: TSACredential, when: dt.datetime, serial: int
) -> bytes:
    """A granted TimeStampResp carrying a token over ``request``."""
    return seq(_status(GRANTED), make_token(request, credential, when, serial))


# --- The HTTP server -------------------------------------------------------------------------


class TimeStampAuthority:
    """An RFC 3161 responder on 127.0.0.1 (a random free port), in a background thread.

    ``clock`` gives the time to stamp (default: now); ``answer`` may replace the whole
    reply body (e.g. garbage) for tests of a misbehaving TSA. ``requests`` counts the
    time-stamp queries served.
    """

    def __init__(
        self,
        credential: TSACredential,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        answer: bytes | None = None,
    ) -> None:
        self.credential = credential
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self.answer = answer
        self.requests = 0
        self._serials = itertools.count(1)
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for it, once per test that starts a TSA.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/tsa"

    def _reply(self, body: bytes) -> tuple[int, str, bytes]:
        if self.answer is not None:
            return 200, REPLY_TYPE, self.answer
        try:
            request = parse_request(body)
        except ValueError as exc:
            return 200, REPLY_TYPE, rejection(f"bad request: {exc}")
        with self._lock:
            self.requests += 1
            serial = next(self._serials)
        return 200, REPLY_TYPE, make_response(request, self.credential, self.clock(), serial)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        authority = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.headers.get("Content-Type", "").split(";")[0].strip() != QUERY_TYPE:
                    self.send_error(415, f"expected {QUERY_TYPE}")
                    return
                size = int(self.headers.get("Content-Length") or 0)
                status, kind, reply = authority._reply(self.rfile.read(size))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # pytest output stays readable; failures show in the assertions

        return Handler

    def __enter__(self) -> TimeStampAuthority:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
