"""The PostgreSQL manifest store, on a real throwaway server: the SQLite store's guarantees.

The server comes from the session fixture ``postgres_url`` (tests/postgres.py, imported in
conftest.py); every test gets a database of its own, since a store can never be emptied.
"""

from __future__ import annotations

import multiprocessing
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from PIL import Image

import aiwatermark
from aiwatermark import InvalidArgumentError, PayloadTakenError, StoreError, imageio
from aiwatermark.store import ManifestStore, open_store
from aiwatermark.store._postgres import PostgresManifestStore, redact_url
from postgres import PASSWORD, running_postgres, with_database


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIWATERMARK_HOME", str(tmp_path / "home"))


@pytest.fixture
def store(db_url: str) -> Iterator[PostgresManifestStore]:
    with PostgresManifestStore(db_url, timeout=5) as opened:
        yield opened


def _near(fingerprint: bytes, bits: int) -> bytes:
    """``fingerprint`` with its first ``bits`` bits flipped."""
    value = int.from_bytes(fingerprint, "big") ^ (((1 << bits) - 1) << (256 - bits))
    return value.to_bytes(32, "big")


def test_put_and_look_up_by_payload_fingerprint_and_id(store: PostgresManifestStore) -> None:
    assert isinstance(store, ManifestStore) and open_store(store) is store
    payload = bytes.fromhex("0123456789abcdef")
    fingerprint = bytes(range(32))
    entry = store.put(
        payload,
        b"\x00jumbf\xff" * 100,
        {"file": "a.jpg"},
        fingerprint=fingerprint,
        manifest_id="urn:c2pa:0001",
    )
    assert entry.id == "urn:c2pa:0001" and entry.created > 0
    (found,) = store.by_payload(payload)
    assert found.id == entry.id and found.manifest == b"\x00jumbf\xff" * 100
    assert found.meta == {"file": "a.jpg"} and found.fingerprint == fingerprint
    assert found.created == pytest.approx(entry.created)
    assert store.by_payload(bytes(8)) == []
    near = bytes([fingerprint[0] ^ 0b111]) + fingerprint[1:]
    assert [(e.id, d) for e, d in store.by_fingerprint(near, 31)] == [(entry.id, 3)]
    assert store.by_fingerprint(near, 2) == []
    by_id = store.by_id("urn:c2pa:0001")
    assert by_id is not None and by_id.payload == payload
    assert store.by_id("urn:c2pa:other") is None and store.by_id("") is None
    unlabelled = store.put(b"u" * 8, b"m")  # known by the number the store gave it
    assert unlabelled.id.isdigit() and store.by_id(unlabelled.id) == unlabelled
    assert store.by_id("99999999999999999999999") is None  # beyond bigint: not an error
    assert len(store) == 2
    shared = open_store(store.origin)  # one per URL for the whole process
    assert shared is open_store(store.origin) and isinstance(shared, PostgresManifestStore)
    assert len(shared) == 2


def test_password_never_shows(db_url: str, store: PostgresManifestStore) -> None:
    assert PASSWORD in db_url
    entry = store.put(b"k" * 8, b"m", fingerprint=bytes(32))
    (found,) = store.by_payload(b"k" * 8)
    for text in (repr(store), store.origin, entry.origin, found.origin, repr(found)):
        assert PASSWORD not in text
    assert found.origin == entry.origin == db_url.replace(f":{PASSWORD}", "")
    assert redact_url("postgres://u:a%40b@h/d?password=zz&sslmode=require") == (
        "postgres://u@h/d?sslmode=require"
    )


def test_nearest_first_limit_and_scans_beyond_radius_one(store: PostgresManifestStore) -> None:
    query = bytes.fromhex("f0" * 32)
    for bits in (20, 1, 35, 5):
        store.put(bits.to_bytes(8, "big"), f"m{bits}".encode(), fingerprint=_near(query, bits))
    store.put(b"payload only", b"no fingerprint")
    ranked = store.by_fingerprint(query, 31)
    assert [(e.manifest, d) for e, d in ranked] == [(b"m1", 1), (b"m5", 5), (b"m20", 20)]
    assert [d for _, d in store.by_fingerprint(query, 40)] == [1, 5, 20, 35]  # a table scan
    assert [d for _, d in store.by_fingerprint(query, 255, limit=2)] == [1, 5]
    assert [d for _, d in store.by_fingerprint(query, 15)] == [1, 5]  # radius 0: exact words
    # The pigeonhole's edge: no 16-bit word equal, one word one bit off, the rest two off.
    edge = bytes(range(100, 132))
    store.put(b"edge0000", b"edge", fingerprint=edge)
    one_off = bytes(b ^ (i % 2) for i, b in enumerate(edge))  # one bit in every word
    two_off = bytes(b ^ (3 if i % 2 and i < 30 else i % 2) for i, b in enumerate(edge))
    assert [(e.manifest, d) for e, d in store.by_fingerprint(one_off, 31)] == [(b"edge", 16)]
    assert [(e.manifest, d) for e, d in store.by_fingerprint(two_off, 31)] == [(b"edge", 31)]
    assert store.by_fingerprint(two_off, 30) == []
    with pytest.raises(InvalidArgumentError, match="max_distance"):
        store.by_fingerprint(query, 256)
    with pytest.raises(InvalidArgumentError, match="limit"):
        store.by_fingerprint(query, 31, limit=0)


def test_a_taken_content_id_or_manifest_id_is_refused_never_replaced(
    store: PostgresManifestStore,
) -> None:
    store.put(b"k" * 8, b"first", manifest_id="urn:c2pa:first")
    with pytest.raises(PayloadTakenError, match="6b6b6b6b6b6b6b6b is already registered"):
        store.put(b"k" * 8, b"second")
    with pytest.raises(PayloadTakenError, match="manifest urn:c2pa:first is already registered"):
        store.put(b"j" * 8, b"second", manifest_id="urn:c2pa:first")
    with pytest.raises(PayloadTakenError, match="manifest urn:c2pa:first is already registered"):
        store.put(None, b"second", fingerprint=bytes(32), manifest_id="urn:c2pa:first")
    assert [e.manifest for e in store.by_payload(b"k" * 8)] == [b"first"]
    assert store.by_payload(b"j" * 8) == [] and len(store) == 1


def test_the_database_itself_refuses_updates_and_deletes(
    db_url: str, store: PostgresManifestStore
) -> None:
    store.put(b"k" * 8, b"first")
    with psycopg.connect(db_url, autocommit=True) as conn:
        for statement in (
            "UPDATE aiwatermark_entries SET manifest = '\\x00'",
            "DELETE FROM aiwatermark_entries",
            "DELETE FROM aiwatermark_entries WHERE false",
            "TRUNCATE aiwatermark_entries",
            "INSERT INTO aiwatermark_entries (payload, manifest) VALUES ('\\x6b6b6b6b6b6b6b6b', "
            "'\\x00') ON CONFLICT (payload) DO UPDATE SET manifest = excluded.manifest",
        ):
            with pytest.raises(psycopg.Error, match="append-only"):
                conn.execute(statement)
        # The search keys are derived by the database, not trusted from the writer.
        with pytest.raises(psycopg.Error, match="generated column"):
            conn.execute(
                "INSERT INTO aiwatermark_entries (payload, manifest, w0) "
                "VALUES ('\\x01', '\\x00', 7)"
            )
    assert [e.manifest for e in store.by_payload(b"k" * 8)] == [b"first"]


def test_bad_entries_are_store_errors(store: PostgresManifestStore) -> None:
    with pytest.raises(StoreError, match="payload or a fingerprint"):
        store.put(None, b"m")
    with pytest.raises(StoreError, match="32-byte"):
        store.put(b"k" * 8, b"m", fingerprint=b"short")
    with pytest.raises(StoreError, match="32-byte"):
        store.by_fingerprint(b"short", 31)
    with pytest.raises(StoreError, match="non-empty"):
        store.put(b"k" * 8, b"")
    with pytest.raises(StoreError, match="manifest_id"):
        store.put(b"k" * 8, b"m", manifest_id="")
    with pytest.raises(StoreError, match="payload bytes"):
        store.by_payload(b"")


def _writer(url: str, start: int) -> None:
    store = PostgresManifestStore(url)
    for i in range(start, start + 20):
        store.put(i.to_bytes(8, "big"), f"manifest {i}".encode(), fingerprint=bytes([i]) * 32)
    store.close()


def test_parallel_processes_write_one_store(db_url: str, store: PostgresManifestStore) -> None:
    store.put(b"\xff" * 8, b"warm")  # the parent holds an open pool meanwhile
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(db_url, n * 100)) for n in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    assert len(store) == 41
    assert [e.manifest for e in store.by_payload((105).to_bytes(8, "big"))] == [b"manifest 105"]
    # Registered by another process, found here at once: nothing is cached per process.
    ((entry, distance),) = store.by_fingerprint(bytes([105]) * 32, 0)
    assert entry.manifest == b"manifest 105" and distance == 0


def _open_at_once(url: str, barrier: Any, n: int) -> None:
    barrier.wait(30)
    PostgresManifestStore(url).put(bytes([n]) * 8, b"m", manifest_id=f"urn:c2pa:{n}")


def test_processes_creating_the_schema_at_once_create_it_once(db_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_open_at_once, args=(db_url, barrier, n)) for n in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    with psycopg.connect(db_url) as conn:
        versions = conn.execute("SELECT version FROM aiwatermark_schema_version").fetchall()
    assert versions == [(1,), (2,)]
    store = PostgresManifestStore(db_url)
    assert len(store) == 3 and store.by_id("urn:c2pa:2") is not None
    store.close()


def test_a_dropped_connection_is_replaced(db_url: str, store: PostgresManifestStore) -> None:
    store.put(b"a" * 8, b"first")
    for call in (lambda: store.by_payload(b"a" * 8), lambda: store.put(b"b" * 8, b"second")):
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        call()  # the dead pooled connection is noticed, and the call runs on a new one
    assert [e.manifest for e in store.by_payload(b"b" * 8)] == [b"second"]


def test_unreachable_servers_are_store_errors_without_the_password(
    postgres_url: str, unused_port: int
) -> None:
    refused = PostgresManifestStore(f"postgresql://app:{PASSWORD}@127.0.0.1:{unused_port}/x")
    with pytest.raises(StoreError, match=f"127.0.0.1:{unused_port}.*check that") as caught:
        refused.by_payload(b"k" * 8)
    assert PASSWORD not in str(caught.value)

    missing = PostgresManifestStore(with_database(postgres_url, "no_such_db"))
    with pytest.raises(StoreError, match="no_such_db") as caught:
        missing.put(b"k" * 8, b"m")
    assert PASSWORD not in str(caught.value)

    # libpq quotes the part of a URL it cannot parse, here the password.
    with pytest.raises(StoreError, match="not a valid PostgreSQL URL") as caught:
        PostgresManifestStore(f"postgresql://app:{PASSWORD}%zz@127.0.0.1:{unused_port}/x")
    assert PASSWORD not in str(caught.value)
    with pytest.raises(InvalidArgumentError, match="postgresql://"):
        PostgresManifestStore("mysql://app@db/x")


def test_a_server_that_stops_is_a_store_error(postgres_url: str) -> None:
    # A server of its own (started like the session's, so skipped or failed like it).
    with running_postgres() as url:
        store = PostgresManifestStore(with_database(url, "postgres"), timeout=2)
        store.put(b"k" * 8, b"m")
    host = urllib.parse.urlsplit(url).netloc.split("@")[1]
    for call in (lambda: store.by_payload(b"k" * 8), lambda: store.put(b"j" * 8, b"m")):
        with pytest.raises(StoreError, match=f"cannot connect .* at {host}") as caught:
            call()
        assert PASSWORD not in str(caught.value)
    store.close()


def test_threads_share_one_pool(db_url: str) -> None:
    with PostgresManifestStore(db_url, max_size=3) as shared:

        def register_and_read(i: int) -> int:
            key = i.to_bytes(8, "big")
            shared.put(key, b"m", fingerprint=bytes([i]) * 32, manifest_id=f"urn:c2pa:{i}")
            return len(shared.by_payload(key)) + len(shared.by_fingerprint(bytes([i]) * 32, 0))

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(register_and_read, range(40))) == [2] * 40
        assert len(shared) == 40


def test_importing_the_module_does_not_import_psycopg() -> None:
    code = (
        "import sys, aiwatermark, aiwatermark.store._postgres; "
        "assert not {'psycopg', 'psycopg_pool'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_psycopg_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg_pool", None)  # import fails as if absent
    with pytest.raises(StoreError, match=r"pip install 'aiwatermark\[postgres\]'"):
        PostgresManifestStore("postgresql://app@db.example/marks")


def test_mark_then_verify_a_stripped_copy_recovers_the_manifest(
    store: PostgresManifestStore, photo: Image.Image
) -> None:
    marked = aiwatermark.mark(photo, store=store, generator="Example Diffusion 2")
    assert marked.stored and marked.data is not None and marked.manifest_label
    image = imageio.open(marked.data)
    image.info = {}
    stripped = imageio.encode(image, "PNG", keep_metadata=False)

    report = aiwatermark.verify(stripped, store=store)

    assert report.manifest_origin == "recovered" and report.recovered
    assert report.content_id == marked.content_id
    assert report.provenance is not None
    assert report.provenance.manifest_label == marked.manifest_label
    assert report.consistent is True and report.tampered is False
    entry = store.by_id(marked.manifest_label)
    assert entry is not None and entry.payload == marked.payload
    assert marked.fingerprint is not None and entry.fingerprint == marked.fingerprint.value


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
