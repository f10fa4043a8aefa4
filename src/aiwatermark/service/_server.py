"""Running the app under uvicorn: announce when ready, stop cleanly on SIGINT and SIGTERM."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator

import uvicorn
from starlette.applications import Starlette

_GRACE_SECONDS = 5.0
_FAILED_TO_START = 3  # a child's exit status: its app's start-up failed
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class _Server(uvicorn.Server):
    """uvicorn's server, saying when it listens and exiting normally after a stop signal."""

    def __init__(
        self,
        config: uvicorn.Config,
        on_ready: Callable[[], None],
        stops: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM),
    ) -> None:
        super().__init__(config)
        self._on_ready = on_ready
        self._stops = stops

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_ready()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn's own version raises the signal again once the server has stopped, which
        # would end the process as killed by it; a stop asked for is a normal exit here.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in self._stops}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(
    app: Starlette,
    sockets: list[socket.socket],
    *,
    on_ready: Callable[[], None],
    timeout: float,
    stops: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM),
) -> bool:
    """Serve ``app`` on the listening ``sockets`` until SIGINT or SIGTERM.

    ``on_ready`` is called once the app has started and the sockets accept connections.
    On a stop signal no new connection is taken; requests in progress get ``timeout`` (their
    own limit) and a few seconds more before they are cancelled. Returns False when the
    server did not start.

    Example:
        >>> from aiwatermark.service._server import serve
        >>> serve(app, sockets, on_ready=lambda: print("ready"), timeout=30)  # doctest: +SKIP
        ready
        True
    """
    config = uvicorn.Config(
        app,
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=int(timeout + _GRACE_SECONDS),
        log_level="info",
    )
    server = _Server(config, on_ready, stops)
    try:
        server.run(sockets=sockets)
    except SystemExit:  # uvicorn's way of saying the app's start-up failed
        return False
    return server.started


def _stop_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its supervisor dies (even by SIGKILL), so
    no orphaned server keeps the port; elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


def serve_processes(
    app: Starlette,
    sockets: list[socket.socket],
    processes: int,
    *,
    on_ready: Callable[[], None],
    timeout: float,
) -> bool:
    """Serve ``app`` from ``processes`` forked processes sharing the listening ``sockets``.

    One Python process serves HTTP on one core at a time; the kernel spreads connections
    over the processes accepting on the same socket. Each process opens its own database
    connections and worker threads after the fork (the stores reopen them when they see a
    new process ID). This process only supervises: SIGINT or SIGTERM stops every server
    gracefully; a server that dies is started again. ``on_ready`` is called by the first.
    Returns False when a server did not start.

    Example:
        >>> from aiwatermark.service._server import serve_processes
        >>> serve_processes(app, sockets, 4, on_ready=lambda: None, timeout=30)  # doctest: +SKIP
        True
    """
    children: dict[int, int] = {}
    stopping = False

    def start(index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the child: serve until the supervisor says stop
            # Ctrl+C reaches the whole process group; the supervisor alone decides, so a
            # server gets one stop (SIGTERM) and finishes its requests.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            _stop_with_parent()
            try:
                started = serve(
                    app,
                    sockets,
                    on_ready=on_ready if index == 0 else (lambda: None),
                    timeout=timeout,
                    stops=(signal.SIGTERM,),
                )
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(0 if started else _FAILED_TO_START)
        children[pid] = index

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for index in range(processes):
            start(index)
        healthy = True
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            index = children.pop(pid)
            if os.waitstatus_to_exitcode(status) == _FAILED_TO_START:
                healthy = False
                stop(signal.SIGTERM, None)
            elif not stopping:
                start(index)  # a crashed server is replaced; the others never stopped
        return healthy
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
