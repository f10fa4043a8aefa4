"""``aiwatermark keys``: manage the local development signing identity."""

from __future__ import annotations

import argparse

from .. import keys
from ._common import EXIT_OK, FORMATTER

EPILOG = """\
examples:
  aiwatermark keys init           # create the local development signing identity
  aiwatermark keys init --force   # replace it

The development identity is self-signed: good for trying things out, not trusted by
anyone else. Use --cert/--private-key with "mark" for a certificate from a real CA.
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``keys`` command (and its ``init`` action) to ``commands``.

    Example:
        >>> import argparse
        >>> from aiwatermark.cli import _keys
        >>> parser = argparse.ArgumentParser(prog="aiwatermark")
        >>> _keys.add_parser(parser.add_subparsers(dest="command"))
        >>> parser.parse_args(["keys", "init", "--force"]).force
        True
    """
    keys_cmd = commands.add_parser(
        "keys",
        help="manage the local signing identity",
        epilog=EPILOG,
        formatter_class=FORMATTER,
        description="Manage the local development signing identity.",
    )
    keys_sub = keys_cmd.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    init = keys_sub.add_parser(
        "init",
        help="create the development signing identity",
        epilog=EPILOG,
        formatter_class=FORMATTER,
        description="Create a self-signed development certificate and key for C2PA signing.",
    )
    init.add_argument("--force", action="store_true", help="replace an existing identity")
    init.set_defaults(run=run_init)


def run_init(args: argparse.Namespace) -> int:
    """Create (or, with ``--force``, replace) the development identity and say where it is.

    Example:
        >>> from aiwatermark.cli import main
        >>> main(["keys", "init"])  # doctest: +SKIP
        development signing identity created: ...
        0
    """
    identity = keys.init_dev_identity(force=args.force)
    state = "created" if identity.created else "already exists (use --force to replace it)"
    print(f"development signing identity {state}: {identity.directory}")
    print(f"  certificate chain: {identity.cert_chain}")
    print(f"  private key:       {identity.private_key}")
    print(f"  root certificate:  {identity.root_certificate} (trust anchor for tests only)")
    return EXIT_OK
