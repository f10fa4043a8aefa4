"""Running the app under uvicorn: announce when ready, stop cleanly on SIGINT and SIGTERM."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Iterator

import uvicorn
from starlette.applications import Starlette

_GRACE_SECONDS = 5.0


class _Server(uvicorn.Server):
    """uvicorn's server, saying when it listens and exiting normally after a stop signal."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

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
        stops = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in stops}
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
    server = _Server(config, on_ready)
    try:
        server.run(sockets=sockets)
    except SystemExit:  # uvicorn's way of saying the app's start-up failed
        return False
    return server.started
