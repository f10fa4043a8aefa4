"""``aiwatermark likeness``: register, show and revoke digital-twin consents; per-use report."""

from __future__ import annotations

import argparse
import datetime as dt
import json

from .. import consent
from ..errors import ConsentError
from ..store import open_store
from ._common import EXIT_OK, FORMATTER, UsageError, emit

EPILOG = """\
examples:
  aiwatermark likeness register consent.json
  aiwatermark likeness show ava-2026-001
  aiwatermark likeness revoke ava-2026-001 --reason "model withdrew consent"
  aiwatermark likeness report --subject subj-7f3a --from 2026-01-01 --to 2027-01-01 --csv

A consent record is a JSON object; see docs/digital-twins.md for its fields. Records are
never replaced: registering a changed record adds a version, and a withdrawal is final.
--store takes a path, postgresql://... or a repository URL (default: the local store).
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``likeness`` command and its actions to ``commands``.

    Example:
        >>> import argparse
        >>> from aiwatermark.cli import _likeness
        >>> parser = argparse.ArgumentParser(prog="aiwatermark")
        >>> _likeness.add_parser(parser.add_subparsers(dest="command"))
        >>> parser.parse_args(["likeness", "revoke", "c-1", "--reason", "withdrawn"]).reason
        'withdrawn'
    """
    likeness = commands.add_parser(
        "likeness",
        help="digital-twin consents: register, show, revoke, per-use report",
        epilog=EPILOG,
        formatter_class=FORMATTER,
        description="Manage the consents of digital twins and report every use of a twin.",
    )
    actions = likeness.add_subparsers(dest="likeness_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(
            name, help=help_text, description=help_text, epilog=EPILOG, formatter_class=FORMATTER
        )
        parser.add_argument("--store", metavar="URL", help="consent registry (default: local)")
        return parser

    register = action("register", "register a consent record (a new version if it changed)")
    register.add_argument("record", metavar="CONSENT.json", help="the consent record")
    register.set_defaults(run=run_register)

    show = action("show", "show a consent, its versions and whether it was withdrawn")
    show.add_argument("consent_ref", metavar="CONSENT_REF")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(run=run_show)

    revoke = action("revoke", "withdraw a consent from now on (final)")
    revoke.add_argument("consent_ref", metavar="CONSENT_REF")
    revoke.add_argument("--reason", required=True, help="why (kept with the withdrawal)")
    revoke.set_defaults(run=run_revoke)

    report = action("report", "every registered image of a twin, with totals per brand")
    report.add_argument("--subject", required=True, metavar="ID", help="the subject's ID")
    report.add_argument("--from", dest="start", metavar="DATE", help="from this UTC day")
    report.add_argument("--to", dest="end", metavar="DATE", help="up to (not including) this day")
    output = report.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument("--csv", action="store_true", help="print CSV, one row per use")
    report.set_defaults(run=run_report)


def _registry(store: str | None) -> consent.ConsentRegistry:
    registry = consent.registry_of(open_store(store))
    if registry is None:  # only a custom store object could lack one
        raise UsageError(f"--store {store!r} keeps no consent registry")
    return registry


def _day(text: str | None, option: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} must be a date like 2026-12-31, not {text!r}") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def run_register(args: argparse.Namespace) -> int:
    """Register the record in CONSENT.json and say which version it is.

    Example:
        >>> from aiwatermark.cli import main
        >>> main(["likeness", "register", "no-such-consent.json"])
        2
    """
    try:
        record = consent.Consent.from_json(args.record)
    except consent.ConsentRecordError as exc:
        raise UsageError(str(exc)) from None
    stored = _registry(args.store).register(record)
    emit(f"consent {stored.consent_ref} v{stored.version} registered {stored.registered}")
    return EXIT_OK


def run_show(args: argparse.Namespace) -> int:
    """Print a consent's versions and its withdrawal, if any.

    Example:
        >>> from aiwatermark.cli import main
        >>> main(["likeness", "show", "nobody-2026", "--store", "/tmp/empty-store.db"])
        3
    """
    registry = _registry(args.store)
    versions = registry.versions(args.consent_ref)
    if not versions:
        raise ConsentError(f"consent {args.consent_ref} is not registered in {registry.origin}")
    revocation = registry.revocation(args.consent_ref)
    if args.json:
        emit(
            json.dumps(
                {
                    "versions": [item.to_dict() for item in versions],
                    "revocation": None if revocation is None else revocation.to_dict(),
                }
            )
        )
        return EXIT_OK
    for item in versions:
        scope = "; ".join(
            f"{name} {', '.join(getattr(item, name))}"
            for name in ("licensees", "purposes", "media", "regions")
        )
        until = item.valid_until or "open-ended"
        emit(
            f"v{item.version} registered {item.registered}: subject {item.subject_id}, "
            f"rights holder {item.rights_holder}, valid {item.valid_from or 'now'} to {until}; "
            f"{scope}"
        )
    if revocation is not None:
        emit(f"WITHDRAWN {revocation.revoked}: {revocation.reason}")
    return EXIT_OK


def run_revoke(args: argparse.Namespace) -> int:
    """Withdraw a consent.

    Example:
        >>> from aiwatermark.cli import main
        >>> main(["likeness", "revoke", "nobody-2026", "--reason", "x",
        ...       "--store", "/tmp/empty-store.db"])
        3
    """
    revocation = _registry(args.store).revoke(args.consent_ref, args.reason)
    emit(f"consent {revocation.consent_ref} withdrawn on {revocation.revoked}")
    return EXIT_OK


def run_report(args: argparse.Namespace) -> int:
    """Print every registered use of a twin, with totals per brand.

    Example:
        >>> from aiwatermark.cli import main
        >>> main(["likeness", "report", "--subject", "nobody", "--store", "/tmp/empty-store.db"])
        subject nobody: 0 uses
        0
    """
    usage = consent.usage_report(
        _registry(args.store),
        args.subject,
        _day(args.start, "--from"),
        _day(args.end, "--to"),
    )
    if args.json:
        emit(json.dumps(usage.to_dict()))
    elif args.csv:
        emit(usage.to_csv().rstrip("\n"))
    else:
        emit(f"subject {usage.subject_id}: {len(usage.uses)} uses")
        for use in usage.uses:
            emit(
                f"  {use.registered:%Y-%m-%d %H:%M} {use.licensee}: {use.purpose}, {use.medium}, "
                f"{use.region} (consent {use.consent_ref} v{use.consent_version}, "
                f"content ID {use.content_id or '-'}, pay ref {use.compensation_ref or '-'})"
            )
        for brand, count in usage.totals.items():
            emit(f"total {brand}: {count}")
    return EXIT_OK
