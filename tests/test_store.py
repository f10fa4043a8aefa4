"""The manifest store: SQLite default, the env override, and a replaceable protocol."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from aiwatermark import StoreError
from aiwatermark.store import (
    ManifestStore,
    SQLiteManifestStore,
    default_store_path,
    open_store,
)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIWATERMARK_HOME", str(tmp_path / "home"))


def test_put_get_round_trip(tmp_path: Path) -> None:
    store = SQLiteManifestStore(tmp_path / "s.sqlite3")
    payload = bytes.fromhex("0123456789abcdef")
    store.put(payload, b"\x00jumbf\xff" * 100, {"file": "a.jpg"})
    assert store.get(payload) == b"\x00jumbf\xff" * 100
    assert store.meta(payload) == {"file": "a.jpg"}
    assert store.get(bytes(8)) is None
    assert len(store) == 1


def test_put_replaces_and_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "s.sqlite3"
    with SQLiteManifestStore(path) as store:
        store.put(b"k" * 8, b"first")
        store.put(b"k" * 8, b"second")
    assert path.is_file()
    assert SQLiteManifestStore(path).get(b"k" * 8) == b"second"


def test_default_path_follows_env(tmp_path: Path) -> None:
    assert default_store_path() == tmp_path / "home" / "manifests.sqlite3"
    store = open_store(None)
    assert isinstance(store, SQLiteManifestStore)
    assert store.path == tmp_path / "home" / "manifests.sqlite3"


def test_open_store_variants(tmp_path: Path) -> None:
    assert open_store(False) is None
    by_path = open_store(tmp_path / "x.sqlite3")
    assert isinstance(by_path, SQLiteManifestStore)
    assert open_store(str(tmp_path / "x.sqlite3")) is by_path

    class DictStore:
        def __init__(self) -> None:
            self.items: dict[bytes, bytes] = {}

        def put(
            self, payload: bytes, manifest: bytes, meta: Mapping[str, str] | None = None
        ) -> None:
            self.items[payload] = manifest

        def get(self, payload: bytes) -> bytes | None:
            return self.items.get(payload)

    custom = DictStore()
    assert isinstance(custom, ManifestStore)
    assert open_store(custom) is custom
    with pytest.raises(StoreError, match="store="):
        open_store(42)  # type: ignore[arg-type]


def test_unwritable_location_raises_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"not a folder")
    store = SQLiteManifestStore(blocker / "s.sqlite3")
    with pytest.raises(StoreError, match="AIWATERMARK_HOME"):
        store.put(b"k" * 8, b"m")


def test_not_a_database_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(StoreError, match=r"garbage\.sqlite3"):
        SQLiteManifestStore(path).get(b"k" * 8)


def test_bad_key_raises_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="payload bytes"):
        SQLiteManifestStore(tmp_path / "s.sqlite3").get(b"")


def _writer(path: str, start: int) -> None:
    store = SQLiteManifestStore(path)
    for i in range(start, start + 20):
        store.put(i.to_bytes(8, "big"), f"manifest {i}".encode())


def test_parallel_processes_write_one_file(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite3")
    SQLiteManifestStore(path).put(b"\xff" * 8, b"warm")  # parent holds an open connection
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, n * 100)) for n in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    store = SQLiteManifestStore(path)
    assert len(store) == 41
    assert store.get((105).to_bytes(8, "big")) == b"manifest 105"
