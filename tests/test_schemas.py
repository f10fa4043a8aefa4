"""The JSON that aiwatermark prints and returns matches its published schemas, strictly.

Real outputs (marked, shared, recovered, a digital twin with a consent registry, an unmarked
photo) are validated with jsonschema; every object in the schemas forbids fields it does not
describe, so an undocumented field fails here before a consumer meets it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import aiwatermark
from aiwatermark import schemas
from aiwatermark._demo import share_like_a_platform
from aiwatermark.store import SQLiteManifestStore
from commands import run_aiwatermark
from consents import register_jane

DOC = Path(__file__).resolve().parent.parent / "docs" / "json.md"


def _validate(name: str, instance: Any) -> None:
    instance = json.loads(json.dumps(instance))  # what a consumer of the JSON sees
    validator = jsonschema.Draft202012Validator(
        schemas.load(name), format_checker=jsonschema.FormatChecker()
    )
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


@pytest.mark.parametrize("name", schemas.NAMES)
def test_schemas_are_valid_and_describe_every_field(name: str) -> None:
    schema = schemas.load(name)
    jsonschema.Draft202012Validator.check_schema(schema)

    def walk(node: dict[str, Any], where: str) -> None:
        for key, child in node.get("properties", {}).items():
            assert child.get("description"), f"{where}{key} has no description"
            walk(child, f"{where}{key}.")
            if isinstance(child.get("items"), dict):
                walk(child["items"], f"{where}{key}[].")
        if "properties" in node:
            assert node.get("additionalProperties") is False, f"{where or name} is not strict"

    walk(schema, "")


def test_the_published_docs_are_the_schemas() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name in schemas.NAMES:
        assert schemas.markdown(name) in text, (
            f"docs/json.md is out of date for {name}: regenerate it with "
            "python -c 'from aiwatermark import schemas; print(schemas.markdown(\"NAME\"))'"
        )


def test_reports_and_mark_results_validate(tmp_path: Path, photo_paths: list[Path]) -> None:
    store = SQLiteManifestStore(tmp_path / "m.sqlite3")
    use = register_jane(store.consents)
    twin = aiwatermark.mark(photo_paths[0], likeness=use, store=store, format="JPEG")
    written = aiwatermark.mark(photo_paths[1], tmp_path / "out.png", store=store)
    for result in (twin, written):
        record = result.to_dict()
        assert record["schema_version"] == schemas.SCHEMA_VERSION
        _validate("mark-result", record)

    assert twin.data is not None
    reports = [
        aiwatermark.verify(twin.data, store=store),  # embedded manifest, consent checked
        aiwatermark.verify(share_like_a_platform(twin.data), store=store),  # recovered
        aiwatermark.verify(tmp_path / "out.png", store=False),
        aiwatermark.verify(photo_paths[2], store=False),  # an unmarked photo
        aiwatermark.verify(aiwatermark.imageio.open(photo_paths[0]), store=False),  # pixels
    ]
    assert reports[0].consent is not None and reports[1].recovered
    for report in reports:
        _validate("verification-report", report.to_dict())


def test_a_field_the_schema_does_not_name_fails_validation(photo_paths: list[Path]) -> None:
    record = aiwatermark.verify(photo_paths[2], store=False).to_dict()
    record["layers"]["watermark"]["undocumented"] = 1
    with pytest.raises(AssertionError, match="undocumented"):
        _validate("verification-report", record)


def test_the_repository_verify_answer_validates(tmp_path: Path, photo_paths: list[Path]) -> None:
    from starlette.testclient import TestClient

    from aiwatermark.service import create_app

    marked = aiwatermark.mark(photo_paths[0], store=tmp_path / "m.sqlite3")
    assert marked.data is not None
    with TestClient(create_app(tmp_path / "m.sqlite3")) as client:
        answer = client.post(
            "/verify?file=upload.jpg", content=marked.data, headers={"Content-Type": "image/jpeg"}
        )
    assert answer.status_code == 200
    assert answer.json()["file"] == "upload.jpg"
    _validate("verification-report", answer.json())


def test_cli_json_lines_and_error_rows_validate(tmp_path: Path, photo_paths: list[Path]) -> None:
    out = tmp_path / "out"
    marked = run_aiwatermark(
        tmp_path, "mark", str(photo_paths[0]), str(photo_paths[1]), str(tmp_path / "nope.jpg"),
        "--out-dir", str(out), "--json",
    )  # fmt: skip
    assert marked.returncode == 3, marked.stderr  # one input could not be processed
    rows = [json.loads(line) for line in marked.stdout.decode().splitlines()]
    errors = [row for row in rows if "error" in row]
    assert len(rows) == 3 and len(errors) == 1
    assert errors[0]["error"]["code"] == "UnsupportedImageError"
    for row in rows:
        _validate("error" if "error" in row else "mark-result", row)

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(photo_paths[0].read_bytes()[:2000])
    checked = run_aiwatermark(tmp_path, "verify", str(out), str(broken), "--json")
    assert checked.returncode == 3
    rows = [json.loads(line) for line in checked.stdout.decode().splitlines()]
    assert [row.get("ai_generated") for row in rows[:2]] == [True, True]
    assert rows[2]["error"]["code"] == "CorruptImageError"
    for row in rows:
        _validate("error" if "error" in row else "verification-report", row)
