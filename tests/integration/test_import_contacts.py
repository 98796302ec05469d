"""CSV import and export: mapping, upsert, tags, consent, rejected rows, formula neutralising."""

from __future__ import annotations

import csv
import io
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tidings.application.ingest.imports import ImportFileError, ImportOptions, import_contacts
from tidings.store import schema
from tidings.store.sql_uow import SqlUnitOfWork

GOOD = """email,First Name,last_name,phone,tags,consent_email,Plan,stage
ann@example.com,Ann,Lee,+14155550132,vip;newsletter,yes,pro,lead
BOB@example.com,Bob,,,,no,free,customer
"""


def uow_of(engine: sa.Engine) -> Any:
    """The import's store: a fresh SQL unit of work per chunk."""
    return partial(SqlUnitOfWork, engine)


def run(engine: sa.Engine, clock: Any, text: str, **opts: Any) -> Any:
    return import_contacts(uow_of(engine), io.StringIO(text, newline=""), ImportOptions(**opts), clock.now)


def contacts(engine: sa.Engine) -> dict[str, Any]:
    c = schema.contacts
    with engine.connect() as conn:
        return {r["email"]: r for r in conn.execute(sa.select(c)).mappings()}


def test_import_maps_columns_and_upserts(engine: sa.Engine, clock: Any) -> None:
    report = run(engine, clock, GOOD, tags=["spring"], consent_channel="sms", consent_source="import")
    assert (report.rows, report.created, report.updated, report.rejected) == (2, 2, 0, [])
    assert report.columns["First Name"] == "first_name" and report.columns["Plan"] == "attributes.Plan"
    got = contacts(engine)
    ann = got["ann@example.com"]
    assert ann["first_name"] == "Ann" and ann["phone"] == "+14155550132" and ann["lifecycle_stage"] == "lead"
    assert ann["attributes"] == {"Plan": "pro"}
    with engine.connect() as conn:
        tags = (
            conn.execute(
                sa.select(schema.contact_tags.c.tag).where(schema.contact_tags.c.contact_id == ann["id"])
            )
            .scalars()
            .all()
        )
        cons = {
            (r.channel, r.status, r.source)
            for r in conn.execute(
                sa.select(schema.consents).where(schema.consents.c.contact_id == got["bob@example.com"]["id"])
            )
        }
        queued = conn.execute(sa.select(sa.func.count()).select_from(schema.contact_queue)).scalar()
        names = (
            conn.execute(sa.select(schema.events.c.name).where(schema.events.c.contact_id == ann["id"]))
            .scalars()
            .all()
        )
    assert sorted(tags) == ["newsletter", "spring", "vip"]
    assert cons == {("email", "denied", "import"), ("sms", "granted", "import")}
    assert queued == 2
    assert names.count("tag.added") == 3 and "contact.updated" in names and "consent.changed" in names
    # the same file again updates (nothing new), a changed value is an update with its event
    report = run(engine, clock, GOOD.replace("pro,lead", "team,lead"))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert contacts(engine)["ann@example.com"]["attributes"] == {"Plan": "team"}


def test_rejected_rows_are_reported_with_line_numbers(engine: sa.Engine, clock: Any) -> None:
    text = (
        "email,phone,first_name,consent_email,timezone\n"
        "ok@example.com,,Ok,yes,Europe/Paris\n"
        "not-an-email,,Bad,,\n"
        ",,NoId,,\n"
        "x@example.com,12,Phone,,\n"
        "y@example.com,,Consent,perhaps,\n"
        "z@example.com,,Zone,,Mars/Olympus\n"
        "short@example.com\n"
        '"multi\nline@example.com",,Multi,,\n'
        "dup@example.com,,First,,\n"
        "DUP@example.com,,Second,,\n"
    )
    report = run(engine, clock, text)
    reasons = {r.line: r.reason for r in report.rejected}
    assert set(reasons) == {3, 4, 5, 6, 7, 8, 10}
    assert reasons[3].startswith("email:")
    assert "no email, phone or external_id" in reasons[4]
    assert reasons[5].startswith("phone:")
    assert reasons[6].startswith("consent_email:")
    assert reasons[7].startswith("timezone:")
    assert "expected 5 columns, got 1" in reasons[8]
    assert "email" in reasons[10]
    assert report.created == 2 and report.updated == 1  # ok, dup (created then updated)
    assert contacts(engine)["dup@example.com"]["first_name"] == "Second"
    assert report.rows == report.imported + len(report.rejected)


def test_unreadable_files(engine: sa.Engine, clock: Any) -> None:
    with pytest.raises(ImportFileError):
        run(engine, clock, "")
    with pytest.raises(ImportFileError):
        run(engine, clock, "email,email\na@example.com,b@example.com\n")
    with pytest.raises(ImportFileError, match="not in the file"):
        run(engine, clock, "email\na@example.com\n", mapping={"Mail": "email"})
    with pytest.raises(ImportFileError, match="cannot map"):
        run(engine, clock, "email,x\na@example.com,1\n", mapping={"x": "shoe_size"})


def test_export_neutralises_formulas(api: Any) -> None:
    api.post(
        "/api/contacts",
        json={
            "email": "f@example.com",
            "first_name": '=HYPERLINK("http://evil")',
            "last_name": "+1",
            "owner": "@boss",
            "lifecycle_stage": "-x",
            "attributes": {"note": "plain"},
            "tags": ["=cmd"],
        },
    )
    r = api.get("/api/contacts/export.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows[0]["first_name"] == '\'=HYPERLINK("http://evil")'
    assert (
        rows[0]["last_name"] == "'+1" and rows[0]["owner"] == "'@boss" and rows[0]["lifecycle_stage"] == "'-x"
    )
    assert rows[0]["tags"] == "'=cmd"
    assert rows[0]["email"] == "f@example.com"


def test_import_api(api: Any) -> None:
    r = api.post(
        "/api/imports/contacts",
        content=GOOD.encode(),
        headers={"Content-Type": "text/csv"},
        params={"tag": "api", "map": "Plan=attributes.plan"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 2 and r.json()["rejected"] == []
    r = api.post(
        "/api/imports/contacts", files={"file": ("c.csv", b"email,first_name\nbad,X\nc@example.com,C\n")}
    )
    assert r.status_code == 200 and r.json()["rejected"] == [
        {"line": 2, "reason": r.json()["rejected"][0]["reason"]}
    ]
    assert r.json()["imported"] == 1
    r = api.post("/api/imports/contacts", content=b"\xff\xfe\x00", headers={"Content-Type": "text/csv"})
    assert r.status_code == 400
    r = api.post("/api/imports/contacts", content=b"", headers={"Content-Type": "text/csv"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_file"
    got = api.get("/api/contacts", params={"tag": "api"}).json()["items"]
    assert {c["attributes"].get("plan") for c in got} == {"pro", "free"}


def test_cli_import_export_show(tmp_path: Path, db_url: str, monkeypatch: Any) -> None:
    from tidings.cli.main import app

    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    runner = CliRunner()
    src = tmp_path / "people.csv"
    src.write_text(GOOD + "broken,,,,,,,\n", encoding="utf-8")
    r = runner.invoke(app, ["import", "contacts", str(src), "--tag", "cli", "--map", "Plan=attributes.plan"])
    assert r.exit_code == 0, r.output
    assert "2 created" in r.output and "1 rejected" in r.output
    rejected = (tmp_path / "people.csv.rejected.csv").read_text(encoding="utf-8").splitlines()
    assert rejected[0].startswith("line,reason,email") and rejected[1].startswith("4,email:")
    r = runner.invoke(app, ["contacts", "show", "ann@example.com", "--json"])
    assert r.exit_code == 0, r.output
    import json

    shown = json.loads(r.output)
    assert shown["tags"] == ["cli", "newsletter", "vip"] and shown["attributes"] == {"plan": "pro"}
    assert shown["consent"]["email"]["status"] == "granted"
    assert shown["events"][0]["name"] in {"contact.updated", "tag.added", "consent.changed"}
    out = tmp_path / "out.csv"
    assert runner.invoke(app, ["export", "contacts", str(out)]).exit_code == 0
    assert "ann@example.com" in out.read_text(encoding="utf-8")
    # every row rejected -> non-zero; unreadable file -> non-zero
    bad = tmp_path / "bad.csv"
    bad.write_text("email\nnope\n", encoding="utf-8")
    assert runner.invoke(app, ["import", "contacts", str(bad)]).exit_code == 1
    assert runner.invoke(app, ["import", "contacts", str(tmp_path / "missing.csv")]).exit_code == 1
    (tmp_path / "bin.csv").write_bytes(b"email\n\xff\xfe\n")
    assert runner.invoke(app, ["import", "contacts", str(tmp_path / "bin.csv")]).exit_code == 1
    assert runner.invoke(app, ["contacts", "show", "nobody@example.com"]).exit_code == 1
    r = runner.invoke(app, ["contacts", "delete", "ann@example.com", "--yes"])
    assert r.exit_code == 0
    assert runner.invoke(app, ["contacts", "show", "ann@example.com"]).exit_code == 1
    r = runner.invoke(app, ["contacts", "list", "--tag", "cli", "--json"])
    assert r.exit_code == 0 and len(r.output.strip().splitlines()) == 1
