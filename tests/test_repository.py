"""Manifest repositories: the registration check, the HTTP client, and a platform set-up end
to end (a server process, a marking process, a verifying process)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import aiwatermark
from aiwatermark import imageio
from aiwatermark._demo import share_like_a_platform
from aiwatermark.store import (
    RegistrationError,
    RemoteManifestStore,
    SQLiteManifestStore,
    check_registration,
    open_store,
    similarity_score,
)
from pki import TestCA


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    dead = RemoteManifestStore(f"http://127.0.0.1:{_closed_port()}", retries=1, backoff=0.01)
    shared = aiwatermark.verify(share_like_a_platform(marked.data), store=dead)
    assert shared.ai_generated is True  # the watermark still says so
    assert any("unreachable" in note for note in shared.notes)
    unmarked = aiwatermark.verify(imageio.read_bytes("fixtures/coffee.png"), store=dead)
    assert unmarked.ai_generated is None  # never "not AI" because a repository was down
    assert any("unreachable" in note for note in unmarked.notes)
    with pytest.raises(aiwatermark.StoreError, match="needs a token"):
        RemoteManifestStore("http://127.0.0.1:9", token="").put(bytes(8), b"m")
