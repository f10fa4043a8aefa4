"""Records people write by hand (consents): JSON objects from a file or text, and dates."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

_T = TypeVar("_T")


def parse_date(value: object, name: str, error: type[Exception]) -> dt.date | None:
    """``value`` as a date (None for None or ""), else ``error`` naming the field.

    Example:
        >>> from aiwatermark._records import parse_date
        >>> parse_date("2026-12-31", "valid_until", ValueError)
        datetime.date(2026, 12, 31)
    """
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise error(f"{name} must be a date like '2026-12-31', not {value!r}")


def load_json(
    source: str | os.PathLike[str],
    what: str,
    build: Callable[[Any], _T],
    error: type[Exception],
) -> _T:
    """``build`` applied to the JSON in the file ``source`` (or JSON text starting with
    ``{``); every failure is ``error``, prefixed with where the JSON came from.

    Example:
        >>> from aiwatermark._records import load_json
        >>> load_json('{"a": 1}', "record", dict, ValueError)
        {'a': 1}
    """
    text = os.fspath(source)
    name = f"{what} JSON"
    if not text.lstrip().startswith("{"):
        name = f"{what} file {text!r}"
        try:
            text = Path(text).read_text(encoding="utf-8")
        except OSError as exc:
            raise error(f"{name}: cannot read it ({exc.strerror or exc})") from None
        except UnicodeDecodeError:
            raise error(f"{name}: not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{name}: not valid JSON ({exc})") from None
    try:
        return build(data)
    except error as exc:
        raise error(f"{name}: {exc}") from None
