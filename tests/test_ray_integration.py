"""Marking and verifying Ray Datasets on a local Ray instance with two workers: the results
are those of the single-process API, and manifests land in a store every worker shares."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

import aiwatermark
from aiwatermark.store import SQLiteManifestStore

ray = pytest.importorskip("ray", reason="Ray is optional: pip install 'aiwatermark[ray]'")

from aiwatermark.integrations import ray as aw_ray  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PHOTOS = [FIXTURES / "astronaut.jpg", FIXTURES / "coffee.png", FIXTURES / "chelsea.webp"]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.mark.usefixtures("local_ray")
def test_unsigned_marks_are_byte_identical_to_one_process(tmp_path: Path) -> None:
    payloads = [bytes([i]) * 8 for i in range(1, len(PHOTOS) + 1)]
    items = [{"path": str(p), "payload": b.hex()} for p, b in zip(PHOTOS, payloads, strict=True)]
    rows = aw_ray.mark_dataset(
        ray.data.from_items(items),
        tmp_path / "out",
        signer=False,
        payload_column="payload",
        batch_size=1,
    ).take_all()

    assert [row["source"] for row in rows] == [str(p) for p in PHOTOS]  # the input's order
    for row, path, payload in zip(rows, PHOTOS, payloads, strict=True):
        assert row["error"] is None
        single = aiwatermark.mark(path, payload=payload, signer=False, store=False)
        assert Path(row["output"]) == tmp_path / "out" / path.name
        assert Path(row["output"]).read_bytes() == single.data
        assert row["content_id"] == single.content_id
        assert row["layers"] == list(single.layers) and row["format"] == single.format


@pytest.mark.usefixtures("local_ray")
def test_a_shared_store_registers_every_manifest_and_verification_matches_one_process(
    tmp_path: Path, postgres_url: str
) -> None:
    images = ray.data.read_binary_files([str(p) for p in PHOTOS], include_paths=True)
    marked = aw_ray.mark_dataset(
        images, tmp_path / "marked", store=postgres_url, generator="Ray Test Diffusion"
    ).take_all()
    assert [row["error"] for row in marked] == [None] * len(PHOTOS)
    assert all(row["stored"] and "c2pa" in row["layers"] for row in marked)

    # A copy whose metadata a platform stripped, an unmarked photo and a broken file.
    stripped = tmp_path / "stripped.png"
    with Image.open(marked[0]["output"]) as image:
        image.convert("RGB").save(stripped)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(PHOTOS[0].read_bytes()[:3000])
    sources = [row["output"] for row in marked] + [str(stripped), str(PHOTOS[1]), str(broken)]

    checked = aw_ray.verify_dataset(
        ray.data.read_binary_files(sources, include_paths=True), store=postgres_url
    ).take_all()
    by_source = {Path(row["source"]).name: row for row in checked}
    assert set(by_source) == {Path(s).name for s in sources}
    assert by_source["broken.jpg"]["error"].startswith("CorruptImageError")
    for source in sources[:-1]:
        row = by_source[Path(source).name]
        single = aiwatermark.verify(row["source"], store=postgres_url)
        assert row["error"] is None
        assert json.loads(row["report"]) == json.loads(json.dumps(single.to_dict()))
        assert row["ai_generated"] == single.ai_generated
    assert by_source["stripped.png"]["content_id"] == marked[0]["content_id"]
    assert json.loads(by_source["stripped.png"]["report"])["manifest_origin"] == "recovered"


@pytest.mark.usefixtures("local_ray")
def test_a_per_worker_sqlite_store_is_refused_unless_allowed(tmp_path: Path) -> None:
    ds = ray.data.from_items([{"path": str(PHOTOS[1])}])
    sqlite = tmp_path / "manifests.sqlite3"
    for store in (None, str(sqlite), f"sqlite:///{sqlite}"):
        with pytest.raises(aiwatermark.InvalidArgumentError, match="shared store URL"):
            aw_ray.mark_dataset(ds, tmp_path / "out", store=store)
    with pytest.raises(aiwatermark.InvalidArgumentError, match="shared store URL"):
        aw_ray.verify_dataset(ds, store=["https://repo.example", str(sqlite)])
    with pytest.raises(aiwatermark.InvalidArgumentError, match="pass its URL"):
        aw_ray.mark_dataset(ds, tmp_path / "out", store=SQLiteManifestStore(sqlite))

    rows = aw_ray.mark_dataset(
        ds, tmp_path / "out", store=str(sqlite), allow_local_store=True
    ).take_all()
    assert rows[0]["error"] is None and rows[0]["stored"]
    assert SQLiteManifestStore(sqlite).by_payload(bytes.fromhex(rows[0]["content_id"]))


@pytest.mark.usefixtures("local_ray")
def test_outputs_go_to_a_filesystem_url_and_a_rerun_never_replaces_them(tmp_path: Path) -> None:
    ds = ray.data.from_items([{"path": str(p)} for p in PHOTOS])
    url = (tmp_path / "marked").as_uri()
    first = aw_ray.mark_dataset(ds, url, signer=False).take_all()
    assert [row["error"] for row in first] == [None] * len(PHOTOS)
    written = {p.name: p.read_bytes() for p in (tmp_path / "marked").iterdir()}
    assert sorted(written) == sorted(p.name for p in PHOTOS)

    again = aw_ray.mark_dataset(ds, url, signer=False).take_all()
    assert all(row["error"].startswith("OutputExistsError") for row in again)
    assert {p.name: p.read_bytes() for p in (tmp_path / "marked").iterdir()} == written


@pytest.mark.usefixtures("local_ray")
def test_a_dataset_without_images_is_refused() -> None:
    with pytest.raises(aiwatermark.InvalidArgumentError, match="'bytes'"):
        aw_ray.verify_dataset(ray.data.from_items([{"name": "x"}]), store=False)
    with pytest.raises(aiwatermark.InvalidArgumentError, match=r"ray\.data\.Dataset"):
        aw_ray.verify_dataset([PHOTOS[0]], store=False)  # type: ignore[arg-type]


def test_without_ray_the_error_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "import aiwatermark\n"
        "from aiwatermark.integrations import ray as aw_ray\n"
        "try:\n"
        "    aw_ray.verify_dataset(object(), store=False)\n"
        "except aiwatermark.MissingDependencyError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'aiwatermark[ray]'" in out.stdout
