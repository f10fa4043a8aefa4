"""``aiwatermark serve``: run a manifest repository (C2PA Soft Binding Resolution API).

Starlette and uvicorn come with the ``server`` extra; they are imported only when the
command runs, so the rest of the command line works without them.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import ipaddress
import math
import socket
import sys
from typing import TYPE_CHECKING

from ..errors import AiWatermarkError, KeyFileError, StoreError
from ._common import EXIT_OK, FORMATTER, UsageError, env_key

if TYPE_CHECKING:
    from starlette.applications import Starlette

EPILOG = """\
examples:
  aiwatermark serve --store manifests.sqlite3 --trust-anchors anchors.pem \\
      --write-tokens writers.txt
  aiwatermark serve --store manifests.sqlite3 --host 0.0.0.0 --port 8080 --workers 4
  aiwatermark serve --store postgresql://repo@db/manifests --processes 4   # 4 cores
  aiwatermark serve --store postgresql://repo@db/manifests --read-tokens readers.txt

Endpoints: GET /matches/byBinding, POST /matches/byBinding, POST /matches/byContent,
GET /manifests/{manifestId}, GET /services/supportedAlgorithms (the C2PA Soft Binding
Resolution API); POST /manifests (register; needs a write token and a signer chaining to
--trust-anchors); POST /verify (verify an uploaded image); GET / (the verify page).
Token files hold one token per line; lines starting with # are comments.
Stop it with Ctrl+C or SIGTERM: requests in progress are finished first.
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` command to ``commands``.

    Example:
        >>> import argparse
        >>> from aiwatermark.cli import _serve
        >>> parser = argparse.ArgumentParser(prog="aiwatermark")
        >>> _serve.add_parser(parser.add_subparsers(dest="command"))
        >>> parser.parse_args(["serve", "--store", "m.sqlite3"]).port
        8080
    """
    serve = commands.add_parser(
        "serve",
        help="run a manifest repository (C2PA Soft Binding Resolution API)",
        epilog=EPILOG,
        formatter_class=FORMATTER,
        description="Serve the manifests of a store over HTTP: look-ups by watermark or "
        "fingerprint, registration by trusted signers, and a verify page.",
    )
    serve.add_argument(
        "--store",
        required=True,
        metavar="URL",
        help="the manifest store: a SQLite file (created if missing) or a database URL",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, default=8080, help="port to listen on (default: 8080; 0 = any free)"
    )
    serve.add_argument(
        "--trust-anchors",
        metavar="PEM",
        help="CA certificates whose signers may register manifests and count as trusted",
    )
    serve.add_argument(
        "--key",
        metavar="SECRET",
        help="watermark key images were marked with (default: $AIWATERMARK_KEY)",
    )
    serve.add_argument(
        "--write-tokens",
        metavar="FILE",
        help="bearer tokens allowed to register manifests (default: none, read-only)",
    )
    serve.add_argument(
        "--read-tokens",
        metavar="FILE",
        help="bearer tokens required for look-ups and /verify (default: open to all)",
    )
    serve.add_argument(
        "--rights-holder-tokens",
        metavar="FILE",
        help='"TOKEN rights holder name" lines: who may read the per-use report of their '
        "twins and withdraw their consents",
    )
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="images processed at once (default: one per CPU)",
    )
    serve.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="server processes sharing the port, for more than one core (default: 1)",
    )
    serve.add_argument(
        "--max-upload-mb",
        type=float,
        default=40.0,
        metavar="N",
        help="largest request body in megabytes (default: 40)",
    )
    serve.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds a request may take before it is answered 503 (default: 30)",
    )
    serve.set_defaults(run=run)


def _check_numbers(args: argparse.Namespace) -> None:
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: not a port number (0 to 65535)")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: give at least 1")
    if args.processes < 1:
        raise UsageError(f"--processes {args.processes}: give at least 1")
    if not (math.isfinite(args.max_upload_mb) and args.max_upload_mb > 0):
        raise UsageError(f"--max-upload-mb {args.max_upload_mb:g}: give a positive size")
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError(f"--timeout {args.timeout:g}: give a positive number of seconds")


def _bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets for every address ``host`` names (``localhost``: IPv4 and IPv6).

    Bound here rather than by uvicorn so a port taken or a name that does not resolve is one
    line, and so ``--port 0`` can report the port the system chose.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise AiWatermarkError(f"cannot listen on {host!r}: {exc.strerror}") from None
    sockets: list[socket.socket] = []
    skipped: OSError | None = None
    seen: set[tuple[int, str]] = set()
    for family, kind, proto, _, address in infos:
        if (family, str(address[0])) in seen:
            continue
        seen.add((family, str(address[0])))
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            # With --port 0 every address gets the port the first one was given.
            chosen = sockets[0].getsockname()[1] if sockets else port
            sock.bind((address[0], chosen, *address[2:]))
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                skipped = skipped or exc  # e.g. ::1 on a host without IPv6: the others do
                continue
            for bound in sockets:
                bound.close()
            raise AiWatermarkError(
                f"cannot listen on {_url(str(address[0]), chosen)} ({exc.strerror or exc})"
            ) from None
        sockets.append(sock)
    if not sockets:
        reason = skipped.strerror if skipped is not None else "no address"
        raise AiWatermarkError(f"cannot listen on {_url(host, port)} ({reason})")
    return sockets


def _url(host: str, port: int) -> str:
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).version == 6:
            return f"http://[{host}]:{port}"
    return f"http://{host}:{port}"


def _app(args: argparse.Namespace) -> Starlette:
    """The repository app, every configuration problem reported before anything listens."""
    from ..service import create_app, load_holder_tokens, load_tokens
    from ..store import open_store

    try:
        write_tokens = load_tokens(args.write_tokens) if args.write_tokens else ()
        read_tokens = load_tokens(args.read_tokens) if args.read_tokens else None
        holders = (
            load_holder_tokens(args.rights_holder_tokens) if args.rights_holder_tokens else None
        )
    except KeyFileError as exc:
        raise UsageError(str(exc)) from None
    try:
        store = open_store(args.store)
        assert store is not None  # a path or URL always names a store
        store.by_payload(bytes(8))  # a broken store shows now, not on the first request
    except StoreError as exc:
        raise AiWatermarkError(f"--store {args.store}: {exc}") from None
    try:
        return create_app(
            store,
            trust_anchors=args.trust_anchors,
            key=env_key(args.key),
            write_tokens=write_tokens,
            read_tokens=read_tokens,
            rights_holder_tokens=holders,
            workers=args.workers,
            max_upload_bytes=max(1, int(args.max_upload_mb * 1024 * 1024)),
            timeout=args.timeout,
        )
    except KeyFileError as exc:
        raise UsageError(f"--trust-anchors: {exc}") from None


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; 0 after a clean shutdown.

    Example:
        >>> from aiwatermark.cli import main
        >>> main(["serve", "--store", "m.sqlite3", "--write-tokens", "no-such-file"])
        2
    """
    _check_numbers(args)
    try:
        from ..service import _server
    except ImportError as exc:
        raise UsageError(
            f"serve needs the server extra ({exc.name} is missing): "
            "pip install 'aiwatermark[server]'"
        ) from None
    app = _app(args)
    if not args.write_tokens:
        print("aiwatermark: no --write-tokens: registration is closed", file=sys.stderr)
    elif not args.trust_anchors:
        print(
            "aiwatermark: no --trust-anchors: every registration will be refused "
            "(no signer is trusted)",
            file=sys.stderr,
        )
    sockets = _bind(args.host, args.port)
    url = _url(args.host, sockets[0].getsockname()[1])

    def announce() -> None:
        print(f"aiwatermark: serving {args.store} at {url} (Ctrl+C to stop)", flush=True)

    try:
        if args.processes > 1:
            started = _server.serve_processes(
                app, sockets, args.processes, on_ready=announce, timeout=args.timeout
            )
        else:
            started = _server.serve(app, sockets, on_ready=announce, timeout=args.timeout)
    finally:
        for sock in sockets:
            sock.close()
    if not started:
        raise AiWatermarkError(f"the server at {url} did not start")
    print("aiwatermark: stopped", file=sys.stderr, flush=True)
    return EXIT_OK
