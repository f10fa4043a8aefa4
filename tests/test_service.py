"""The manifest repository: ``aiwatermark serve`` started for real and spoken to over HTTP.

Every C2PA Soft Binding Resolution API path is checked for its shapes and status codes, with
manifests made the way producers make them (``aiwatermark.mark`` with a CA-issued signer)
and images shared the way platforms share them (re-encoded, metadata stripped).
"""

from __future__ import annotations

import base64
import concurrent.futures
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

import c2pa
import httpx

import aiwatermark
from aiwatermark import fingerprint, imageio, provenance
from aiwatermark._demo import share_like_a_platform
from aiwatermark.cli import main
from aiwatermark.service import JumbfError, active_manifest_store
from aiwatermark.service._jumbf import manifest_labels
from aiwatermark.store import RemoteManifestStore, SQLiteManifestStore
from pki import Identity, TestCA

WATERMARK = provenance.SOFT_BINDING_ALG
FINGERPRINT = fingerprint.FINGERPRINT_ALG
WRITE_TOKEN = "writer-5b1f0c9e7d"
READ_TOKEN = "reader-0a4e8c2f61"
MAX_PIXELS = 3_000_000
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


# --- the server -----------------------------------------------------------------------


@dataclass
class Server:
    """A running ``aiwatermark serve`` process, its URL and its log files."""

    process: subprocess.Popen[bytes]
    url: str
    stdout: Path
    stderr: Path

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def start_server(folder: Path, *args: str, env: dict[str, str] | None = None) -> Server:
    """Start ``aiwatermark serve`` on a free port and wait until it answers."""
    folder.mkdir(parents=True, exist_ok=True)
    stdout, stderr = folder / "stdout.log", folder / "stderr.log"
    environment = {
        **os.environ,
        "AIWATERMARK_HOME": str(folder / "home"),
        "AIWATERMARK_MAX_PIXELS": str(MAX_PIXELS),
        **(env or {}),
    }
    environment.pop("AIWATERMARK_KEY", None)
    # Logs go to files, not pipes: a pipe nobody reads fills up and stalls the server.
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "aiwatermark", "serve", "--port", "0", *args],
            stdout=out,
            stderr=err,
            env=environment,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {stderr.read_text()}")
        found = re.search(r"at (http://\S+)", stdout.read_text())
        if found:
            return Server(process, found.group(1), stdout, stderr)
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"the server did not start: {stderr.read_text()}")


@dataclass
class World:
    """One repository trusting one newsroom CA, and the producers around it."""

    server: Server
    client: httpx.Client
    folder: Path
    trusted: Identity
    stranger: Identity
    local: SQLiteManifestStore


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("service")
    ca = TestCA.create(folder / "ca", organization="Test Newsroom")
    stranger_ca = TestCA.create(folder / "stranger", organization="Somebody Else")
    tokens = folder / "writers.txt"
    tokens.write_text(f"# who may register\n{WRITE_TOKEN}\n\nsecond-writer-token\n")
    server = start_server(
        folder / "server",
        *("--store", str(folder / "repository.sqlite3")),
        *("--trust-anchors", str(ca.root_path)),
        *("--write-tokens", str(tokens)),
        *("--max-upload-mb", "1", "--workers", "2"),
    )
    client = httpx.Client(base_url=server.url, timeout=60)
    try:
        yield World(
            server,
            client,
            folder,
            ca.issue("Newsroom Signer"),
            stranger_ca.issue("Stranger Signer"),
            SQLiteManifestStore(folder / "producer.sqlite3"),
        )
    finally:
        client.close()
        status = server.stop(signal.SIGTERM)
    errors = server.stderr.read_text()
    assert status == 0, errors
    assert "aiwatermark: stopped" in errors and "Traceback" not in errors


@dataclass
class Marked:
    """An image marked by a producer, and the manifest store it registers."""

    result: aiwatermark.MarkResult
    data: bytes
    manifest: bytes

    @property
    def label(self) -> str:
        assert self.result.manifest_label is not None
        return self.result.manifest_label


def mark(world: World, src: str | Path | Image.Image, identity: Identity | None = None) -> Marked:
    """Mark an image as a producer does: the manifest goes to the producer's own store."""
    result = aiwatermark.mark(
        src,
        signer=(identity or world.trusted).signer(),
        store=world.local,
        generator="Test Diffusion 2",
    )
    assert result.data is not None and result.payload is not None
    (entry,) = world.local.by_payload(result.payload)
    return Marked(result, result.data, entry.manifest)


def register(world: World, manifest: bytes, token: str | None = WRITE_TOKEN) -> httpx.Response:
    headers = {"Content-Type": "application/c2pa"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return world.client.post("/manifests", content=manifest, headers=headers)


@pytest.fixture(scope="module")
def registered(world: World) -> Marked:
    marked = mark(world, FIXTURES / "astronaut.jpg")
    response = register(world, marked.manifest)
    assert response.status_code == 201, response.text
    assert response.json() == {"manifestId": marked.label}
    assert response.headers["location"] == "/manifests/" + urllib.parse.quote(marked.label, safe="")
    return marked


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "code"} and body["code"] == code and body["error"]
    assert "Traceback" not in body["error"]
    return dict(body)


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [match["manifestId"] for match in response.json()["matches"]]


# --- the SBR API ----------------------------------------------------------------------


def test_supported_algorithms(world: World) -> None:
    response = world.client.get("/services/supportedAlgorithms")
    assert response.status_code == 200
    assert response.json() == {
        "watermarks": [{"alg": WATERMARK}],
        "fingerprints": [{"alg": FINGERPRINT}],
    }


def test_a_registered_manifest_is_found_by_its_bindings_and_fetched(
    world: World, registered: Marked
) -> None:
    payload = registered.result.payload
    assert payload is not None and registered.result.fingerprint is not None
    by_watermark = world.client.get(
        "/matches/byBinding", params={"alg": WATERMARK, "value": b64(payload)}
    )
    assert by_watermark.json() == {"matches": [{"manifestId": registered.label}]}

    value = registered.result.fingerprint.value
    by_print = world.client.get(
        "/matches/byBinding", params={"alg": FINGERPRINT, "value": b64(value)}
    )
    assert {"manifestId": registered.label, "similarityScore": 100} in by_print.json()["matches"]
    # A fingerprint a few bits off still finds it, scored round(100 * (1 - distance / 256)).
    near = bytes([value[0] ^ 0b1111]) + value[1:]
    near_matches = world.client.get(
        "/matches/byBinding", params={"alg": FINGERPRINT, "value": b64(near)}
    ).json()["matches"]
    assert {"manifestId": registered.label, "similarityScore": 98} in near_matches

    posted = world.client.post(
        "/matches/byBinding",
        params={"maxResults": "1"},
        json={"alg": WATERMARK, "value": b64(payload)},
    )
    assert posted.json() == by_watermark.json()
    # URL-safe base64 without padding, as some clients send it, reads the same.
    urlsafe = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    assert ids(world.client.get(f"/matches/byBinding?alg={WATERMARK}&value={urlsafe}")) == [
        registered.label
    ]
    assert (
        ids(
            world.client.get(
                "/matches/byBinding", params={"alg": WATERMARK, "value": b64(bytes(8))}
            )
        )
        == []
    )

    fetched = world.client.get("/manifests/" + urllib.parse.quote(registered.label, safe=""))
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "application/c2pa"
    assert fetched.content == registered.manifest
    assert world.client.get(f"/manifests/{registered.label}").content == registered.manifest


def test_max_results_limits_the_matches(world: World) -> None:
    # Three marks of one photo: three registrations whose fingerprints nearly coincide.
    marks = [mark(world, FIXTURES / "chelsea.webp") for _ in range(3)]
    for marked in marks:
        assert register(world, marked.manifest).status_code == 201
    assert marks[0].result.fingerprint is not None
    params = {"alg": FINGERPRINT, "value": b64(marks[0].result.fingerprint.value)}
    everything = world.client.get("/matches/byBinding", params=params).json()["matches"]
    assert {m["manifestId"] for m in everything} >= {m.label for m in marks}
    scores = [m["similarityScore"] for m in everything]
    assert scores == sorted(scores, reverse=True) and scores[0] == 100
    limited = world.client.get("/matches/byBinding", params={**params, "maxResults": "2"})
    assert limited.json()["matches"] == everything[:2]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"value": "AAAAAAAAAAA="}, "alg is required"),
        ({"alg": "com.example.other.1", "value": "AAAAAAAAAAA="}, "not served here"),
        ({"alg": WATERMARK}, "value is required"),
        ({"alg": WATERMARK, "value": "not base64!"}, "not base64"),
        ({"alg": WATERMARK, "value": b64(bytes(9))}, "decodes to 9 bytes"),
        ({"alg": FINGERPRINT, "value": b64(bytes(8))}, "decodes to 8 bytes"),
        ({"alg": WATERMARK, "value": b64(bytes(8)), "maxResults": "0"}, "maxResults"),
        ({"alg": WATERMARK, "value": b64(bytes(8)), "maxResults": "ten"}, "maxResults"),
        ({"alg": WATERMARK, "value": b64(bytes(8)), "maxResults": "-3"}, "maxResults"),
    ],
)
def test_bad_binding_queries_are_400(world: World, params: dict[str, str], message: str) -> None:
    body = assert_error(
        world.client.get("/matches/byBinding", params=params), 400, "InvalidArgumentError"
    )
    assert message in body["error"]


def test_bad_requests_of_every_other_kind(world: World) -> None:
    client = world.client
    bad_json = (b"{not json", b'["alg", "value"]', b'{"alg": 7, "value": "AA=="}', b"[" * 60_000)
    for content in bad_json:
        response = client.post(
            "/matches/byBinding", content=content, headers={"Content-Type": "application/json"}
        )
        assert_error(response, 400, "InvalidArgumentError")
    assert_error(
        client.post("/matches/byBinding", content=b"alg=x", headers={"Content-Type": "text/plain"}),
        415,
        "UnsupportedMediaTypeError",
    )
    body = assert_error(
        client.get("/manifests/urn:c2pa:no-such-manifest"), 404, "ManifestNotFoundError"
    )
    assert "urn:c2pa:no-such-manifest" in body["error"]
    assert_error(client.get("/no/such/endpoint"), 404, "NotFoundError")
    assert_error(client.delete("/verify"), 405, "MethodNotAllowedError")
    assert_error(
        client.get("/manifests/urn:c2pa:x", params={"returnActiveManifest": "perhaps"}),
        400,
        "InvalidArgumentError",
    )


def test_by_content_finds_a_stripped_shared_copy(world: World, registered: Marked) -> None:
    shared = share_like_a_platform(registered.data)
    assert not provenance.read_provenance(shared).present  # the credentials are gone

    def by_content(data: bytes, content_type: str = "image/jpeg", **params: str) -> httpx.Response:
        return world.client.post(
            "/matches/byContent",
            content=data,
            params=params,
            headers={"Content-Type": content_type},
        )

    found = by_content(shared).json()["matches"]
    assert found[0]["manifestId"] == registered.label  # the watermark's exact match comes first
    assert found[0]["similarityScore"] >= 88  # ... and the fingerprint found it too

    by_print = by_content(shared, alg=FINGERPRINT).json()["matches"]
    assert registered.label in [m["manifestId"] for m in by_print]
    assert all(80 <= m["similarityScore"] <= 100 for m in by_print)
    assert by_content(shared, alg=WATERMARK).json() == {
        "matches": [{"manifestId": registered.label}]
    }
    assert len(by_content(shared, maxResults="1").json()["matches"]) == 1

    # A picture nobody registered finds nothing, unless the client hints at a binding.
    coffee = (FIXTURES / "coffee.png").read_bytes()
    assert ids(by_content(coffee, "image/png")) == []
    payload = registered.result.payload
    assert payload is not None
    hinted = by_content(coffee, "image/png", hintAlg=WATERMARK, hintValue=b64(payload))
    assert ids(hinted) == [registered.label]

    assert_error(by_content(shared, "text/plain"), 415, "UnsupportedMediaTypeError")
    assert_error(by_content(shared, "application/octet-stream"), 415, "UnsupportedMediaTypeError")
    assert_error(by_content(b"", "image/jpeg"), 400, "InvalidArgumentError")
    assert_error(by_content(b"GIF89a but not really", "image/gif"), 415, "UnsupportedImageError")
    assert_error(by_content(shared, alg="com.example.x"), 400, "InvalidArgumentError")
    assert_error(by_content(shared, hintAlg=WATERMARK), 400, "InvalidArgumentError")


# --- registration ---------------------------------------------------------------------


def test_registration_is_refused_without_a_write_token(world: World) -> None:
    marked = mark(world, FIXTURES / "coffee.png")
    for token in (None, "not-a-token", READ_TOKEN, WRITE_TOKEN + "x"):
        response = register(world, marked.manifest, token)
        assert_error(response, 401, "UnauthorizedError")
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert register(world, marked.manifest, "second-writer-token").status_code == 201
    assert_error(register(world, marked.manifest), 409, "PayloadTakenError")


def test_registration_is_refused_for_an_untrusted_signer_or_not_a_manifest(world: World) -> None:
    stranger = mark(world, FIXTURES / "coffee.png", world.stranger)
    body = assert_error(register(world, stranger.manifest), 422, "RegistrationError")
    assert "does not trust" in body["error"] and "Stranger Signer" in body["error"]
    assert_error(register(world, b"\x00\x00\x00\x10jumbnot a store"), 422, "RegistrationError")
    assert_error(
        world.client.post(
            "/manifests",
            content=stranger.manifest,
            headers={"Authorization": f"Bearer {WRITE_TOKEN}", "Content-Type": "image/jpeg"},
        ),
        415,
        "UnsupportedMediaTypeError",
    )
    payload = stranger.result.payload
    assert payload is not None
    assert (
        ids(
            world.client.get("/matches/byBinding", params={"alg": WATERMARK, "value": b64(payload)})
        )
        == []
    )


def test_return_active_manifest(world: World, registered: Marked) -> None:
    # An AI edit of a credentialed image: its manifest store holds the parent's manifest too.
    edited_pixels = imageio.encode(imageio.open(registered.data).rotate(180), "JPEG")
    signed = provenance.sign(
        edited_pixels,
        format="JPEG",
        signer=world.trusted.signer(),
        soft_binding=os.urandom(8),
        fingerprint=fingerprint.compute(edited_pixels).value,
        parent=registered.data,
    )
    assert manifest_labels(signed.manifest) == [registered.label, signed.manifest_label]
    assert register(world, signed.manifest).status_code == 201

    path = "/manifests/" + urllib.parse.quote(signed.manifest_label, safe="")
    whole = world.client.get(path, params={"returnActiveManifest": "false"})
    assert whole.content == signed.manifest
    active = world.client.get(path, params={"returnActiveManifest": "true"})
    assert active.status_code == 200 and active.headers["content-type"] == "application/c2pa"
    assert manifest_labels(active.content) == [signed.manifest_label]

    # The C2PA SDK reads it as the same active manifest, without the parent's.
    def read(manifest: bytes) -> dict[str, Any]:
        with c2pa.Reader("image/jpeg", io.BytesIO(signed.data), manifest) as reader:
            return dict(json.loads(reader.json()))

    full, only = read(signed.manifest), read(active.content)
    assert full["active_manifest"] == only["active_manifest"] == signed.manifest_label
    assert set(full["manifests"]) == {signed.manifest_label, registered.label}
    assert set(only["manifests"]) == {signed.manifest_label}
    # Claim, assertions and signature are the same; only the ingredient's validation notes
    # differ, its manifest being left out on purpose.
    mine, whole_store = (
        only["manifests"][signed.manifest_label],
        full["manifests"][signed.manifest_label],
    )
    assert {k: v for k, v in mine.items() if k != "ingredients"} == {
        k: v for k, v in whole_store.items() if k != "ingredients"
    }


def test_two_concurrent_uploads_both_succeed(world: World) -> None:
    marks = [mark(world, FIXTURES / "coffee.png"), mark(world, FIXTURES / "chelsea.webp")]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(lambda m: register(world, m.manifest), marks))
        shared = [share_like_a_platform(m.data) for m in marks]
        searches = list(
            pool.map(
                lambda data: world.client.post(
                    "/matches/byContent", content=data, headers={"Content-Type": "image/jpeg"}
                ),
                shared,
            )
        )
    assert [r.status_code for r in responses] == [201, 201]
    assert [r.json()["manifestId"] for r in responses] == [m.label for m in marks]
    for marked, search in zip(marks, searches, strict=True):
        assert marked.label in ids(search)


# --- verify and limits ----------------------------------------------------------------


def test_verify_answers_what_the_cli_json_says(
    world: World,
    registered: Marked,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AIWATERMARK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AIWATERMARK_KEY", raising=False)
    anchors = str(world.folder / "ca" / "root.pem")
    marked_file = tmp_path / "marked.jpg"
    marked_file.write_bytes(registered.data)
    assert main(["verify", str(marked_file), "--json", "--trust-anchors", anchors]) == 0
    cli = json.loads(capsys.readouterr().out)

    response = world.client.post(
        "/verify",
        params={"file": "marked.jpg"},
        content=registered.data,
        headers={"Content-Type": "image/jpeg"},
    )
    assert response.status_code == 200
    served = response.json()
    assert served["file"] == "marked.jpg" and served["ai_generated"] is True
    # The same report, but for where the bytes came from.
    assert {**served, "file": None, "source": None} == {**cli, "file": None, "source": None}

    # The shared copy has no credentials left; the server's store gives them back.
    shared = world.client.post("/verify", content=share_like_a_platform(registered.data))
    report = shared.json()
    assert set(report) == set(cli) and set(report["layers"]) == set(cli["layers"])
    assert report["file"] == "upload" and report["ai_generated"] is True
    assert report["recovered_via"] == "watermark" and report["trusted"] is True
    assert report["content_id"] == registered.result.content_id

    assert_error(
        world.client.post("/verify", content=b"hello", headers={"Content-Type": "text/plain"}),
        415,
        "UnsupportedMediaTypeError",
    )
    assert_error(
        world.client.post("/verify", content=b"\xff\xd8\xff\xe0 truncated"),
        400,
        "CorruptImageError",
    )


def test_uploads_over_the_limits_are_413(world: World) -> None:
    big = os.urandom(1_200_000)  # over --max-upload-mb 1
    for path in ("/verify", "/matches/byContent"):
        response = world.client.post(path, content=big, headers={"Content-Type": "image/jpeg"})
        assert_error(response, 413, "UploadTooLargeError")
    chunked = world.client.post(
        "/verify",
        content=iter([big[:600_000], big[600_000:]]),
        headers={"Content-Type": "image/png"},
    )
    assert_error(chunked, 413, "UploadTooLargeError")

    # A small file with too many pixels (a decompression bomb) is refused before decoding.
    bomb = imageio.encode(Image.new("RGB", (2000, 2000), "white"), "PNG")
    assert len(bomb) < 100_000
    for path in ("/verify", "/matches/byContent"):
        response = world.client.post(path, content=bomb, headers={"Content-Type": "image/png"})
        body = assert_error(response, 413, "ImageTooLargeError")
        assert f"{MAX_PIXELS:,}" in body["error"]


def test_the_verify_page_is_served(world: World) -> None:
    response = world.client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text.lower()
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


# --- a closed repository, timeouts, the command line ------------------------------------


def test_read_tokens_and_the_request_timeout(tmp_path: Path) -> None:
    readers = tmp_path / "readers.txt"
    readers.write_text(f"{READ_TOKEN}\n")
    server = start_server(
        tmp_path / "server",
        *("--store", str(tmp_path / "closed.sqlite3")),
        *("--read-tokens", str(readers), "--timeout", "0.2", "--workers", "1"),
    )
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            query = {"alg": WATERMARK, "value": b64(bytes(8))}
            assert_error(client.get("/matches/byBinding", params=query), 401, "UnauthorizedError")
            assert_error(client.get("/services/supportedAlgorithms"), 401, "UnauthorizedError")
            headers = {"Authorization": f"Bearer {READ_TOKEN}"}
            assert ids(client.get("/matches/byBinding", params=query, headers=headers)) == []
            assert (
                client.get("/").status_code == 200
            )  # the page itself is open; it asks for a token
            # No write tokens given: registration is closed to everyone.
            assert_error(
                client.post(
                    "/manifests",
                    content=b"x",
                    headers={**headers, "Content-Type": "application/c2pa"},
                ),
                401,
                "UnauthorizedError",
            )
            # Verifying a 2.9-megapixel photo takes longer than 0.2 s: answered 503 on time.
            with Image.open(FIXTURES / "astronaut.jpg") as photo:
                large = imageio.encode(photo.convert("RGB").resize((1700, 1700)), "JPEG")
            started = time.monotonic()
            response = client.post(
                "/verify", content=large, headers={**headers, "Content-Type": "image/jpeg"}
            )
            assert_error(response, 503, "RequestTimeoutError")
            assert time.monotonic() - started < 3
    finally:
        status = server.stop(signal.SIGINT)
    assert status == 0, server.stderr.read_text()
    assert "Traceback" not in server.stderr.read_text()


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (None, "cannot read it"),
        ("# only a comment\n\n", "holds no token"),
        ("two words\n", "holds no spaces"),
    ],
)
def test_token_file_problems_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tokens: str | None, message: str
) -> None:
    path = tmp_path / "tokens.txt"
    if tokens is not None:
        path.write_text(tokens)
    store = str(tmp_path / "s.sqlite3")
    assert main(["serve", "--store", store, "--write-tokens", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "tokens.txt" in err
    assert main(["serve", "--store", store, "--read-tokens", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_serve_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "s.sqlite3")
    assert main(["serve", "--store", store, "--port", "70000"]) == 2
    assert main(["serve", "--store", store, "--workers", "0"]) == 2
    assert main(["serve", "--store", store, "--timeout", "0"]) == 2
    assert main(["serve", "--store", store, "--trust-anchors", str(tmp_path / "none.pem")]) == 2
    assert main(["serve"]) == 2  # --store is required
    err = capsys.readouterr().err
    assert "--port" in err and "--workers" in err and "--timeout" in err and "none.pem" in err
    assert "Traceback" not in err


# --- the JUMBF reader -----------------------------------------------------------------


def test_the_jumbf_reader_refuses_damaged_stores_without_crashing(registered: Marked) -> None:
    store = registered.manifest
    assert active_manifest_store(store) == store  # one manifest: the same bytes
    rng = random.Random(7)
    for cut in [*range(0, 64), *rng.sample(range(64, len(store)), 40)]:
        with pytest.raises(JumbfError):
            active_manifest_store(store[:cut])
    for _ in range(300):
        damaged = bytearray(store)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(0, min(len(store), 400))] = rng.randrange(256)
        try:
            result = active_manifest_store(bytes(damaged))
        except JumbfError:
            continue
        assert result[4:8] == b"jumb" and len(result) <= len(damaged) + 16


def test_the_library_client_marks_into_and_recovers_from_the_server(world: World) -> None:
    remote = RemoteManifestStore(world.server.url, token=WRITE_TOKEN)
    try:
        result = aiwatermark.mark(
            FIXTURES / "coffee.png", signer=world.trusted.signer(), store=remote, format="JPEG"
        )
        assert result.stored and result.data is not None and result.manifest_label is not None
        entry = remote.by_id(result.manifest_label)
        assert entry is not None and manifest_labels(entry.manifest)[-1] == result.manifest_label
        report = aiwatermark.verify(
            share_like_a_platform(result.data),
            store=world.server.url,
            trust_anchors=world.folder / "ca" / "root.pem",
        )
    finally:
        remote.close()
    assert report.ai_generated is True and report.trusted is True
    assert report.recovered_via == "watermark" and report.content_id == result.content_id
