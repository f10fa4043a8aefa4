"""JSON Schemas of what aiwatermark prints and returns as JSON, and their documentation.

Three schemas (JSON Schema 2020-12), shipped with the package: ``verification-report``
(``VerificationReport.to_dict()``, ``aiwatermark verify --json``, ``POST /verify``),
``mark-result`` (``MarkResult.to_dict()``, ``aiwatermark mark --json``) and ``error`` (a
``--json`` line for an input that could not be processed). Every object carries
``schema_version``; every field is described, and no object has fields its schema does not
name, so a consumer can validate strictly.

Example:
    >>> from aiwatermark import schemas
    >>> version = schemas.load("mark-result")["properties"]["schema_version"]
    >>> version["const"] == schemas.SCHEMA_VERSION
    True
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from typing import Any

from ..errors import InvalidArgumentError

SCHEMA_VERSION = "1"
"""Raised when a field is removed or changes meaning; new fields keep it."""

NAMES = ("verification-report", "mark-result", "error")


@functools.cache
def _text(name: str) -> str:
    if name not in NAMES:
        raise InvalidArgumentError(f"no schema {name!r}; the schemas are {', '.join(NAMES)}")
    resource = importlib.resources.files(__name__) / f"{name}.schema.json"
    return resource.read_text(encoding="utf-8")


def load(name: str) -> dict[str, Any]:
    """The schema ``name`` (one of :data:`NAMES`) as a dict.

    Example:
        >>> from aiwatermark import schemas
        >>> schemas.load("error")["title"]
        'aiwatermark error row'
    """
    loaded: dict[str, Any] = json.loads(_text(name))
    return loaded


def markdown(name: str) -> str:
    """The schema as a Markdown table of every field (how docs/json.md is made).

    Example:
        >>> from aiwatermark import schemas
        >>> schemas.markdown("error").splitlines()[0]
        '### `error`'
    """
    schema = load(name)
    lines = [f"### `{name}`", "", schema["description"], "", "| field | type | meaning |"]
    lines.append("|---|---|---|")
    lines.extend(_rows(schema, ""))
    return "\n".join(lines) + "\n"


def _type(node: dict[str, Any]) -> str:
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "enum" in node:
        return " \\| ".join(f"`{json.dumps(value)}`" for value in node["enum"])
    kind = node.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    if "array" in kinds and isinstance(node.get("items"), dict):
        item = node["items"]
        inner = "object" if item.get("type") == "object" else _type(item)
        kinds = [f"array of {inner}" if k == "array" else k for k in kinds]
    return " \\| ".join(kinds)


def _rows(node: dict[str, Any], prefix: str) -> list[str]:
    rows = []
    for key, child in node.get("properties", {}).items():
        path = f"{prefix}{key}"
        description = str(child.get("description", "")).replace("|", "\\|")
        rows.append(f"| `{path}` | {_type(child)} | {description} |")
        if "properties" in child:
            rows.extend(_rows(child, path + "."))
        item = child.get("items")
        if isinstance(item, dict) and "properties" in item:
            rows.extend(_rows(item, path + "[]."))
    return rows


__all__ = ["NAMES", "SCHEMA_VERSION", "load", "markdown"]
