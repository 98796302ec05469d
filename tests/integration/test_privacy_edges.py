"""Personal data export and retention through every edge: the API (zip content type, 404,
scopes), the CLI (counts per file, clear errors), the web app (the button's zip, the settings
form: roles and CSRF, dry run, log)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.integration import privacy_seed as seed
from tests.web_support import csrf_of, web_client
from tidings.application.access.keys import create_key
from tidings.bootstrap import Container
from tidings.cli.main import app as cli_app
from tidings.server import create_app
from tidings.store import schema


def _seed(container: Container) -> int:
    with container.engine.begin() as conn:
        return int(seed.known_contact(conn, container.clock.now())["contact_id"])


def _zip(content: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(content))


def _client(container: Container, scopes: list[str]) -> TestClient:
    _, secret = create_key(container.uow(), "k", scopes, container.clock.now())
    return TestClient(create_app(container), headers={"Authorization": f"Bearer {secret}"})


# --------------------------------------------------------------------------- API


def test_api_data_export_is_a_zip_with_a_filename(api: Any, container: Container) -> None:
    cid = _seed(container)
    r = api.get(f"/api/contacts/{cid}/data-export")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == f'attachment; filename="contact-{cid}-personal-data.zip"'
    z = _zip(r.content)
    assert json.loads(z.read("profile.json"))["email"] == "ann@example.com"
    assert json.loads(z.read("consents.json"))[0]["proof"]["ip"] == "203.0.113.9"
    missing = api.get("/api/contacts/999999/data-export")
    assert missing.status_code == 404
    assert missing.json()["error"] == {"code": "not_found", "message": "no contact with id 999999", "details": []}


def test_api_data_export_needs_the_read_scope(container: Container) -> None:
    cid = _seed(container)
    with _client(container, ["track"]) as client:
        assert client.get(f"/api/contacts/{cid}/data-export").status_code == 403
    with _client(container, ["read"]) as client:
        assert client.get(f"/api/contacts/{cid}/data-export").status_code == 200


def test_api_retention_policy_dry_run_run_and_log(api: Any, container: Container) -> None:
    now = container.clock.now()
    with container.engine.begin() as conn:
        seed.inbox(conn, now - timedelta(days=10))
        seed.inbox(conn, now - timedelta(days=1))
    assert api.get("/api/retention").json()["policy"]["inbox"] is None  # off by default
    bad = api.put("/api/retention", json={"inbox": 0, "contacts": 3})
    assert bad.status_code == 422
    assert {tuple(d["loc"]) for d in bad.json()["error"]["details"]} == {("body", "inbox"), ("body", "contacts")}
    short = api.put("/api/retention", json={"outbox": 30})  # the domain's rule: unsubscribe links
    assert short.status_code == 422 and short.json()["error"]["details"][0]["loc"] == ["body", "outbox"]
    assert "at least 730" in short.json()["error"]["message"]
    r = api.put("/api/retention", json={"inbox": 7})
    assert r.status_code == 200 and r.json()["policy"]["inbox"] == 7 and r.json()["policy"]["events"] is None
    dry = api.post("/api/retention/dry-run").json()
    assert dry["dry_run"] is True and dry["counts"] == {"inbox": 1}
    real = api.post("/api/retention/run").json()
    assert real["dry_run"] is False and real["counts"] == {"inbox": 1} and real["actor"].startswith("api:key ")
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.inbox)).scalar() == 1
    log = api.get("/api/retention/log").json()["items"]
    assert [(x["dry_run"], x["counts"]) for x in log] == [(False, {"inbox": 1}), (True, {"inbox": 1})]


def test_api_retention_changes_need_admin(container: Container) -> None:
    with _client(container, ["read", "write"]) as client:
        assert client.get("/api/retention").status_code == 200
        assert client.put("/api/retention", json={"inbox": 7}).status_code == 403
        assert client.post("/api/retention/run").status_code == 403
        assert client.post("/api/retention/dry-run").status_code == 403


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(cli_app, list(args))


def test_cli_export_data_writes_the_zip_and_prints_counts(cli, container: Container, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _seed(container)
    out = tmp_path / "ann.zip"
    r = cli("contacts", "export-data", "ann@example.com", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "events.jsonl" in r.output and "3" in r.output and f"wrote {out}" in r.output
    assert json.loads(_zip(out.read_bytes()).read("profile.json"))["first_name"] == "Ann"
    assert not (tmp_path / "ann.zip.part").exists()
    unknown = cli("contacts", "export-data", "nobody@example.com", "--out", str(tmp_path / "x.zip"))
    assert unknown.exit_code == 1 and "no contact matches 'nobody@example.com'" in unknown.output
    assert not (tmp_path / "x.zip").exists() and not (tmp_path / "x.zip.part").exists()


def test_cli_retention_show_set_dry_run_run_log(cli, container: Container) -> None:  # type: ignore[no-untyped-def]
    with container.engine.begin() as conn:
        seed.inbox(conn, container.clock.now() - timedelta(days=400))  # the CLI reads the real clock
    assert "off" in cli("retention", "show").output
    bad = cli("retention", "set", "contacts", "30")
    assert bad.exit_code == 1 and "unknown kind 'contacts'" in bad.output
    bad_days = cli("retention", "set", "inbox", "thirty")
    assert bad_days.exit_code == 1 and "DAYS must be a whole number" in bad_days.output
    assert cli("retention", "set", "inbox", "0").exit_code == 1
    ok = cli("retention", "set", "inbox", "365")
    assert ok.exit_code == 0 and "older than 365 days" in ok.output
    dry = cli("retention", "dry-run")
    assert dry.exit_code == 0 and "would delete" in dry.output and "inbox" in dry.output
    run = cli("retention", "run")
    assert run.exit_code == 0 and "deleted" in run.output
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.inbox)).scalar() == 0
    log = cli("retention", "log")
    assert log.exit_code == 0 and log.output.count("cli") == 2
    assert cli("retention", "set", "inbox", "off").exit_code == 0
    assert "365" not in cli("retention", "show").output


# --------------------------------------------------------------------------- web


def test_web_contact_page_button_downloads_the_zip(container: Container) -> None:
    cid = _seed(container)
    with web_client(container, "marketer") as (client, _):
        page = client.get(f"/contacts/{cid}")
        assert f'href="/contacts/{cid}/data-export.zip"' in page.text
        r = client.get(f"/contacts/{cid}/data-export.zip")
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        assert "manifest.json" in _zip(r.content).namelist()
        assert client.get("/contacts/999999/data-export.zip").status_code == 404


def test_web_viewer_gets_no_export(container: Container) -> None:
    cid = _seed(container)
    with web_client(container, "viewer") as (client, _):
        assert "data-export.zip" not in client.get(f"/contacts/{cid}").text
        assert client.get(f"/contacts/{cid}/data-export.zip").status_code == 403


def test_web_settings_retention_form_dry_run_and_log(container: Container) -> None:
    with container.engine.begin() as conn:
        seed.inbox(conn, container.clock.now() - timedelta(days=10))
    with web_client(container, "admin") as (client, _):
        page = client.get("/settings")
        assert 'id="retention-form"' in page.text
        assert 'name="outbox" type="number" min="730"' in page.text  # unsubscribe links need the row
        token = csrf_of(page.text)
        refused = client.post("/settings/retention", data={"inbox": "7"}, follow_redirects=False)
        assert refused.status_code == 403  # no CSRF token
        saved = client.post("/settings/retention", data={"inbox": "7", "csrf_token": token}, follow_redirects=False)
        assert saved.status_code == 303
        assert 'name="inbox" type="number" min="1" max="36500" value="7"' in client.get("/settings").text
        bad = client.post("/settings/retention", data={"inbox": "-3", "csrf_token": token})
        assert bad.status_code == 422 and "days must be a whole number" in bad.text
        dry = client.post("/settings/retention/dry-run", data={"csrf_token": token})
        assert dry.status_code == 200 and 'id="retention-dry-run-result"' in dry.text and "inbox 1" in dry.text
        assert "web:admin@example.com" in dry.text  # the log row, on the same page
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.inbox)).scalar() == 1  # a dry run


def test_web_retention_is_for_admins(container: Container) -> None:
    with web_client(container, "marketer") as (client, token):
        assert client.post("/settings/retention", data={"inbox": "7", "csrf_token": token}).status_code == 403
        assert client.post("/settings/retention/dry-run", data={"csrf_token": token}).status_code == 403
