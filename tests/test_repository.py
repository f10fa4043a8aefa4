"""Manifest repositories: the registration check, the HTTP client, and a platform set-up end
to end (a server process, a marking process, a verifying process)."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import aiwatermark
from aiwatermark import imageio
from aiwatermark._demo import share_like_a_platform
from aiwatermark.fingerprint import FINGERPRINT_ALG
from aiwatermark.provenance import SOFT_BINDING_ALG
from aiwatermark.store import (
    RegistrationError,
    RemoteManifestStore,
    SQLiteManifestStore,
    check_registration,
    open_store,
    similarity_score,
)
from pki import TestCA
from repository import closed_port, serve_repository


@pytest.fixture(scope="module")
def producer(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA.create(tmp_path_factory.mktemp("producer"), organization="Producer Studio")


def _registered(tmp_path: Path, signer: aiwatermark.keys.Signer) -> bytes:
    store = SQLiteManifestStore(tmp_path / "local.sqlite3")
    result = aiwatermark.mark("fixtures/astronaut.jpg", signer=signer, store=store)
    assert result.payload is not None
    (entry,) = store.by_payload(result.payload)
    return entry.manifest


def test_a_repository_accepts_only_trusted_signers_binding_something_of_ours(
    tmp_path: Path, producer: TestCA
) -> None:
    manifest = _registered(tmp_path, producer.issue("Studio Signer").signer())
    registration = check_registration(manifest, trust_anchors=producer.root_path)
    assert registration.manifest_id.startswith("urn:c2pa:")
    assert registration.payload is not None and registration.fingerprint is not None
    assert "Studio Signer" in registration.signer

    stranger = TestCA.create(tmp_path / "stranger", organization="Producer Studio")
    with pytest.raises(RegistrationError, match="does not trust"):
        check_registration(manifest, trust_anchors=stranger.root_path)
    (tmp_path / "dev").mkdir()
    development = _registered(tmp_path / "dev", aiwatermark.keys.dev_signer())
    with pytest.raises(RegistrationError, match="does not trust"):
        check_registration(development, trust_anchors=producer.root_path)
    altered = bytearray(manifest)
    altered[len(altered) // 2] ^= 0xFF
    with pytest.raises(RegistrationError):
        check_registration(bytes(altered), trust_anchors=producer.root_path)
    with pytest.raises(RegistrationError, match="application/c2pa"):
        check_registration(b"", trust_anchors=producer.root_path)


def test_store_urls_open_the_right_backend(tmp_path: Path) -> None:
    assert isinstance(open_store(f"sqlite:///{tmp_path}/a.sqlite3"), SQLiteManifestStore)
    remote = open_store("https://user:secret@repo.example/v1/")
    assert isinstance(remote, RemoteManifestStore)
    assert "secret" not in repr(remote) and remote.url == "https://repo.example/v1"
    assert similarity_score(0) == 100 and similarity_score(31) == 88


def test_an_unreachable_repository_is_a_note_never_a_verdict(tmp_path: Path) -> None:
    marked = aiwatermark.mark("fixtures/astronaut.jpg", store=False)
    assert marked.data is not None
    dead = RemoteManifestStore(f"http://127.0.0.1:{closed_port()}", retries=1, backoff=0.01)
    shared = aiwatermark.verify(share_like_a_platform(marked.data), store=dead)
    assert shared.ai_generated is True  # the watermark still says so
    assert any("unreachable" in note for note in shared.notes)
    unmarked = aiwatermark.verify(imageio.read_bytes("fixtures/coffee.png"), store=dead)
    assert unmarked.ai_generated is None  # never "not AI" because a repository was down
    assert any("unreachable" in note for note in unmarked.notes)
    with pytest.raises(aiwatermark.StoreError, match="needs a token"):
        RemoteManifestStore("http://127.0.0.1:9", token="").put(bytes(8), b"m")


_MARK = """
import sys, aiwatermark
signer = aiwatermark.keys.Signer.from_files(sys.argv[3], sys.argv[4])
result = aiwatermark.mark(sys.argv[1], sys.argv[2], signer=signer, generator="Brand Gen 5",
                          store=sys.argv[5])
print(result.content_id)
"""

_VERIFY = """
import json, sys, aiwatermark
report = aiwatermark.verify(sys.argv[1], store=sys.argv[2], trust_anchors=sys.argv[3])
print(json.dumps(report.to_dict()))
"""


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_a_platform_recovers_trusted_credentials_from_a_repository(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, producer: TestCA
) -> None:
    store = (
        request.getfixturevalue("postgres_url")
        if backend == "postgresql"
        else str(tmp_path / "repository.sqlite3")
    )
    server, url = serve_repository(store, tmp_path, producer)
    try:
        brand = producer.issue("Brand Signer")
        run = {"capture_output": True, "text": True, "timeout": 120, "check": False}
        env = {**os.environ, "AIWATERMARK_HOME": str(tmp_path / "brand-home")}
        marked = tmp_path / "marked.jpg"
        # A second process marks and registers through HTTP with its token …
        done = subprocess.run(
            [sys.executable, "-c", _MARK, "fixtures/astronaut.jpg", str(marked),
             str(brand.chain), str(brand.key), url],
            env={**env, "AIWATERMARK_REPOSITORY_TOKEN": "producer-token-1"}, **run,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        content_id = done.stdout.strip()
        # … and without a token nothing is registered.
        refused = subprocess.run(
            [sys.executable, "-c", _MARK, "fixtures/coffee.png", str(tmp_path / "x.png"),
             str(brand.chain), str(brand.key), url],
            env={**env, "AIWATERMARK_REPOSITORY_TOKEN": "guessed"}, **run,
        )  # fmt: skip
        assert refused.returncode != 0 and "401" in refused.stderr

        # A third process, the platform, verifies a stripped, re-encoded copy.
        shared = tmp_path / "shared.jpg"
        shared.write_bytes(share_like_a_platform(marked.read_bytes()))
        checked = subprocess.run(
            [sys.executable, "-c", _VERIFY, str(shared), url, str(producer.root_path)],
            env={**os.environ, "AIWATERMARK_HOME": str(tmp_path / "platform-home")}, **run,
        )  # fmt: skip
        assert checked.returncode == 0, checked.stderr
        report = json.loads(checked.stdout)
        assert report["ai_generated"] is True and report["trusted"] is True
        assert report["manifest_origin"] == "recovered" and report["content_id"] == content_id
        assert report["layers"]["provenance"]["generator"] == "Brand Gen 5"
        assert any(f"answered by {url}" in line for line in report["evidence"])
        # The same from the command line, as docs/repository.md shows it.
        cli = subprocess.run(
            [sys.executable, "-m", "aiwatermark", "verify", str(shared), "--store", url,
             "--trust-anchors", str(producer.root_path), "--json", "--require-disclosure"],
            env={**os.environ, "AIWATERMARK_HOME": str(tmp_path / "platform-home")}, **run,
        )  # fmt: skip
        assert cli.returncode == 0, cli.stderr
        assert json.loads(cli.stdout)["trusted"] is True

        # The spec's paths answer with the spec's shapes.
        value = base64.b64encode(bytes.fromhex(content_id)).decode()
        matches = httpx.get(
            f"{url}/matches/byBinding", params={"alg": SOFT_BINDING_ALG, "value": value}
        ).json()["matches"]
        assert [set(m) for m in matches] == [{"manifestId"}]
        manifest = httpx.get(f"{url}/manifests/{matches[0]['manifestId']}")
        assert manifest.headers["content-type"].startswith("application/c2pa")
        algorithms = httpx.get(f"{url}/services/supportedAlgorithms").json()
        assert algorithms == {
            "watermarks": [{"alg": SOFT_BINDING_ALG}],
            "fingerprints": [{"alg": FINGERPRINT_ALG}],
        }
    finally:
        server.terminate()
        server.wait(30)


def test_several_server_processes_share_the_port_and_replace_a_dead_one(
    tmp_path: Path, producer: TestCA
) -> None:
    server, url = serve_repository(
        str(tmp_path / "repository.sqlite3"), tmp_path, producer, "--processes", "2"
    )
    try:
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
        deadline = time.monotonic() + 30
        while len(children.read_text().split()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        first, second = (int(pid) for pid in children.read_text().split())
        with httpx.Client() as client:
            for _ in range(20):
                assert client.get(f"{url}/services/supportedAlgorithms").status_code == 200
        os.kill(first, signal.SIGKILL)  # a server process dies mid-life ...
        while first in {int(p) for p in children.read_text().split()}:
            time.sleep(0.05)
        deadline = time.monotonic() + 30
        while len(children.read_text().split()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        replacement = {int(p) for p in children.read_text().split()} - {second}
        assert len(replacement) == 1 and first not in replacement  # ... and is replaced
        for _ in range(20):
            assert httpx.get(f"{url}/services/supportedAlgorithms").status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0  # every server stopped cleanly
