"""Vendor presets end to end on the real importer: a Mailchimp audience export (subscribed,
unsubscribed and cleaned files, names in Arabic, Thai, Ukrainian, Chinese and Lao) imports with
consent proofs; Mautic and HubSpot exports bring score, stage and tags; a dry run writes nothing;
the wrong preset names the missing columns."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tidings.application.ingest.imports import ImportFileError, ImportOptions, import_contacts
from tidings.store import schema
from tidings.store.sql_uow import SqlUnitOfWork

FIXTURES = Path(__file__).parent.parent / "fixtures" / "imports"
MAILCHIMP_FILES = ("subscribed", "unsubscribed", "cleaned")


def uow_of(engine: sa.Engine) -> Any:
    """The import's store: a fresh SQL unit of work per chunk."""
    return partial(SqlUnitOfWork, engine)


def run(engine: sa.Engine, clock: Any, name: str, **opts: Any) -> Any:
    with open(FIXTURES / name, encoding="utf-8-sig", newline="") as f:
        return import_contacts(uow_of(engine), f, ImportOptions(**opts), clock.now)


def table_counts(engine: sa.Engine) -> dict[str, int]:
    tables = (schema.contacts, schema.consents, schema.contact_tags, schema.suppressions, schema.events)
    with engine.connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in tables}


def state(engine: sa.Engine) -> dict[str, dict[str, Any]]:
    c, k, t = schema.contacts, schema.consents, schema.contact_tags
    out: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for r in conn.execute(sa.select(c)).mappings():
            out[r["email"]] = {**r, "tags": set(), "consent": {}}
        ids = {v["id"]: e for e, v in out.items()}
        for cid, tag in conn.execute(sa.select(t.c.contact_id, t.c.tag)):
            out[ids[cid]]["tags"].add(tag)
        for r in conn.execute(sa.select(k)).mappings():
            out[ids[r["contact_id"]]]["consent"][r["channel"]] = dict(r)
    return out


def test_mailchimp_export_imports_with_consent_proofs(engine: sa.Engine, clock: Any) -> None:
    reports = [run(engine, clock, f"mailchimp_{k}_members_export.csv", preset="mailchimp") for k in MAILCHIMP_FILES]
    assert [(r.created, len(r.rejected)) for r in reports] == [(4, 0), (1, 0), (1, 0)]
    assert reports[2].suppressed == 1
    got = state(engine)
    layla = got["layla@example.com"]
    assert (layla["first_name"], layla["last_name"]) == ("ليلى", "العمري")
    assert layla["tags"] == {"Customer", "VIP 2024"} and layla["attributes"]["member_rating"] == "4"
    assert layla["attributes"]["birthday"] == "03/14" and layla["timezone"] == "Asia/Dubai"
    consent = layla["consent"]["email"]
    assert consent["status"] == "granted" and consent["source"] == "mailchimp import"
    assert consent["recorded_at"].isoformat().startswith("2024-01-10T08:05:12")
    assert consent["proof"]["optin_ip"] == "203.0.113.10" and consent["proof"]["confirm_time"] == "2024-01-10 08:05:12"
    assert consent["proof"]["double_opt_in"] is True
    somchai = got["somchai@example.com"]
    assert somchai["first_name"] == "สมชาย" and somchai["consent"]["email"]["proof"]["double_opt_in"] is False
    assert got["olena@example.com"]["last_name"] == "Коваленко" and got["wei@example.com"]["first_name"] == "伟"
    khamla = got["khamla@example.com"]
    assert khamla["first_name"] == "ຄຳຫຼ້າ" and khamla["consent"]["email"]["status"] == "unsubscribed"
    assert khamla["consent"]["email"]["recorded_at"].isoformat().startswith("2024-04-02T16:45")
    assert khamla["consent"]["email"]["proof"]["unsub_campaign_title"] == "Spring sale"
    assert got["gone@example.com"]["consent"] == {}
    with engine.connect() as conn:
        sup = conn.execute(sa.select(schema.suppressions)).mappings().one()
    assert (sup["address"], sup["reason"]) == ("gone@example.com", "hard_bounce")
    assert sup["detail"]["clean_campaign_title"] == "Winter news"
    # re-importing the same file changes nothing
    again = run(engine, clock, "mailchimp_subscribed_members_export.csv", preset="mailchimp")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)


def test_dry_run_counts_and_writes_nothing(engine: sa.Engine, clock: Any) -> None:
    before = table_counts(engine)
    dry = run(engine, clock, "mailchimp_subscribed_members_export.csv", preset="mailchimp", dry_run=True)
    assert (dry.rows, dry.created, dry.updated, dry.unchanged, dry.rejected) == (4, 4, 0, 0, [])
    assert dry.as_dict()["dry_run"] is True and table_counts(engine) == before
    run(engine, clock, "mailchimp_subscribed_members_export.csv", preset="mailchimp")
    after = table_counts(engine)
    again = run(engine, clock, "mailchimp_subscribed_members_export.csv", preset="mailchimp", dry_run=True)
    assert (again.created, again.unchanged) == (0, 4) and table_counts(engine) == after
    cleaned = run(engine, clock, "mailchimp_cleaned_members_export.csv", preset="mailchimp", dry_run=True)
    assert cleaned.suppressed == 1 and table_counts(engine) == after


def test_dry_run_reports_problems_with_line_and_column(engine: sa.Engine, clock: Any, tmp_path: Path) -> None:
    bad = tmp_path / "mc.csv"
    bad.write_text(
        "Email Address,First Name,OPTIN_TIME\nok@example.com,Ok,2024-01-01 00:00:00\n"
        "not-an-email,Bad,2024-01-01 00:00:00\nlate@example.com,Late,last tuesday\n",
        encoding="utf-8",
    )
    with open(bad, encoding="utf-8", newline="") as f:
        report = import_contacts(uow_of(engine), f, ImportOptions(preset="mailchimp", dry_run=True), clock.now)
    assert report.created == 1
    assert [(r.line, r.reason.split(":")[0]) for r in report.rejected] == [(3, "Email Address"), (4, "OPTIN_TIME")]
    assert table_counts(engine)["contacts"] == 0


def test_wrong_preset_names_missing_columns(engine: sa.Engine, clock: Any) -> None:
    with pytest.raises(ImportFileError, match="not a Mailchimp export: missing column.*Email Address"):
        run(engine, clock, "hubspot_contacts.csv", preset="mailchimp")
    with pytest.raises(ImportFileError, match="unknown preset"):
        run(engine, clock, "hubspot_contacts.csv", preset="nope")


def test_mautic_and_hubspot_presets(engine: sa.Engine, clock: Any) -> None:
    assert run(engine, clock, "mautic_contacts.csv", preset="mautic").created == 2
    assert run(engine, clock, "hubspot_contacts.csv", preset="hubspot").created == 2
    got = state(engine)
    ana = got["ana@example.com"]
    assert (ana["score"], ana["lifecycle_stage"], ana["phone"]) == (42.0, "marketing_qualified_lead", "+351912345678")
    assert ana["tags"] == {"vip", "webinar"} and ana["attributes"]["mautic_id"] == "11"
    assert ana["attributes"]["company"] == "Acme" and ana["consent"] == {}
    assert got["ivan@example.com"]["consent"]["email"]["status"] == "unsubscribed"
    maria = got["maria@example.com"]
    assert (maria["score"], maria["lifecycle_stage"]) == (35.0, "marketing_qualified_lead")
    assert maria["attributes"]["job_title"] == "CTO" and maria["attributes"]["hubspot_record_id"] == "501"
    john = got["john@example.com"]
    assert john["score"] == 80.5 and john["consent"]["email"]["source"] == "hubspot import"


def test_cli_preset_and_dry_run(container: Any, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tidings.cli.main import app

    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    path = str(FIXTURES / "mailchimp_subscribed_members_export.csv")
    runner = CliRunner()
    dry = runner.invoke(app, ["import", "contacts", path, "--preset", "mailchimp", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing was written" in dry.output and "4 would be created" in dry.output
    assert table_counts(container.engine)["contacts"] == 0
    real = runner.invoke(app, ["import", "contacts", path, "--preset", "mailchimp"])
    assert real.exit_code == 0 and "4 created" in real.output
    wrong = runner.invoke(app, ["import", "contacts", path, "--preset", "mautic"])
    assert wrong.exit_code == 1 and "missing column(s) email" in wrong.output


def test_api_preset_and_dry_run(api: Any, container: Any) -> None:
    body = (FIXTURES / "mailchimp_subscribed_members_export.csv").read_bytes()
    headers = {"content-type": "text/csv"}
    dry = api.post("/api/imports/contacts?preset=mailchimp&dry_run=true", content=body, headers=headers)
    assert dry.status_code == 200, dry.text
    got = dry.json()
    assert (got["dry_run"], got["created"], got["skipped"], got["preset"]) == (True, 4, 0, "mailchimp")
    assert table_counts(container.engine)["contacts"] == 0
    real = api.post("/api/imports/contacts?preset=mailchimp", content=body, headers=headers)
    assert real.status_code == 200 and real.json()["created"] == 4
    assert state(container.engine)["wei@example.com"]["consent"]["email"]["proof"]["confirm_ip"] == "203.0.113.99"
    wrong = api.post("/api/imports/contacts?preset=hubspot", content=body, headers=headers)
    assert wrong.status_code == 400 and "missing column(s) Email" in wrong.text
    unknown = api.post("/api/imports/contacts?preset=nope", content=body, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["error"]["details"][0]["loc"] == ["query", "preset"]
