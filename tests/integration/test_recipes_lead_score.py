"""The B2B recipes ship the lead-score model (SQLite and PostgreSQL): installing publishes it in
the same transaction as templates and journey (created, unchanged, an edited model kept), a CRM
that is not configured is a warning for them and an error elsewhere, and during the nurture series
events pushing a lead over 50 points hand it off: a sales task due by the team's SLA and a task in
(the local) HubSpot, with no further lesson."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.fake_crm import FakeHubSpot
from tests.fake_http import FakeHttpServer
from tests.integration.journey_support import drain
from tests.integration.test_crm_handoff import deliver
from tests.integration.test_tasks_assign import user
from tidings.application.recipes import recipes as r
from tidings.bootstrap import Container
from tidings.store import schema
from tidings.worker import JourneyWorker


@pytest.fixture
def cli_env(db_url: str, container: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    monkeypatch.setenv("TIDINGS_SECRET_KEY", "test-secret-key")


WARNING = "CRM 'hubspot' is not configured: hand-offs wait in the dead letters until it is (docs/crm.md)"


def _model(container: Container) -> Any:
    with container.uow(read_only=True) as uow:
        return uow.scoring.model("lead-score")


def test_install_publishes_the_model_once_and_keeps_an_edited_one(container: Container) -> None:
    text = (r.RECIPES_DIR / "lead-nurture" / "scoring.yaml").read_text()
    first = r.install(container, "lead-nurture")
    assert first["installed"], first["problems"]
    assert first["scoring"] == {"key": "lead-score", "status": "created", "version": 1}
    assert {"kind": "channel", "severity": "warning", "message": WARNING} in first["problems"]
    stored = _model(container)
    assert stored.document == text and stored.active
    # the same file from the other recipe, and a reinstall: nothing new
    assert r.install(container, "demo-request")["scoring"] == {"key": "lead-score", "status": "unchanged", "version": 1}
    assert r.install(container, "lead-nurture")["scoring"]["status"] == "unchanged"
    # a marketer raises the MQL threshold: kept on reinstall, overwritten only with replace
    edited = text.replace("{stage: mql, at: 50}", "{stage: mql, at: 60}")
    with container.uow() as uow:
        uow.scoring.save_model("lead-score", "Lead score", edited, container.clock.now())
        uow.commit()
    kept = r.install(container, "lead-nurture")
    assert kept["scoring"] == {"key": "lead-score", "status": "kept", "version": 2}
    assert _model(container).document == edited
    back = r.install(container, "lead-nurture", replace=True)
    assert back["scoring"] == {"key": "lead-score", "status": "replaced", "version": 3}
    assert _model(container).document == text
    # a recipe without a model says so
    assert r.install(container, "welcome-series")["scoring"] is None


def test_an_unconfigured_crm_is_a_warning_only_for_recipes_that_declare_it_optional(container: Container) -> None:
    nurture = r.load_recipe("lead-nurture")
    found = [(f.severity, f.message) for f in r.check(container, nurture) if "CRM" in f.message]
    assert found == [("warning", WARNING)]
    strict = replace(nurture, optional_channels=())  # a recipe that needs its CRM
    found = [(f.severity, f.message) for f in r.check(container, strict) if "CRM" in f.message]
    assert found == [("error", "CRM 'hubspot' is not configured (docs/crm.md)")]
    res = r.install(container, "lead-nurture", {"crm_system": "salesforce"})
    assert res["installed"]
    crm = [p["message"] for p in res["problems"] if "CRM" in p["message"]]
    assert crm == [WARNING.replace("hubspot", "salesforce")]
    container.settings = replace(container.settings, hubspot_url="https://api.hubapi.com", hubspot_token="t0ken")
    assert not [f for f in r.check(container, nurture) if "CRM" in f.message]


def test_api_and_cli_show_the_model(api: Any, cli_env: None, container: Container) -> None:
    from tidings.cli.main import app

    got = api.get("/api/recipes/lead-nurture").json()
    assert got["scoring"] == {"key": "lead-score", "name": "Lead score"} and got["optional_channels"] == ["crm"]
    assert "score.threshold_crossed" in got["events"]
    res = api.post("/api/recipes/demo-request/install")
    assert res.status_code == 200, res.text
    assert res.json()["scoring"]["status"] == "created"
    run = CliRunner().invoke
    shown = run(app, ["recipes", "show", "lead-nurture"])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.stdout.split())
    assert "scoring model: lead-score (Lead score)" in text and "optional: crm" in text
    assert "--set crm_system=... " in text and "teams: sales" in text
    out = run(app, ["recipes", "install", "lead-nurture"])
    assert out.exit_code == 0, out.output
    text = " ".join(out.stdout.split())
    assert "scoring model lead-score v1 (unchanged)" in text and "hand-offs wait in the dead letters" in text
    assert run(app, ["recipes", "show", "nope"]).exit_code == 1


def _event(api: Any, name: str, **properties: Any) -> None:
    res = api.post(
        "/api/events",
        json={"email": "sam@corp.test", "name": name, "properties": properties, "message_id": str(uuid.uuid4())},
    )
    assert res.status_code == 202, res.text


def _rows(container: Container, table: sa.Table, *where: Any) -> list[dict[str, Any]]:
    with container.engine.connect() as conn:
        return [dict(x) for x in conn.execute(sa.select(table).where(*where).order_by(table.c.id)).mappings()]


async def test_a_lead_crossing_50_points_mid_series_goes_to_sales_and_hubspot(api: Any, container: Container) -> None:
    hub = FakeHubSpot()
    with FakeHttpServer(hub) as hs:
        container.settings = replace(
            container.settings, webhook_allow=("127.0.0.1/32",), hubspot_url=hs.url, hubspot_token=hub.token
        )
        user(container, "ann@corp.test", "sales")
        assert api.put("/api/task-routing", json={"sla": {"sales": {"due_in": "15m"}}}).status_code == 200
        res = api.post("/api/recipes/lead-nurture/install")
        assert res.status_code == 200, res.text
        assert not [p for p in res.json()["problems"] if "CRM" in p["message"]]
        worker = JourneyWorker(container)
        made = api.post(
            "/api/contacts",
            json={
                "email": "sam@corp.test",
                "first_name": "Sam",
                "timezone": "Europe/London",
                "lifecycle_stage": "subscriber",
                "attributes": {"company_size": 120},
                "consent": {"email": {"status": "granted"}},
            },
        )
        assert made.status_code == 201, made.text
        cid = int(made.json()["id"])
        assert api.patch(f"/api/contacts/{cid}", json={"lifecycle_stage": "lead"}).status_code == 200
        drain(worker)
        sent = [x["template"] for x in _rows(container, schema.outbox, schema.outbox.c.contact_id == cid)]
        assert sent == ["nurture-1"]
        # two weeks into the first month: pricing page, a webinar, the lesson's links
        container.clock.advance(timedelta(days=14))
        for _ in range(4):  # capped at 15 points a week
            _event(api, "Page Viewed", path="/pricing")
        _event(api, "webinar.checked_in", webinar_id="w-1")
        drain(worker)
        score = api.get(f"/api/contacts/{cid}/score").json()
        assert score["models"][0]["stage"] == "lead", score  # 10 (size) + 15 + 15 = 40: not yet
        _event(api, "message.clicked", template="nurture-1", channel="email", machine=False)
        _event(api, "message.clicked", template="nurture-1", channel="email", machine=True)  # a scanner: nothing
        drain(worker)
        score = api.get(f"/api/contacts/{cid}/score").json()["models"][0]
        assert score["stage"] == "lead" and score["score"] == 45, score
        _event(api, "message.clicked", template="nurture-1", channel="email", machine=False)
        drain(worker)  # 50 points: mql, score.threshold_crossed, the wait resumes, the hand-off
        drain(worker)
        rows = _rows(container, schema.outbox, schema.outbox.c.contact_id == cid)
        assert [(x["step_id"], x["channel"]) for x in rows] == [
            ("lesson-1", "email"),
            ("call-task", "task"),
            ("crm-task", "crm"),
        ]
        await deliver(container)
        await deliver(container)
        # thirty days on, no second lesson: the series ended with the hand-off
        container.clock.advance(timedelta(days=31))
        drain(worker)
    rows = _rows(container, schema.outbox, schema.outbox.c.contact_id == cid)
    assert [x["step_id"] for x in rows if x["step_id"]] == ["lesson-1", "call-task", "crm-task"]
    assert [x["template"] for x in rows if x["template"]] == ["nurture-1", "tidings-task-assigned"]  # ann is told
    (task,) = _rows(container, schema.tasks, schema.tasks.c.contact_id == cid)
    assert (task["title"], task["team"]) == ("Call a new marketing-qualified lead", "sales")
    assert task["owner"] == "ann@corp.test"  # the team's only rep
    assert task["due_at"].replace(tzinfo=None) - task["created_at"].replace(tzinfo=None) == timedelta(minutes=15)
    assert "score explanation" in task["body"]
    (contact,) = hub.contacts.values()
    assert contact["properties"]["email"] == "sam@corp.test"
    (crm_task,) = hub.tasks.values()
    assert crm_task["properties"]["hs_task_subject"] == "Call a new marketing-qualified lead"
    assert crm_task["properties"]["hs_task_priority"] == "HIGH"
    assert crm_task["associations"][0]["to"] == {"id": contact["id"]}
    (enrolment,) = _rows(container, schema.enrollments, schema.enrollments.c.contact_id == cid)
    assert (enrolment["status"], enrolment["end_reason"]) == ("ended", "completed"), enrolment
    # the CRM's owner came back after the series ended (allow_owned: false stopped nothing of it)
    assert api.get(f"/api/contacts/{cid}").json()["owner"] == "rep@corp.test"
