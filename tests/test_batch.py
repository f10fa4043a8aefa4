"""mark_many / verify_many: order, as-completed, an error per item, progress, worker pools,
stopping; on real photographs with the real codecs."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import skimage
from PIL import Image

import aiwatermark
from aiwatermark import _batch, keys
from aiwatermark.store import open_store

SKIMAGE_DATA = Path(skimage.__file__).parent / "data"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIWATERMARK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AIWATERMARK_KEY", raising=False)


def _photos(folder: Path, count: int) -> list[Path]:
    """``count`` distinct real photographs (crops of scikit-image's), as JPEG and PNG."""
    names = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png"]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        with Image.open(SKIMAGE_DATA / names[i % len(names)]) as im:
            image = im.convert("RGB")
        x = 16 * (i // len(names))
        path = folder / f"p{i:02d}.{'png' if i % 4 == 3 else 'jpg'}"
        image.crop((x, x, x + 288, x + 272)).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def marked(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four marked photographs (no store, no signer: quick to verify) and their folder."""
    folder = tmp_path_factory.mktemp("marked")
    sources = _photos(folder / "in", 4)
    outputs = []
    for source in sources:
        out = folder / "out" / source.name
        aiwatermark.mark(source, out, signer=False, store=False)
        outputs.append(out)
    return outputs


def test_mark_many_keeps_order_and_gives_each_failure_its_item(
    photo_paths: list[Path], tmp_path: Path
) -> None:
    taken = tmp_path / "taken.png"
    taken.write_bytes(b"already here")
    items = [
        (photo_paths[0], tmp_path / "a.jpg"),
        (tmp_path / "missing.jpg", tmp_path / "m.jpg"),
        (photo_paths[1], taken),
        photo_paths[2],  # no destination: the encoded image comes back
    ]
    calls: list[tuple[int, int | None]] = []

    with aiwatermark.mark_many(
        items, store=False, progress=lambda done, total: calls.append((done, total))
    ) as batch:
        results = list(batch)

    assert [r.index for r in results] == [0, 1, 2, 3]
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    first, missing, existing, in_memory = results
    assert first.ok and first.result is not None and first.result.path == tmp_path / "a.jpg"
    assert first.result.layers == ("label", "watermark", "disclosure", "c2pa")
    assert aiwatermark.verify(tmp_path / "a.jpg", store=False).ai_generated is True
    assert isinstance(missing.error, aiwatermark.UnsupportedImageError)
    assert missing.destination == tmp_path / "m.jpg" and not (tmp_path / "m.jpg").exists()
    assert isinstance(existing.error, aiwatermark.OutputExistsError)
    assert taken.read_bytes() == b"already here"
    assert in_memory.result is not None and in_memory.result.data is not None
    assert in_memory.destination is None

    record = json.loads(json.dumps(missing.to_dict()))
    assert record["ok"] is False and record["source"] == str(tmp_path / "missing.jpg")
    assert record["error"]["code"] == "UnsupportedImageError"
    assert json.loads(json.dumps(first.to_dict()))["result"]["format"] == "JPEG"
    assert repr(missing).startswith("ItemResult(index=1, source=")
    assert "error=UnsupportedImageError(" in repr(missing)
    assert "result=MarkResult(" in repr(first)


def test_verify_many_in_two_processes_matches_one(marked: list[Path], tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(marked[0].read_bytes()[:700])
    items = [*marked, corrupt, marked[0]]

    with aiwatermark.verify_many(items, store=False) as batch:
        serial = list(batch)
    calls: list[int] = []
    with aiwatermark.verify_many(
        items, jobs=2, store=False, progress=lambda done, total: calls.append(done)
    ) as batch:
        ordered = list(batch)
    with aiwatermark.verify_many(iter(items), jobs=2, ordered=False, store=False) as batch:
        as_completed = list(batch)

    def summary(item: aiwatermark.ItemResult[aiwatermark.VerificationReport]) -> object:
        if item.result is None:
            return (item.index, type(item.error).__name__)
        return (item.index, item.result.ai_generated, item.result.content_id)

    assert [r.index for r in ordered] == list(range(len(items)))
    assert [summary(r) for r in ordered] == [summary(r) for r in serial]
    assert sorted(summary(r) for r in as_completed) == [summary(r) for r in serial]  # type: ignore[type-var]
    assert calls == list(range(1, len(items) + 1))
    assert isinstance(serial[4].error, aiwatermark.CorruptImageError)
    assert all(r.result is not None and r.result.ai_generated for r in serial if r.index != 4)


def test_stop_lets_the_running_items_finish(tmp_path: Path) -> None:
    sources = _photos(tmp_path / "in", 10)
    items = [(s, tmp_path / "out" / s.name) for s in sources]
    with aiwatermark.mark_many(items, jobs=2, ordered=False, signer=False, store=False) as batch:
        first = next(batch)
        batch.stop()
        rest = list(batch)
    reported = {r.destination for r in [first, *rest] if r.ok}
    assert all(r.ok for r in [first, *rest])
    assert 1 <= len(reported) < len(items)  # the rest never started
    written = set((tmp_path / "out").iterdir())
    assert written == reported
    for path in written:
        assert aiwatermark.verify(path, store=False).ai_generated is True


def test_ctrl_c_in_the_progress_callback_loses_no_result(tmp_path: Path) -> None:
    # Ctrl-C lands wherever the main thread is; in a progress callback, the result it was
    # about to hand out has been taken from the batch and must not vanish with the interrupt.
    sources = _photos(tmp_path / "in", 4)
    items = [(s, tmp_path / "out" / s.name) for s in sources]
    calls = []

    def progress(done: int, total: int | None) -> None:
        calls.append(done)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with aiwatermark.mark_many(items, signer=False, store=False, progress=progress) as batch:
        handed = [next(batch)]
        with pytest.raises(KeyboardInterrupt):
            next(batch)
        handed += list(batch)  # stopped: what finished is still handed out
    assert [r.index for r in handed] == [0, 1] and all(r.ok for r in handed)
    assert set((tmp_path / "out").iterdir()) == {r.destination for r in handed}


def test_close_abandons_the_running_items_without_partial_files(tmp_path: Path) -> None:
    sources = _photos(tmp_path / "in", 6)
    items = [(s, tmp_path / "out" / s.name) for s in sources]
    batch = aiwatermark.mark_many(items, jobs=2, signer=False, store=False)
    first = next(batch)
    batch.close()
    rest = list(batch)
    assert first.ok and batch.stopped
    for item in rest:
        assert item.ok or isinstance(item.error, aiwatermark.BatchStoppedError)
    out = tmp_path / "out"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files
    for path in out.iterdir():  # whatever is there is whole
        assert aiwatermark.verify(path, store=False).ai_generated is True


def test_batch_arguments_are_checked_up_front(photo_paths: list[Path], tmp_path: Path) -> None:
    with pytest.raises(aiwatermark.InvalidArgumentError, match="jobs"):
        aiwatermark.verify_many(photo_paths, jobs=-1)
    store = open_store(tmp_path / "manifests.sqlite3")
    with pytest.raises(aiwatermark.InvalidArgumentError, match="paths or URLs"):
        aiwatermark.verify_many(photo_paths, jobs=2, store=store)
    with pytest.raises(aiwatermark.InvalidArgumentError, match="pair"):
        list(aiwatermark.mark_many([(photo_paths[0], tmp_path / "a.jpg", "extra")]))  # type: ignore[list-item]


def test_a_signer_travels_to_worker_processes() -> None:
    signer = keys.dev_signer()
    copy = pickle.loads(pickle.dumps(signer))
    assert copy.subject == signer.subject and copy.cert_chain_pem == signer.cert_chain_pem
    assert repr(copy) == repr(signer)


class _KillsItsWorker:
    """A source whose unpickling ends the worker process at once, as an OOM kill would."""

    def __reduce__(self) -> tuple[object, tuple[int]]:
        return os._exit, (3,)


def test_a_dead_worker_fails_its_items_and_the_batch_goes_on(marked: list[Path]) -> None:
    items: list[object] = [_KillsItsWorker(), *marked, *marked]
    with aiwatermark.verify_many(items, jobs=2, store=False) as batch:  # type: ignore[arg-type]
        results = list(batch)
    assert [r.index for r in results] == list(range(len(items)))
    assert isinstance(results[0].error, aiwatermark.WorkerCrashedError)
    # The items in flight beside it were tried again, alone, in a fresh pool.
    assert all(r.result is not None and r.result.ai_generated for r in results[1:])


def _numeric_threads(source: object, destination: Path | None) -> tuple[str | None, ...]:
    return tuple(os.environ.get(name) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"))


def test_workers_run_one_numeric_thread_each_unless_the_user_chose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two workers with a BLAS thread per core each would oversubscribe a two-core machine.
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    items = [(index, None) for index in range(4)]
    batch = _batch.Batch(
        _numeric_threads, items, {}, jobs=2, ordered=True, progress=None, total=len(items)
    )
    with batch:
        seen = {item.result for item in batch}
    assert seen == {("2", "1")}
    assert "OPENBLAS_NUM_THREADS" not in os.environ  # the parent's own setting is untouched
