"""Digital-twin consent: registered, checked when marking, withdrawn, reported per use.

Every registry test runs on the SQLite store and on a real PostgreSQL server. Images are
real photographs, signed with a real test CA; the attacks at the end are the ways a brand
could make ``verify`` vouch for a use the person never agreed to.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

import aiwatermark
from aiwatermark import ConsentError, provenance
from aiwatermark._demo import share_like_a_platform
from aiwatermark.cli import main
from aiwatermark.consent import Consent, ConsentRecordError, Use, assertion, usage_report
from aiwatermark.store import PostgresManifestStore, RemoteManifestStore, SQLiteManifestStore
from consents import JANE, JANE_USE, register_jane
from pki import Identity, TestCA
from repository import serve_repository

DAY = dt.timedelta(days=1)
TODAY = dt.datetime.now(dt.timezone.utc).date()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIWATERMARK_HOME", str(tmp_path / "home"))


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh store of each backend (PostgreSQL: a database of its own on a real server)."""
    if request.param == "sqlite":
        with SQLiteManifestStore(tmp_path / "store" / "manifests.sqlite3") as opened:
            yield opened
    else:
        with PostgresManifestStore(request.getfixturevalue("db_url"), timeout=5) as opened:
            yield opened


@pytest.fixture(scope="module")
def brand(tmp_path_factory: pytest.TempPathFactory) -> tuple[Identity, Path]:
    """Producer Studio's signing identity and the root that trusts it."""
    ca = TestCA.create(tmp_path_factory.mktemp("brand-ca"), organization="Producer Studio")
    return ca.issue("Producer Studio Signer"), ca.root_path


def _mark(photo: Path, store: Any, identity: Identity, use: Use, **kwargs: Any) -> bytes:
    result = aiwatermark.mark(
        photo, likeness=use, store=store, signer=identity.signer(), format="JPEG", **kwargs
    )
    assert result.data is not None and result.stored
    return result.data


# --- the registry ------------------------------------------------------------------------


def test_a_changed_record_is_a_new_version_and_old_versions_are_kept(store: Any) -> None:
    registry = store.consents
    first = registry.register(JANE)
    assert first.version == 1 and first.registered is not None
    assert registry.register(JANE).version == 1  # the same record again: nothing new

    narrower = Consent.from_dict({**JANE.to_dict(), "regions": ["EU"], "version": 0})
    assert registry.register(narrower).version == 2
    assert [c.regions for c in registry.versions(JANE.consent_ref)] == [("EU", "US"), ("EU",)]
    assert registry.get(JANE.consent_ref).regions == ("EU",)
    assert registry.get(JANE.consent_ref, 1).regions == ("EU", "US")

    # A reference names one person's agreement: it cannot be re-pointed at someone else.
    someone_else = Consent.from_dict({**JANE.to_dict(), "subject_id": "subj-other"})
    with pytest.raises(ConsentError, match="belongs to subject subj-jd-7f3a"):
        registry.register(someone_else)


def test_a_withdrawal_is_final(store: Any) -> None:
    registry = store.consents
    registry.register(JANE)
    with pytest.raises(ConsentError, match="not registered"):
        registry.revoke("no-such-consent", "typo")
    revocation = registry.revoke(JANE.consent_ref, "Jane withdrew her consent", by="agency")
    assert registry.revocation(JANE.consent_ref) == revocation
    assert revocation.day == dt.datetime.now(dt.timezone.utc).date()
    with pytest.raises(ConsentError, match="already withdrawn"):
        registry.revoke(JANE.consent_ref, "again")
    changed = Consent.from_dict({**JANE.to_dict(), "purposes": ["*"], "version": 0})
    with pytest.raises(ConsentError, match="withdrawal is final"):
        registry.register(changed)


def test_the_database_refuses_to_rewrite_a_consent_or_undo_a_withdrawal(store: Any) -> None:
    store.consents.register(JANE)
    store.consents.revoke(JANE.consent_ref, "withdrawn")
    statements = (
        "UPDATE {consents} SET subject_id = 'x'",
        "DELETE FROM {consents}",
        "DELETE FROM {revocations}",
    )
    if isinstance(store, SQLiteManifestStore):
        names = {"consents": "consents", "revocations": "consent_revocations"}
        for statement in statements:
            with sqlite3.connect(store.path) as conn, pytest.raises(sqlite3.DatabaseError):
                conn.execute(statement.format(**names))
    else:
        names = {
            "consents": "aiwatermark_consents",
            "revocations": "aiwatermark_consent_revocations",
        }
        for statement in statements:
            with psycopg.connect(store._url) as conn, pytest.raises(psycopg.Error):
                conn.execute(statement.format(**names))
    assert store.consents.revocation(JANE.consent_ref) is not None
    assert store.consents.get(JANE.consent_ref).subject_id == JANE.subject_id


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"licensees": []}, 'licensees is empty: list what is allowed, or ["*"]'),
        ({"document_sha256": "not-a-hash"}, "64 hex digits"),
        ({"valid_from": "2027-01-01", "valid_until": "2026-01-01"}, "before valid_from"),
        ({"valid_until": "next year"}, "must be a date"),
        ({"name_public": "yes"}, "must be true or false"),
        ({"salary": 1}, "unknown field(s) salary"),
    ],
)
def test_bad_consent_records_are_refused_with_the_field_named(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConsentRecordError) as excinfo:
        Consent.from_dict({**JANE.to_dict(), **change})
    assert message in str(excinfo.value)
    assert isinstance(excinfo.value, aiwatermark.AiWatermarkError)


# --- checked when marking ------------------------------------------------------------------


def test_mark_within_scope_signs_the_checked_use(
    store: Any, photo_paths: list[Path], brand: tuple[Identity, Path]
) -> None:
    identity, root = brand
    use = register_jane(store.consents)
    data = _mark(photo_paths[0], store, identity, use)
    report = aiwatermark.verify(data, store=store, trust_anchors=root)
    assert report.trusted and report.likeness is not None
    assert (report.likeness.licensee, report.likeness.medium) == ("Producer Studio", "web")
    assert report.likeness.consent_version == 1 and report.likeness.subject_id == JANE.subject_id
    assert report.consent is not None
    assert report.consent.at_signing.allowed and report.consent.now.allowed
    assert "consented when made on" in report.summary()
    assert "consent still valid" in report.summary()
    # Not training data unless Jane agreed: the CAWG assertion says so, for every use.
    assert report.provenance is not None
    assert report.provenance.training_mining == {
        "cawg.ai_training": "notAllowed",
        "cawg.ai_generative_training": "notAllowed",
        "cawg.data_mining": "notAllowed",
    }
    assert "ai_generative_training notAllowed" in report.summary()


def test_what_the_person_allows_is_declared_allowed(
    tmp_path: Path, photo_paths: list[Path]
) -> None:
    store = SQLiteManifestStore(tmp_path / "m.sqlite3")
    use = register_jane(store.consents, allowed_mining=["data_mining"])
    result = aiwatermark.mark(photo_paths[0], likeness=use, store=store)
    assert result.data is not None
    mining = aiwatermark.verify(result.data, store=store).provenance.training_mining
    assert mining["cawg.data_mining"] == "allowed"
    assert mining["cawg.ai_generative_training"] == "notAllowed"
    with pytest.raises(ConsentRecordError, match="allowed_mining"):
        Consent.from_dict({**JANE.to_dict(), "allowed_mining": ["everything"]})


@pytest.mark.parametrize(
    ("use", "reason"),
    [
        (
            Use(JANE.consent_ref, "Rival Brand", "advertising", "web", "EU"),
            "licensee 'Rival Brand'",
        ),
        (Use(JANE.consent_ref, "Producer Studio", "political", "web", "EU"), "purpose 'political'"),
        (Use(JANE.consent_ref, "Producer Studio", "advertising", "print", "EU"), "medium 'print'"),
        (Use(JANE.consent_ref, "Producer Studio", "advertising", "web", "CN"), "region 'CN'"),
        (Use("no-such-consent", "Producer Studio", "advertising", "web", "EU"), "not registered"),
    ],
)
def test_mark_refuses_a_use_the_consent_does_not_cover(
    tmp_path: Path, photo_paths: list[Path], use: Use, reason: str
) -> None:
    store = SQLiteManifestStore(tmp_path / "m.sqlite3")
    register_jane(store.consents)
    out = tmp_path / "twin.jpg"
    with pytest.raises(ConsentError, match="likeness refused") as excinfo:
        aiwatermark.mark(photo_paths[0], out, likeness=use, store=store)
    assert reason in str(excinfo.value)
    assert not out.exists() and len(store) == 0  # refused before any work, nothing registered


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"valid_from": (TODAY + DAY).isoformat()}, "is valid only from"),
        ({"valid_until": (TODAY - DAY).isoformat()}, "expired on"),
    ],
)
def test_mark_refuses_a_consent_outside_its_dates(
    store: Any, photo_paths: list[Path], change: dict[str, str], reason: str
) -> None:
    use = register_jane(store.consents, **change)
    with pytest.raises(ConsentError, match=reason):
        aiwatermark.mark(photo_paths[0], likeness=use, store=store)


def test_after_a_withdrawal_new_marks_are_refused_and_verify_tells_both_times(
    store: Any, photo_paths: list[Path], brand: tuple[Identity, Path]
) -> None:
    identity, root = brand
    use = register_jane(store.consents)
    data = _mark(photo_paths[0], store, identity, use)
    store.consents.revoke(JANE.consent_ref, "Jane withdrew her consent")

    with pytest.raises(ConsentError, match="was withdrawn on"):
        aiwatermark.mark(photo_paths[1], likeness=use, store=store)
    # The shared copy lost its metadata; the registration and the registry still speak.
    report = aiwatermark.verify(share_like_a_platform(data), store=store, trust_anchors=root)
    assert report.trusted and report.recovered and report.consent is not None
    assert report.consent.at_signing.allowed
    assert report.consent.now.state == "revoked"
    made = TODAY.isoformat()
    assert f"consented when made on {made}; consent withdrawn on {made}" in report.summary()
    record = report.to_dict()["consent"]
    assert record["now"]["state"] == "revoked" and record["at_signing"]["state"] == "valid"
    assert "reason" not in json.dumps(record["now"]["revocation"])  # the reason stays private


def test_an_override_is_signed_into_the_manifest_and_shown(
    store: Any, photo_paths: list[Path], brand: tuple[Identity, Path]
) -> None:
    identity, root = brand
    register_jane(store.consents)
    print_use = Use(JANE.consent_ref, "Producer Studio", "advertising", "print", "EU")
    with pytest.raises(aiwatermark.InvalidArgumentError, match="consent_override"):
        aiwatermark.mark(photo_paths[0], likeness=print_use, store=store, consent_override=" ")
    data = _mark(
        photo_paths[0], store, identity, print_use, consent_override="print run agreed by phone"
    )
    report = aiwatermark.verify(data, store=store, trust_anchors=root)
    assert report.likeness is not None
    assert report.likeness.consent_override == "print run agreed by phone"
    assert report.consent is not None and report.consent.at_signing.state == "out_of_scope"
    summary = report.summary()
    assert "NOT consented when made" in summary and "medium 'print' is not allowed" in summary
    assert "override recorded: 'print run agreed by phone'" in summary


def test_likeness_needs_a_registry_and_a_manifest(photo_paths: list[Path]) -> None:
    with pytest.raises(ConsentError, match="consent registry"):
        aiwatermark.mark(photo_paths[0], likeness=JANE_USE, store=False)
    with pytest.raises(aiwatermark.InvalidArgumentError, match="signer=False"):
        aiwatermark.mark(photo_paths[0], likeness=JANE_USE, signer=False)
    with pytest.raises(aiwatermark.InvalidArgumentError, match=r"consent\.Use"):
        aiwatermark.mark(
            photo_paths[0],
            likeness=provenance.Likeness("Jane", "Jane", JANE.consent_ref),  # type: ignore[arg-type]
        )


def test_a_private_name_never_enters_the_image(tmp_path: Path, photo_paths: list[Path]) -> None:
    store = SQLiteManifestStore(tmp_path / "m.sqlite3")
    use = register_jane(store.consents, name_public=False, subject_name="Jane Q. Private")
    result = aiwatermark.mark(photo_paths[0], likeness=use, store=store)
    assert result.data is not None and b"Jane Q. Private" not in result.data
    report = aiwatermark.verify(result.data, store=store)
    assert report.likeness_subject == JANE.subject_id
    assert "Jane Q. Private" not in json.dumps(report.to_dict())


# --- the per-use report -------------------------------------------------------------------


def test_the_usage_report_counts_every_registered_use_per_brand(
    store: Any, photo_paths: list[Path], brand: tuple[Identity, Path]
) -> None:
    identity, _ = brand
    use = register_jane(store.consents)
    maison = Use(JANE.consent_ref, "Maison Example", "social media", "social", "US")
    for photo, which in zip(
        [*photo_paths, photo_paths[0]], [use, use, maison, maison], strict=True
    ):
        _mark(photo, store, identity, which)
    aiwatermark.mark(photo_paths[1], store=store, signer=identity.signer())  # not Jane

    usage = usage_report(store.consents, JANE.subject_id)
    assert usage.totals == {"Producer Studio": 2, "Maison Example": 2}
    assert [u.purpose for u in usage.uses] == ["advertising"] * 2 + ["social media"] * 2
    assert all(u.compensation_ref == JANE.compensation_ref for u in usage.uses)
    assert all(u.content_id and u.consent_version == 1 for u in usage.uses)
    assert "Producer Studio Signer" in usage.uses[0].signer
    later = usage.uses[-1].registered + dt.timedelta(seconds=1)
    assert usage_report(store.consents, JANE.subject_id, start=later).uses == ()
    window = usage_report(store.consents, JANE.subject_id, end=usage.uses[2].registered)
    assert window.totals == {"Producer Studio": 2}
    rows = usage.to_csv().splitlines()
    assert len(rows) == 5 and rows[0].startswith("manifest_id,content_id,registered")


# --- attacks: making verify vouch for a use nobody agreed to ------------------------------


def _forge(
    photo: Path, store: Any, identity: Identity, likeness: provenance.Likeness
) -> aiwatermark.VerificationReport:
    """Sign an assertion with provenance.sign directly, skipping mark()'s consent check."""
    signed = provenance.sign(
        photo.read_bytes(), format="JPEG", signer=identity.signer(), likeness=likeness
    )
    return aiwatermark.verify(signed.data, store=store)


def test_a_brand_signing_an_unchecked_use_is_caught_by_verify(
    store: Any, photo_paths: list[Path], brand: tuple[Identity, Path]
) -> None:
    identity, _ = brand
    register_jane(store.consents)
    record = store.consents.get(JANE.consent_ref)
    rival_use = Use(JANE.consent_ref, "Rival Brand", "advertising", "web", "EU")
    report = _forge(photo_paths[0], store, identity, assertion(record, rival_use))
    assert report.consent is not None and report.consent.at_signing.state == "out_of_scope"
    assert "NOT consented when made" in report.summary()
    assert "licensee 'Rival Brand' is not allowed" in report.summary()


def test_a_borrowed_consent_reference_is_a_mismatch(
    store: Any, photo_paths: list[Path], brand: tuple[Identity, Path]
) -> None:
    identity, _ = brand
    register_jane(store.consents)
    other_person = Consent.from_dict({**JANE.to_dict(), "subject_id": "subj-someone-else"})
    report = _forge(photo_paths[0], store, identity, assertion(other_person, JANE_USE))
    assert report.consent is not None and report.consent.at_signing.state == "mismatch"
    assert "is subj-jd-7f3a's agreement" in report.summary()


def test_a_made_up_consent_version_is_not_a_consent(
    store: Any, photo_paths: list[Path], brand: tuple[Identity, Path]
) -> None:
    identity, _ = brand
    register_jane(store.consents)
    record = store.consents.get(JANE.consent_ref)
    invented = Consent.from_dict({**record.to_dict(), "version": 7})
    report = _forge(photo_paths[0], store, identity, assertion(invented, JANE_USE))
    assert report.consent is not None and report.consent.at_signing.state == "unknown"


def test_an_untrusted_signers_consent_claim_is_labelled_as_such(
    tmp_path: Path, photo_paths: list[Path]
) -> None:
    store = SQLiteManifestStore(tmp_path / "m.sqlite3")
    use = register_jane(store.consents)
    result = aiwatermark.mark(photo_paths[0], likeness=use, store=store)  # dev identity
    assert result.data is not None
    report = aiwatermark.verify(result.data, store=store)
    assert not report.trusted
    assert "(claimed by a signer that is NOT trusted)" in report.summary()


# --- the command line ----------------------------------------------------------------------


def test_the_cli_registers_marks_revokes_and_reports(
    tmp_path: Path, photo_paths: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "m.sqlite3")
    record = tmp_path / "jane.json"
    record.write_text(json.dumps({**JANE.to_dict(), "version": 0, "registered": None}))
    assert main(["likeness", "register", str(record), "--store", store]) == 0
    assert "consent twin-2026-042 v1 registered" in capsys.readouterr().out

    use = ["--likeness", JANE.consent_ref, "--licensee", "Producer Studio", "--purpose"]
    use += ["advertising", "--medium", "web"]
    out = tmp_path / "twin.jpg"
    base = ["mark", str(photo_paths[0]), "-o", str(out), "--store", store]
    assert main([*base, *use]) == 2  # --region missing
    assert "add --region" in capsys.readouterr().err
    assert main([*base, *use, "--region", "CN"]) == 3  # the input could not be marked
    assert "region 'CN' is not allowed" in capsys.readouterr().err
    assert main([*base, *use, "--region", "EU"]) == 0

    assert (
        main(["likeness", "revoke", JANE.consent_ref, "--reason", "withdrawn", "--store", store])
        == 0
    )
    capsys.readouterr()
    assert main(["verify", str(out), "--store", store, "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["consent"]["now"]["state"] == "revoked"

    assert main(["likeness", "show", JANE.consent_ref, "--store", store]) == 0
    assert "WITHDRAWN" in capsys.readouterr().out
    assert (
        main(["likeness", "report", "--subject", JANE.subject_id, "--store", store, "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["totals"] == {"Producer Studio": 1}
    assert main(["likeness", "report", "--subject", JANE.subject_id, "--from", "soon"]) == 2

    record.write_text("{not json")
    assert main(["likeness", "register", str(record), "--store", store]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_a_version_1_postgres_store_gains_the_registry(db_url: str) -> None:
    from aiwatermark.store import _postgres

    with psycopg.connect(db_url, autocommit=True) as conn, conn.transaction():
        conn.execute(
            f"CREATE TABLE {_postgres.VERSION_TABLE} (version integer PRIMARY KEY, "
            "applied timestamptz NOT NULL DEFAULT now())"
        )
        for statement in _postgres._V1:
            conn.execute(statement)
        conn.execute(f"INSERT INTO {_postgres.VERSION_TABLE} (version) VALUES (1)")
        conn.execute(
            f"INSERT INTO {_postgres.TABLE} (payload, manifest) VALUES (%s, %s)",
            (bytes(8), b"older manifest"),
        )
    with PostgresManifestStore(db_url) as store:
        assert store.consents.register(JANE).version == 1
        assert [e.manifest for e in store.by_payload(bytes(8))] == [b"older manifest"]


# --- through a repository --------------------------------------------------------------------


def test_a_repository_keeps_consents_private_and_the_report_for_the_rights_holder(
    postgres_url: str, tmp_path: Path, photo_paths: list[Path]
) -> None:
    ca = TestCA.create(tmp_path / "ca", organization="Producer Studio")
    brand = ca.issue("Producer Studio Signer")
    holders = tmp_path / "holders.txt"
    holders.write_text("# token  rights holder\njane-token Jane Doe\nother-token Someone Else\n")
    server, url = serve_repository(
        postgres_url, tmp_path, ca, "--rights-holder-tokens", str(holders)
    )
    try:
        producer = RemoteManifestStore(url, token="producer-token-1")
        private = {"name_public": False, "subject_name": "Jane Q. Private"}
        use = register_jane(producer.consents, consent_ref=f"twin-{tmp_path.name}", **private)
        ref = use.consent_ref
        # What everyone sees: the scope and the state, not the name or the pay terms.
        public = httpx.get(f"{url}/consents/{ref}").json()
        assert public["versions"][0]["licensees"] == list(JANE.licensees)
        assert "Jane Q. Private" not in json.dumps(public) and "schedule B" not in json.dumps(
            public
        )
        assert httpx.post(f"{url}/consents", json=JANE.to_dict()).status_code == 401
        bad = httpx.post(
            f"{url}/consents",
            json={**JANE.to_dict(), "regions": []},
            headers={"Authorization": "Bearer producer-token-1"},
        )
        assert bad.status_code == 400 and bad.json()["code"] == "ConsentRecordError"

        marked = aiwatermark.mark(
            photo_paths[0], likeness=use, store=producer, signer=brand.signer(), format="JPEG"
        )
        assert marked.data is not None
        shared = share_like_a_platform(marked.data)
        report = aiwatermark.verify(shared, store=url, trust_anchors=ca.root_path)
        assert report.trusted and report.consent is not None and report.consent.now.allowed
        assert report.consent.registry == url

        # The per-use report: the rights holder's token only, and only their twins' uses.
        jane = RemoteManifestStore(url, token="jane-token").consents
        (only,) = jane.uses(JANE.subject_id)
        assert only.content_id == marked.content_id and only.licensee == "Producer Studio"
        assert RemoteManifestStore(url, token="other-token").consents.uses(JANE.subject_id) == []
        with pytest.raises(aiwatermark.StoreError, match="401"):
            producer.consents.uses(JANE.subject_id)

        # Jane keeps control: another holder cannot withdraw her consent, she can.
        with pytest.raises(aiwatermark.StoreError, match="403"):
            RemoteManifestStore(url, token="other-token").consents.revoke(ref, "not mine")
        assert jane.revoke(ref, "Jane withdrew her consent").consent_ref == ref
        with pytest.raises(ConsentError, match="was withdrawn on"):
            aiwatermark.mark(photo_paths[1], likeness=use, store=producer, signer=brand.signer())
        after = aiwatermark.verify(shared, store=url, trust_anchors=ca.root_path)
        assert after.consent is not None and after.consent.now.state == "revoked"
        assert after.consent.at_signing.allowed
        assert "consent withdrawn on" in after.summary()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_pipeline_integrations_check_consent_too(tmp_path: Path) -> None:
    import numpy as np

    from aiwatermark.integrations.diffusers import AiWatermarker

    store = SQLiteManifestStore(tmp_path / "m.sqlite3")
    use = register_jane(store.consents)
    photo = np.asarray(aiwatermark.imageio.open("fixtures/astronaut.jpg"), dtype=np.float32)
    batch = (photo.transpose(2, 0, 1)[None] / 127.5) - 1.0  # a pipeline's N×C×H×W in -1..1
    rival = Use(JANE.consent_ref, "Rival Brand", "advertising", "web", "EU")
    refused = AiWatermarker(store=store, likeness=rival)
    marked = refused.apply_watermark(batch)
    with pytest.raises(ConsentError, match="licensee 'Rival Brand'"):
        refused.finish((marked[0].transpose(1, 2, 0) + 1) / 2)
    allowed = AiWatermarker(store=store, likeness=use)
    marked = allowed.apply_watermark(batch)
    result = allowed.finish((marked[0].transpose(1, 2, 0) + 1) / 2)
    assert result.data is not None
    assert usage_report(store.consents, JANE.subject_id).totals == {"Producer Studio": 1}
