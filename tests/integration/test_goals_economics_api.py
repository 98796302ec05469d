"""Goals and KPIs measured from the database, CSV, and a journey's economics (API and CLI),
with bad input refused naming the field."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.integration.journey_support import add_contact, add_event, drain, publish
from tidings.bootstrap import Container
from tidings.cli.main import app as cli
from tidings.clock import ManualClock
from tidings.domain.contacts import event_value
from tidings.store import schema
from tidings.store.queue import enqueue_contacts
from tidings.worker import JourneyWorker

WELCOME = """
key: welcome
triggers:
  - event: signed_up
settings:
  goal: {event: Order Completed, revenue: revenue}
steps:
  - id: hello
    type: send
    channel: email
    template: welcome-1
  - id: pause
    type: wait
    duration: 30d
"""


def purchase(conn: sa.Connection, contact_id: int, at: Any, revenue: float) -> None:
    """An order as ingest stores it: the revenue is also the event's value (domain.contacts.event_value)."""
    props = {"revenue": revenue}
    conn.execute(
        sa.insert(schema.events).values(
            contact_id=contact_id,
            name="order.completed",  # ingest stores spec names under their dotted name (domain.event_names)
            properties=props,
            occurred_at=at,
            received_at=at,
            value=event_value(props),
        )
    )
    enqueue_contacts(conn, [contact_id], at)


def seed(container: Container, clock: ManualClock) -> None:
    """10 leads, 4 of them buy 25.0 each: clock starts 2026-03-02 09:00."""
    now = clock.now()
    with container.engine.begin() as conn:
        for i in range(10):
            cid = add_contact(conn, now, f"g{i}@example.com", lifecycle_stage="mql" if i < 3 else None)
            if i < 4:
                purchase(conn, cid, now + timedelta(hours=1), 25.0)


def test_goal_progress_from_the_data_csv_and_errors(container: Container, clock: ManualClock, api: Any) -> None:
    seed(container, clock)
    clock.advance(timedelta(days=1))
    goal = {
        "key": "growth",
        "name": "Growth 2026",
        "start": "2026-03-01",
        "kpis": [
            {"kpi": "leads", "targets": {"3m": 100, "12m": 400}},
            {"kpi": "mqls", "targets": {"3m": 30}},
            {"kpi": "customers", "targets": {"3m": 10}},
            {"kpi": "revenue", "event": "Order Completed", "targets": {"3m": 1000, "24m": 9000}},
        ],
    }
    r = api.put("/api/goals", json=goal)
    assert r.status_code == 200, r.text
    rows = {(k["kpi"], k["horizon"]): k for k in r.json()["kpis"]}
    assert rows[("leads", "3m")]["actual"] == 10
    assert rows[("mqls", "3m")]["actual"] == 3
    assert rows[("customers", "3m")]["actual"] == 4
    assert rows[("revenue", "3m")]["actual"] == 100.0
    # 2 days (Mar 1 -> Mar 3 09:00) of 92: expected leads ~2.3, so 10 is on track
    assert rows[("leads", "3m")]["status"] == "on_track"
    assert [g["key"] for g in api.get("/api/goals").json()["items"]] == ["growth"]
    table = list(csv.DictReader(io.StringIO(api.get("/api/goals.csv").text)))
    assert len(table) == 6 and table[0]["goal"] == "growth" and table[0]["kpi"] == "leads"

    bad = api.put("/api/goals", json={**goal, "kpis": [{"kpi": "leads", "targets": {"5m": 1}}]})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["loc"] == ["body", "kpis", "0", "targets", "5m"]
    r = api.get("/api/kpis/leads", params={"from": "2026-03-05", "to": "2026-03-01"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["query", "to"]
    r = api.get("/api/kpis/likes", params={"from": "2026-03-01", "to": "2026-03-05"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["path", "kpi"]
    r = api.get("/api/kpis/revenue", params={"from": "2026-03-01", "to": "2026-03-05"})
    assert r.json()["value"] == 100.0
    # a goal event that never occurs is not an error: it measures zero
    r = api.get("/api/kpis/revenue", params={"from": "2026-03-01", "to": "2026-03-05", "event": "Never Happens"})
    assert r.status_code == 200 and r.json()["value"] == 0.0
    assert api.get("/api/goals/nope").status_code == 404
    assert api.delete("/api/goals/growth").status_code == 204


def test_journey_economics_api_and_cli(
    container: Container, clock: ManualClock, api: Any, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(container, WELCOME)
    now = clock.now()
    with container.engine.begin() as conn:
        ids = [add_contact(conn, now, f"e{i}@example.com") for i in range(20)]
        for cid in ids:
            add_event(conn, cid, "signed_up", now)
    drain(JourneyWorker(container))
    clock.advance(timedelta(days=2))
    with container.engine.begin() as conn:
        for cid in ids[:5]:
            purchase(conn, cid, clock.now(), 40.0)
    drain(JourneyWorker(container))
    r = api.put(
        "/api/journeys/welcome/economics", json={"hours_per_enrolment": 0.5, "hourly_rate": 30, "build_hours": 4}
    )
    assert r.status_code == 200, r.text
    out = api.get("/api/journeys/welcome/economics").json()
    assert out["enrolments"] == 20 and out["hours_saved"] == 10.0 and out["labour_value"] == 300.0
    assert out["conversions"] == 5 and out["attributed_revenue"] == 200.0
    assert out["cost"]["build"] == 120.0
    assert out["roi"] > 0 and out["status"] == "paid_off"

    bad = api.put("/api/journeys/welcome/economics", json={"unit_costs": {"sms": -1}})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["loc"] == ["body", "unit_costs", "sms"]
    r = api.get("/api/journeys/welcome/economics", params={"from": "2026-03-05", "to": "2026-03-01"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["query", "to"]
    assert api.get("/api/journeys/nope/economics").status_code == 404

    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    run = CliRunner().invoke
    r = run(cli, ["journeys", "economics", "welcome", "--set", "unit_costs.email=0.01", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["inputs"]["unit_costs"]["email"] == 0.01 and data["inputs"]["hourly_rate"] == 30
    r = run(cli, ["journeys", "economics", "welcome", "--from", "2026-03-05", "--to", "2026-03-01"])
    assert r.exit_code == 1 and "--to" in r.output
    r = run(cli, ["journeys", "economics", "welcome"])
    assert r.exit_code == 0 and "hours saved" in r.output


def test_goals_cli(
    container: Container, clock: ManualClock, db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    seed(container, clock)
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    doc = tmp_path / "goal.yaml"
    doc.write_text("key: q\nstart: 2026-03-01\nkpis:\n  - kpi: leads\n    targets: {3m: 50}\n")
    run = CliRunner().invoke
    r = run(cli, ["goals", "save", str(doc)])
    assert r.exit_code == 0, r.output
    assert "leads" in r.output
    r = run(cli, ["goals", "list", "--csv"])
    assert r.exit_code == 0 and r.stdout.splitlines()[0].startswith("goal,kpi,horizon")
    doc.write_text("key: q\nstart: 2026-03-01\nkpis:\n  - kpi: leads\n    targets: {3m: -5}\n")
    r = run(cli, ["goals", "save", str(doc)])
    assert r.exit_code == 1 and "kpis[0].targets.3m" in r.output
    r = run(cli, ["goals", "kpi", "leads", "--from", "2026-03-05", "--to", "2026-03-01"])
    assert r.exit_code == 1 and "--to" in r.output
