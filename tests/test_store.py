"""The manifest store: SQLite default, the env override, and a replaceable protocol."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sqlite3
import stat
from collections.abc import Mapping
from pathlib import Path

import pytest

from aiwatermark import PayloadTakenError, StoreError
from aiwatermark.store import (
    ManifestStore,
    SQLiteManifestStore,
    default_store_path,
    open_store,
)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIWATERMARK_HOME", str(tmp_path / "home"))


def test_put_and_look_up_by_payload_and_fingerprint(tmp_path: Path) -> None:
    store = SQLiteManifestStore(tmp_path / "s.sqlite3")
    payload = bytes.fromhex("0123456789abcdef")
    fingerprint = bytes(range(32))
    entry = store.put(payload, b"\x00jumbf\xff" * 100, {"file": "a.jpg"}, fingerprint=fingerprint)
    (found,) = store.by_payload(payload)
    assert found.id == entry.id and found.manifest == b"\x00jumbf\xff" * 100
    assert found.meta == {"file": "a.jpg"} and found.fingerprint == fingerprint
    assert store.by_payload(bytes(8)) == []
    near = bytes([fingerprint[0] ^ 0b111]) + fingerprint[1:]
    assert [(e.id, d) for e, d in store.by_fingerprint(near, 31)] == [(entry.id, 3)]
    assert store.by_fingerprint(near, 2) == []
    assert len(store) == 1


def test_a_taken_content_id_is_refused_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "s.sqlite3"
    with SQLiteManifestStore(path) as store:
        store.put(b"k" * 8, b"first")
        with pytest.raises(PayloadTakenError, match="6b6b6b6b6b6b6b6b is already registered"):
            store.put(b"k" * 8, b"second")
    assert [e.manifest for e in SQLiteManifestStore(path).by_payload(b"k" * 8)] == [b"first"]


def test_the_database_itself_refuses_updates_and_deletes(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with SQLiteManifestStore(path) as store:
        store.put(b"k" * 8, b"first")
    conn = sqlite3.connect(path)
    for statement in ("UPDATE entries SET manifest = x'00'", "DELETE FROM entries"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(statement)
    conn.close()
    assert [e.manifest for e in SQLiteManifestStore(path).by_payload(b"k" * 8)] == [b"first"]


def test_store_file_and_folder_are_private(tmp_path: Path) -> None:
    path = tmp_path / "new-folder" / "s.sqlite3"
    with SQLiteManifestStore(path) as store:
        store.put(b"k" * 8, b"m")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    loose = tmp_path / "loose.sqlite3"
    loose.touch(mode=0o644)
    loose.chmod(0o644)
    SQLiteManifestStore(loose).put(b"k" * 8, b"m")
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600


def test_closing_checkpoints_so_the_file_alone_is_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SQLiteManifestStore(path)
    for i in range(50):
        store.put(i.to_bytes(8, "big"), b"manifest" * 100)
    store.close()
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    backup = tmp_path / "backup.sqlite3"
    shutil.copyfile(path, backup)  # the main file only, as a naive backup would
    assert len(SQLiteManifestStore(backup)) == 50


def _version_1_store(folder: Path, rows: list[tuple[bytes, bytes, str, float]]) -> Path:
    """A store file as aiwatermark 0.1 wrote it: one replaceable row per payload."""
    path = folder / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE manifests (payload BLOB PRIMARY KEY, manifest BLOB NOT NULL, "
        "meta TEXT NOT NULL DEFAULT '{}', created REAL NOT NULL)"
    )
    conn.executemany("INSERT INTO manifests VALUES (?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()
    return path


def test_a_version_1_store_is_migrated_without_loss(tmp_path: Path) -> None:
    path = _version_1_store(tmp_path, [(b"o" * 8, b"old", '{"a": "1"}', 1.0)])
    store = SQLiteManifestStore(path)
    (entry,) = store.by_payload(b"o" * 8)
    assert entry.manifest == b"old" and entry.meta == {"a": "1"} and entry.fingerprint is None
    with pytest.raises(PayloadTakenError):
        store.put(b"o" * 8, b"new")


def test_processes_opening_a_version_1_store_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = _version_1_store(
        tmp_path, [(i.to_bytes(8, "big"), b"old", "{}", float(i)) for i in range(1000, 1050)]
    )
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), n * 100)) for n in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    store = SQLiteManifestStore(path)
    assert len(store) == 50 + 60
    assert [e.manifest for e in store.by_payload((1000).to_bytes(8, "big"))] == [b"old"]


def test_bad_entries_are_store_errors(tmp_path: Path) -> None:
    store = SQLiteManifestStore(tmp_path / "s.sqlite3")
    with pytest.raises(StoreError, match="payload or a fingerprint"):
        store.put(None, b"m")
    with pytest.raises(StoreError, match="32-byte"):
        store.put(b"k" * 8, b"m", fingerprint=b"short")
    with pytest.raises(StoreError, match="32-byte"):
        store.by_fingerprint(b"short", 31)


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

    class OnlyGet:  # the version 1 protocol: cannot be append-only or searched by fingerprint
        def put(
            self, payload: bytes, manifest: bytes, meta: Mapping[str, str] | None = None
        ) -> None: ...

        def get(self, payload: bytes) -> bytes | None: ...

    assert not isinstance(OnlyGet(), ManifestStore)
    with pytest.raises(StoreError, match="by_fingerprint"):
        open_store(OnlyGet())  # type: ignore[arg-type]
    custom = SQLiteManifestStore(tmp_path / "custom.sqlite3")
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
        SQLiteManifestStore(path).by_payload(b"k" * 8)


def test_bad_key_raises_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="payload bytes"):
        SQLiteManifestStore(tmp_path / "s.sqlite3").by_payload(b"")


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
    assert [e.manifest for e in store.by_payload((105).to_bytes(8, "big"))] == [b"manifest 105"]
