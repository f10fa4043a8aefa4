"""Batches: :func:`mark_many` and :func:`verify_many` run :func:`~aiwatermark.mark` or
:func:`~aiwatermark.verify` over many images, in worker processes when ``jobs`` > 1.

The work is CPU-bound Python and numpy, so the pool is of processes, started with ``spawn``
(the C2PA library's native threads do not survive a fork). Results come back as
:class:`ItemResult` objects, one per item, an error included, through a :class:`Batch`
iterator that can be stopped: it stops handing out items and lets the running ones finish,
or, closed, terminates them and removes their partial outputs.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import functools
import multiprocessing
import os
import pickle
import signal
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

from . import _pipeline, consent, imageio, keys, provenance
from ._pipeline import MarkResult
from .errors import (
    AiWatermarkError,
    BatchStoppedError,
    InvalidArgumentError,
    WorkerCrashedError,
)
from .report import VerificationReport
from .store import StoreLike


class _Reportable(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=_Reportable)

Destination = str | os.PathLike[str]
MarkItem = imageio.ImageSource | tuple[imageio.ImageSource, Destination]
"""A source to mark into bytes, or a ``(source, destination)`` pair to mark into a file."""

Progress = Callable[[int, int | None], None]
"""``progress(done, total)`` after each result; ``total`` is None for an unsized iterable."""


@dataclass(frozen=True, repr=False)
class ItemResult(Generic[R]):
    """The outcome of one batch item: its ``result``, or the ``error`` that stopped it.

    ``index`` is the item's position in the input, ``source`` the image as given and
    ``destination`` the output path of a ``(source, destination)`` item (None otherwise).

    Example:
        >>> import aiwatermark
        >>> [item] = aiwatermark.verify_many(["no-such.jpg"], store=False)
        >>> item
        ItemResult(index=0, source='no-such.jpg', error=UnsupportedImageError("'no-such.jpg': no such file"))
    """  # noqa: E501

    index: int
    source: object
    result: R | None = None
    error: AiWatermarkError | None = None
    destination: Path | None = None

    @property
    def ok(self) -> bool:
        """True when the item succeeded (``result`` is set)."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; ``error`` is ``{"code": <exception class>, "message": ...}``.

        Example:
            >>> import aiwatermark
            >>> [item] = aiwatermark.verify_many(["no-such.jpg"], store=False)
            >>> item.to_dict()["error"]["code"]
            'UnsupportedImageError'
        """
        return {
            "index": self.index,
            "source": _source_name(self.source),
            "destination": None if self.destination is None else str(self.destination),
            "ok": self.ok,
            "result": None if self.result is None else self.result.to_dict(),
            "error": None
            if self.error is None
            else {"code": type(self.error).__name__, "message": str(self.error)},
        }

    def __repr__(self) -> str:
        where = f", destination={str(self.destination)!r}" if self.destination else ""
        outcome = f"result={self.result!r}" if self.error is None else f"error={self.error!r}"
        return (
            f"ItemResult(index={self.index}, source={_source_name(self.source)!r}{where}, "
            f"{outcome})"
        )


def _source_name(source: object) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return imageio.describe(source)


# A task takes one item's source and destination, and the batch's options as keywords.
_Task = Callable[..., Any]

# Each worker's task with the options bound, by the pool initializer: the options (a signer,
# a likeness record) cross the process boundary once per worker, not once per item.
_worker_task: Callable[[object, Path | None], Any] | None = None


@contextlib.contextmanager
def sigint_held() -> Iterator[None]:
    """Hold Ctrl-C back for the block: a Ctrl-C pressed meanwhile arrives as it ends.

    While worker processes start: they inherit the blocked signal. A terminal's Ctrl-C
    reaches the whole process group, workers included, but the parent decides what stops;
    a worker still importing aiwatermark would print a traceback. While the CLI reports a
    result: it is listed whole or not at all.
    """
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no process groups to speak of
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


# Thread pools of the numeric libraries (OpenBLAS, OpenMP, MKL) size themselves to every core
# in every worker; N workers then run N × cores busy-waiting threads on N cores. (On 2 busy
# cores, even one process marked at 2.75 images/s with its default threads and 7.33 with one.)
_ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _workers_single_threaded() -> Iterator[None]:
    """Start worker processes with one numeric thread each, unless the user chose a number.

    A spawned worker reads these variables when it imports numpy, before any code of ours
    runs in it, so they are set in the parent's environment just while workers start.
    """
    added = [name for name in _ONE_THREAD if name not in os.environ]
    for name in added:
        os.environ[name] = "1"
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def _start_worker(task: _Task, options: dict[str, Any]) -> None:
    # Where SIGINT could not be held back at start-up, from here on at least.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _worker_task
    _worker_task = functools.partial(task, **options)


def _run_in_worker(source: object, destination: Path | None) -> Any:
    assert _worker_task is not None, "the pool initializer did not run"
    return _attempt(_worker_task, source, destination)


def _attempt(
    task: Callable[[object, Path | None], Any], source: object, destination: Path | None
) -> Any:
    try:
        return task(source, destination)
    except AiWatermarkError:
        raise
    except Exception as exc:  # one odd file must not take the batch down
        raise AiWatermarkError(f"{imageio.describe(source)}: unexpected error: {exc!r}") from None


class Batch(Iterator[ItemResult[R]]):
    """The results of :func:`mark_many` or :func:`verify_many`, one :class:`ItemResult` per
    item, as they are ready; a context manager that shuts its worker pool down.

    Ctrl-C while iterating raises ``KeyboardInterrupt`` and stops the batch (:meth:`stop`):
    no new item starts, and iterating on yields the items that were running once they
    finish. A second Ctrl-C, or :meth:`close`, abandons those instead.

    Example:
        >>> import aiwatermark
        >>> with aiwatermark.verify_many(["fixtures/coffee.png"], store=False) as batch:
        ...     [item.result.ai_generated for item in batch]
        [None]
    """

    def __init__(
        self,
        task: _Task,
        items: Iterable[tuple[object, Path | None]],
        options: dict[str, Any],
        *,
        jobs: int | None,
        ordered: bool,
        progress: Progress | None,
        total: int | None,
    ) -> None:
        self._task = task
        self._options = options
        self._items = iter(items)
        self._ordered = ordered
        self._progress = progress
        self.total = total
        """How many items the batch has, when the input has a length (else None)."""
        self.done = 0
        """How many results have been handed out so far."""
        self._jobs = _worker_count(jobs, total)
        if self._jobs > 1:
            try:
                pickle.dumps(options)
            except Exception as exc:
                raise InvalidArgumentError(
                    f"jobs={self._jobs} sends the options to worker processes, but one of them "
                    f"cannot be sent ({exc}); pass stores as paths or URLs, not open objects"
                ) from None
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._running: dict[concurrent.futures.Future[Any], tuple[int, object, Path | None]] = {}
        self._finished: dict[int, ItemResult[R]] = {}
        self._submitted = 0
        self._suspects: collections.deque[tuple[int, object, Path | None]] = collections.deque()
        self._retried: set[int] = set()
        self._next_index = 0  # the next index to hand out, in ordered mode
        self._exhausted = False
        self._stopping = False
        self._closed = False

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` or :meth:`close` was called (or Ctrl-C pressed)."""
        return self._stopping

    def __iter__(self) -> Batch[R]:
        return self

    def __next__(self) -> ItemResult[R]:
        try:
            while True:
                result = self._take_finished()
                if result is not None:
                    self.done += 1
                    if self._progress is not None:
                        try:
                            self._progress(self.done, self.total)
                        except KeyboardInterrupt:
                            # Not handed out yet: the next iteration hands it out again.
                            # (The handler below stops the batch, so it is handed out in
                            # index order, whatever ``_next_index`` says.)
                            self._finished[result.index] = result
                            self.done -= 1
                            raise
                    return result
                if self._jobs == 1:
                    self._run_next_here()
                elif not self._submit():
                    self._shutdown()
                    raise StopIteration
                else:
                    self._wait()
        except KeyboardInterrupt:
            if self._stopping:
                self.close()
            else:
                self.stop()
            raise

    def stop(self) -> None:
        """Start no new item; the running ones finish and are still handed out.

        Example:
            >>> import aiwatermark
            >>> batch = aiwatermark.verify_many(["fixtures/coffee.png"] * 3, store=False)
            >>> batch.stop(); list(batch)
            []
        """
        self._stopping = True
        self._suspects.clear()  # not running: as if never started
        for future in list(self._running):
            future.cancel()  # only those not yet handed to a worker
        for future in [f for f in self._running if f.cancelled()]:
            del self._running[future]

    def close(self) -> None:
        """Stop now: running items are terminated and their partial outputs removed; each is
        handed out as a :class:`~aiwatermark.BatchStoppedError` by any further iteration.

        Example:
            >>> import aiwatermark
            >>> batch = aiwatermark.verify_many(["fixtures/coffee.png"], store=False)
            >>> batch.close(); batch.stopped
            True
        """
        if self._closed:
            return
        self.stop()
        self._closed = True
        self._exhausted = True
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # ProcessPoolExecutor.terminate_workers() arrives only in Python 3.14.
        workers = getattr(pool, "_processes", None)
        processes = list(workers.values()) if isinstance(workers, dict) else []
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(10)
        for future, (index, source, destination) in list(self._running.items()):
            finished = future.done() and not future.cancelled() and future.exception() is None
            if finished:
                self._finished[index] = self._collect(future, index, source, destination)
            else:
                if destination is not None:
                    for partial in imageio.partial_files(destination):
                        with contextlib.suppress(OSError):
                            partial.unlink()
                self._finished[index] = _stopped(index, source, destination)
        self._running.clear()

    def __enter__(self) -> Batch[R]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _take_finished(self) -> ItemResult[R] | None:
        if not self._finished:
            return None
        if self._ordered and not self._stopping:
            if self._next_index not in self._finished:
                return None
            index = self._next_index
            self._next_index += 1
        elif self._ordered:
            index = min(self._finished)
        else:
            index = next(iter(self._finished))
        return self._finished.pop(index)

    def _next_item(self) -> tuple[int, object, Path | None] | None:
        if self._stopping or self._exhausted:
            return None
        try:
            source, destination = next(self._items)
        except StopIteration:
            self._exhausted = True
            return None
        index = self._submitted
        self._submitted += 1
        return index, source, destination

    def _run_next_here(self) -> None:
        item = self._next_item()
        if item is None:
            raise StopIteration
        index, source, destination = item
        try:
            outcome = _attempt(functools.partial(self._task, **self._options), source, destination)
        except AiWatermarkError as exc:
            self._finished[index] = ItemResult(index, source, error=exc, destination=destination)
        except KeyboardInterrupt:
            # The write is atomic, so an interrupted item leaves no partial output behind.
            self._finished[index] = _stopped(index, source, destination)
            raise
        else:
            self._finished[index] = ItemResult(
                index, source, result=outcome, destination=destination
            )

    def _submit(self) -> bool:
        """Keep the pool busy without reading the whole input ahead; False when all is done."""
        if self._suspects and not self._stopping:
            # One at a time, so the item that kills a worker takes no other down with it.
            if not self._running:
                self._start(*self._suspects.popleft())
            return True
        # Two items per worker: none idles between one result and the next submission, and
        # after a stop at most that many still run. Finished but unyielded results count, so
        # an ordered batch waiting on a slow item does not buffer without bound.
        window = 2 * self._jobs
        while len(self._running) + len(self._finished) < window:
            item = self._next_item()
            if item is None:
                break
            self._start(*item)
        return bool(self._running)

    def _start(self, index: int, source: object, destination: Path | None) -> None:
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self._jobs,
                multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self._task, self._options),
            )
        # submit() is where the pool starts its workers
        with sigint_held(), _workers_single_threaded():
            future = self._pool.submit(_run_in_worker, source, destination)
            self._running[future] = (index, source, destination)

    def _wait(self) -> None:
        done, _ = concurrent.futures.wait(
            self._running, return_when=concurrent.futures.FIRST_COMPLETED
        )
        crashed = False
        for future in done:
            index, source, destination = self._running[future]
            result = self._collect(future, index, source, destination)
            if isinstance(result.error, WorkerCrashedError):
                crashed = True
                # Any item in flight may be the culprit: each gets one more try, alone.
                if index not in self._retried:
                    self._retried.add(index)
                    self._suspects.append((index, source, destination))
                    del self._running[future]
                    continue
            self._finished[index] = result
            del self._running[future]  # only now: a Ctrl-C in between must not lose it
        if crashed and self._pool is not None:
            # A broken pool fails everything it holds; the rest of the batch gets a new one.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _collect(
        self,
        future: concurrent.futures.Future[Any],
        index: int,
        source: object,
        destination: Path | None,
    ) -> ItemResult[R]:
        try:
            return ItemResult(index, source, result=future.result(), destination=destination)
        except AiWatermarkError as exc:
            error: AiWatermarkError = exc
        except BrokenProcessPool as exc:
            error = WorkerCrashedError(
                f"{imageio.describe(source)}: the worker process died while this image was in "
                f"flight (out of memory, or a crash in a native library): {exc}"
            )
        except Exception as exc:  # e.g. a source that cannot be sent to a worker
            error = AiWatermarkError(f"{imageio.describe(source)}: {exc}")
        return ItemResult(index, source, error=error, destination=destination)

    def _shutdown(self) -> None:
        self._exhausted = True
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


def _stopped(index: int, source: object, destination: Path | None) -> ItemResult[Any]:
    error = BatchStoppedError(f"{imageio.describe(source)}: stopped before it finished")
    return ItemResult(index, source, error=error, destination=destination)


def _worker_count(jobs: int | None, total: int | None) -> int:
    if jobs is None or jobs == 0:
        jobs = os.cpu_count() or 1
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 0:
        raise InvalidArgumentError(f"jobs must be a positive number of processes, not {jobs!r}")
    # Starting a worker costs an import of aiwatermark: never more workers than items.
    return max(1, min(jobs, total)) if total is not None else jobs


def _mark_task(source: object, destination: Path | None, **options: Any) -> MarkResult:
    return _pipeline.mark(source, destination, **options)  # type: ignore[arg-type]


def _verify_task(source: object, destination: Path | None, **options: Any) -> VerificationReport:
    return _pipeline.verify(source, **options)  # type: ignore[arg-type]


def _mark_pairs(items: Iterable[MarkItem]) -> Iterator[tuple[object, Path | None]]:
    for item in items:
        if isinstance(item, tuple):
            if len(item) != 2:
                raise InvalidArgumentError(
                    f"a mark_many item is a source or a (source, destination) pair, not a "
                    f"tuple of {len(item)}"
                )
            yield item[0], Path(os.fspath(item[1]))
        else:
            yield item, None


def mark_many(
    items: Iterable[MarkItem],
    *,
    jobs: int | None = 1,
    ordered: bool = True,
    progress: Progress | None = None,
    label: str | None = "AI-generated",
    font: str | os.PathLike[str] | None = None,
    watermark: bool = True,
    key: str | bytes | None = None,
    signer: keys.Signer | bool | None = None,
    generator: str | None = None,
    likeness: consent.Use | None = None,
    consent_override: str | None = None,
    format: str | None = None,
    store: StoreLike = None,
    overwrite: bool = False,
) -> Batch[MarkResult]:
    """Mark many images: :func:`~aiwatermark.mark` on each item, ``jobs`` at a time.

    Each item is a source (marked into ``MarkResult.data``) or a ``(source, destination)``
    pair. Results come as :class:`ItemResult` objects in input order, or as they complete
    with ``ordered=False``; an item that fails carries its error instead of stopping the
    batch. ``jobs`` is the number of worker processes (1: in this process; 0 or None: one per
    CPU). ``progress(done, total)`` is called after each result. The other options are
    :func:`~aiwatermark.mark`'s, the same for every item; the development signer, when used,
    is created once, here. With ``jobs`` > 1 they must pickle: give a store as a path or URL.

    Items are read from ``items`` as workers free up, so a generator of 100,000 paths is fine.
    Use the batch as a context manager: leaving it stops the pool (see :class:`Batch` for
    Ctrl-C).

    Raises:
        InvalidArgumentError: ``jobs`` is negative, or an option cannot go to a worker.

    Example:
        >>> import aiwatermark, tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp())
        >>> pairs = [("fixtures/astronaut.jpg", out / "a.jpg"), ("fixtures/coffee.png", out / "c.png")]
        >>> with aiwatermark.mark_many(pairs, signer=False, store=False) as batch:
        ...     [item.result.path.name for item in batch]
        ['a.jpg', 'c.png']
    """  # noqa: E501
    if signer is None or signer is True:
        signer = keys.dev_signer()  # once, here: workers must not race to create it
    options: dict[str, Any] = {
        "label": label,
        "font": font,
        "watermark": watermark,
        "key": key,
        "signer": signer,
        "generator": generator,
        "likeness": likeness,
        "consent_override": consent_override,
        "format": format,
        "store": store,
        "overwrite": overwrite,
    }
    return Batch(
        _mark_task,
        _mark_pairs(items),
        options,
        jobs=jobs,
        ordered=ordered,
        progress=progress,
        total=_length(items),
    )


def verify_many(
    items: Iterable[imageio.ImageSource],
    *,
    jobs: int | None = 1,
    ordered: bool = True,
    progress: Progress | None = None,
    key: str | bytes | None = None,
    trust_anchors: provenance.TrustAnchors | None = None,
    store: StoreLike | Sequence[StoreLike] = None,
    label: str = "AI-generated",
    font: str | os.PathLike[str] | None = None,
) -> Batch[VerificationReport]:
    """Verify many images: :func:`~aiwatermark.verify` on each item, ``jobs`` at a time.

    Results come as :class:`ItemResult` objects (``result`` a
    :class:`~aiwatermark.VerificationReport`) in input order, or as they complete with
    ``ordered=False``; an unreadable image carries its error instead of stopping the batch.
    ``jobs``, ``progress`` and the batch itself work as in :func:`mark_many`; the other
    options are :func:`~aiwatermark.verify`'s.

    Raises:
        InvalidArgumentError: ``jobs`` is negative, or an option cannot go to a worker.

    Example:
        >>> import aiwatermark
        >>> files = ["fixtures/astronaut.jpg", "fixtures/coffee.png", "fixtures/chelsea.webp"]
        >>> with aiwatermark.verify_many(files, jobs=1, store=False) as batch:
        ...     [(item.index, item.ok) for item in batch]
        [(0, True), (1, True), (2, True)]
    """
    options: dict[str, Any] = {
        "key": key,
        "trust_anchors": trust_anchors,
        "store": store,
        "label": label,
        "font": font,
    }
    return Batch(
        _verify_task,
        ((item, None) for item in items),
        options,
        jobs=jobs,
        ordered=ordered,
        progress=progress,
        total=_length(items),
    )


def _length(items: Iterable[object]) -> int | None:
    try:
        return len(items)  # type: ignore[arg-type]
    except TypeError:
        return None


__all__ = ["Batch", "ItemResult", "MarkItem", "Progress", "mark_many", "verify_many"]
