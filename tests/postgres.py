"""A real, throwaway PostgreSQL server for tests and benchmarks (no tests in here).

:func:`running_postgres` runs ``initdb`` and ``pg_ctl start`` from the Debian/Ubuntu
``postgresql`` package (``/usr/lib/postgresql/<version>/bin``) in a temporary folder: trust
authentication, a private Unix socket folder and a free TCP port on 127.0.0.1. PostgreSQL
refuses to run as root, and the tests and CI do run as root, so then the server runs as
``nobody`` (or a system user made for it) through ``runuser``. The server stops
(``pg_ctl stop -m immediate``) and its folder is removed on the way out.

:func:`postgres_url` is the session-scoped pytest fixture built on it: it skips the tests
when the binaries are missing, except in CI (``$CI`` set), where that is a failure, so CI
can never silently stop testing the PostgreSQL store. Import it in ``conftest.py``.

Example:
    >>> from postgres import running_postgres
    >>> with running_postgres() as url:  # doctest: +SKIP
    ...     print(url)
    postgresql://postgres@127.0.0.1:54123/postgres
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

INSTALL_HINT = "apt-get install -y postgresql"
_BINARY_GLOB = "/usr/lib/postgresql/*/bin"
_SYSTEM_USER = "aiwatermark-pg"
_START_ATTEMPTS = 3
_READY_SECONDS = 60.0

# Durability buys nothing for a server that is deleted after the run and costs seconds.
FAST_SETTINGS: Mapping[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
}


PASSWORD = "pw-Zq81xK"  # trust authentication ignores it; it must never show up anywhere


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


def find_bindir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb`` and ``pg_ctl``.

    Raises:
        PostgresUnavailable: none is installed (the message says how to install one).
    """
    found = [
        Path(d)
        for d in glob.glob(_BINARY_GLOB)
        if (Path(d) / "initdb").is_file() and (Path(d) / "pg_ctl").is_file()
    ]
    if not found:
        raise PostgresUnavailable(
            f"PostgreSQL server binaries not found in {_BINARY_GLOB}; install them with "
            f"`{INSTALL_HINT}` (Debian/Ubuntu)"
        )

    def version(path: Path) -> tuple[int, ...]:
        name = path.parent.name
        return tuple(int(p) for p in name.split(".") if p.isdigit()) or (0,)

    return max(found, key=version)


def _server_user() -> str | None:
    """Who runs the server: None (this user) unless we are root, which PostgreSQL refuses."""
    if os.geteuid() != 0:
        return None
    for name in ("nobody", _SYSTEM_USER):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _SYSTEM_USER],
        check=True,
        capture_output=True,
    )
    return _SYSTEM_USER


def _traversable_by_all(folder: Path) -> bool:
    return all(stat.S_IMODE(p.stat().st_mode) & 0o001 for p in [folder, *folder.resolve().parents])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(
    argv: Sequence[str], user: str | None, cwd: Path, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    command = ["runuser", "-u", user, "--", *argv] if user else list(argv)
    # The server's user may not be allowed into our working folder; C locale: no surprises.
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    env.pop("PGDATA", None)
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _check(result: subprocess.CompletedProcess[str], what: str, log: Path | None = None) -> None:
    if result.returncode == 0:
        return
    tail = ""
    if log is not None and log.exists():
        tail = "\n--- server log ---\n" + log.read_text(errors="replace")[-4000:]
    raise RuntimeError(
        f"{what} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}{tail}"
    )


def _kill_leftover(data: Path) -> None:
    """Last resort when ``pg_ctl stop`` failed: the postmaster's pid is in its pid file."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def running_postgres(
    settings: Mapping[str, str] | None = None, *, bindir: Path | None = None
) -> Iterator[str]:
    """Start a throwaway PostgreSQL server; yield its ``postgresql://`` URL; stop and delete it.

    ``settings`` are extra ``postgresql.conf`` lines (e.g. ``{"shared_buffers": "1GB"}``),
    on top of :data:`FAST_SETTINGS`.

    Raises:
        PostgresUnavailable: the binaries are missing.
        RuntimeError: they are there but the server did not start (with its log).
    """
    bindir = bindir or find_bindir()
    with _terminate_cleanly():
        yield from _serve(bindir, settings)


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """Turn SIGTERM (a CI time-out, ``kill``) into SystemExit while a server runs, so the
    ``finally`` below stops it: an orphaned postmaster would outlive the test run."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(
        signal.SIGTERM
    ) not in (signal.SIG_DFL, None):
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _serve(bindir: Path, settings: Mapping[str, str] | None) -> Iterator[str]:
    user = _server_user()
    base = Path(tempfile.gettempdir())
    if user and not _traversable_by_all(base):
        base = Path("/tmp")  # the server's user must be able to reach its folder
    root = Path(tempfile.mkdtemp(prefix="aiwatermark-pg-", dir=base))
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    sockets.mkdir()
    if user:
        entry = pwd.getpwnam(user)
        for path in (root, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    started = False
    try:
        _check(
            _run(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ],
                user,
                root,
            ),
            "initdb",
        )
        conf = {
            **FAST_SETTINGS,
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{sockets}'",
            **(settings or {}),
        }
        for attempt in range(_START_ATTEMPTS):
            port = _free_port()  # another process may grab it before the server does: retry
            lines = "".join(f"{k} = {v}\n" for k, v in {**conf, "port": str(port)}.items())
            # postgresql.auto.conf is read last, so a retry's port replaces the previous one.
            (data / "postgresql.auto.conf").write_text(lines)
            result = _run(
                [
                    str(bindir / "pg_ctl"),
                    "start",
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    str(int(_READY_SECONDS)),
                ],
                user,
                root,
                timeout=_READY_SECONDS + 30,
            )
            if result.returncode == 0:
                break
            if attempt + 1 == _START_ATTEMPTS:
                _check(result, "pg_ctl start", log)
        started = True
        _wait_ready(bindir, user, root, port, log)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            stopped = _run(
                [str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate", "-w"],
                user,
                root,
                timeout=60,
            )
            if stopped.returncode != 0:
                _kill_leftover(data)
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(bindir: Path, user: str | None, cwd: Path, port: int, log: Path) -> None:
    """``pg_ctl -w`` already waited for the postmaster; make sure TCP connections work too."""
    deadline = time.monotonic() + _READY_SECONDS
    while True:
        ready = _run(
            [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)],
            user,
            cwd,
            timeout=30,
        )
        if ready.returncode == 0:
            return
        if time.monotonic() > deadline:
            _check(ready, f"waiting for the server on port {port}", log)
        time.sleep(0.1)


def with_database(url: str, name: str, password: str | None = PASSWORD) -> str:
    """``url`` pointing at database ``name`` (with ``password`` in it, which trust
    authentication ignores)."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if password:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user}:{password}@{host}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, path="/" + name))


@pytest.fixture
def db_url(postgres_url: str) -> Iterator[str]:
    """A fresh, empty database on the session's server; its URL carries a password."""
    import psycopg

    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield with_database(postgres_url, name)
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A running throwaway PostgreSQL server for the whole session, as a URL.

    Skipped when PostgreSQL is not installed, but a failure in CI (``$CI`` set).
    """
    try:
        bindir = find_bindir()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} — CI must run the PostgreSQL store tests", pytrace=False)
        pytest.skip(str(exc))
    with running_postgres(bindir=bindir) as url:
        yield url
