"""Blocking work off the event loop: CPU-bound calls a few at a time, store calls beside them.

Decoding, watermark detection, fingerprints, C2PA checks and ``verify`` take a CPU each for
tens of milliseconds to seconds; on the event loop one upload would stall every request. They
run in threads (numpy, Pillow, PDQ and c2pa release the GIL), at most ``workers`` at once, so
a burst of uploads queues instead of overcommitting memory and cores.

A request that times out must answer at once, but a thread cannot be killed: the job is
therefore run by a task of the pool, not of the request. A request that gives up takes its
job out of the queue if it has not started; a running one finishes, keeping its worker slot
until then, so the pool's bound holds even when clients give up.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar, cast

import anyio
import anyio.abc
import anyio.to_thread

from ._errors import ShuttingDownError

_T = TypeVar("_T")

_IO_THREADS = 16
"""Threads for store calls: short, mostly waiting on disk or network, never CPU-bound."""


class _Outcome(Generic[_T]):
    """The value or exception of a job, handed from the pool's task to the request's."""

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.value: _T | None = None
        self.error: Exception | None = None
        self.finished = False


class WorkerPool:
    """Threads for blocking calls: ``cpu()`` bounded by ``workers``, ``io()`` by a few more.

    Use it inside ``async with pool.running():`` (the app's lifespan); outside it calls still
    run in threads, but a request that gives up then waits for its running call to finish.

    Example:
        >>> import anyio
        >>> from aiwatermark.service._workers import WorkerPool
        >>> async def demo():
        ...     pool = WorkerPool(2)
        ...     async with pool.running():
        ...         return await pool.cpu(lambda: sum(range(10)))
        >>> anyio.run(demo)
        45
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._cpu = anyio.CapacityLimiter(workers)
        self._io = anyio.CapacityLimiter(_IO_THREADS)
        self._group: anyio.abc.TaskGroup | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[WorkerPool]:
        """Run the pool's tasks; on exit, queued jobs are dropped and running ones finish."""
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                yield self
            finally:
                self._group = None
                group.cancel_scope.cancel()

    async def cpu(self, func: Callable[[], _T]) -> _T:
        """Run ``func()`` in a thread once one of the ``workers`` slots is free."""
        return await self._run(self._cpu, func)

    async def io(self, func: Callable[[], _T]) -> _T:
        """Run a store call ``func()`` in a thread (not counted against ``workers``)."""
        return await self._run(self._io, func)

    async def _run(self, limiter: anyio.CapacityLimiter, func: Callable[[], _T]) -> _T:
        group = self._group
        if group is None:
            return await anyio.to_thread.run_sync(func, limiter=limiter)
        outcome: _Outcome[_T] = _Outcome()
        scope = anyio.CancelScope()

        async def job() -> None:
            try:
                with scope:
                    # Waiting for a slot can be cancelled; once the thread runs, run_sync
                    # shields it, so the slot stays taken until the thread is done.
                    outcome.value = await anyio.to_thread.run_sync(func, limiter=limiter)
                    outcome.finished = True
            except Exception as exc:  # handed to the request, raised there
                outcome.error = exc
            finally:
                outcome.done.set()

        group.start_soon(job)
        try:
            await outcome.done.wait()
        finally:
            if not outcome.done.is_set():  # the request gave up (timeout, shutdown)
                scope.cancel()
        if outcome.error is not None:
            raise outcome.error
        if not outcome.finished:  # the pool was stopped before the job could run
            raise ShuttingDownError("the server is shutting down; try again shortly")
        return cast(_T, outcome.value)
