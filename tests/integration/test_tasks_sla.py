"""Sales tasks: capacity (round robin skips full reps, least loaded), SLA due times, escalation once."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.integration.test_tasks_assign import contact, task_msg, user
from tidings.application.sales.escalation import TaskEscalator, escalation_pass
from tidings.application.sales.task_channel import TaskProvider
from tidings.bootstrap import Container
from tidings.store import schema
from tidings.store.sql_uow import joined

NORTH = ["ann@shop.test", "bob@shop.test", "cy@shop.test"]


def routing(api: Any, **doc: Any) -> None:
    r = api.put("/api/task-routing", json=doc)
    assert r.status_code == 200, r.text


def rows(container: Container, table: sa.Table, *where: Any) -> list[dict[str, Any]]:
    with container.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(table).where(*where).order_by(table.c.id)).mappings()]


async def test_round_robin_skips_reps_at_capacity_and_leaves_the_task_to_the_team(
    api: Any, container: Container
) -> None:
    for email in NORTH:
        user(container, email, "north")
    routing(api, assignment={"north": {"max_open": 2, "reps": {"bob@shop.test": 1}}})
    cid = contact(container, email="lead@example.org")
    provider = TaskProvider(container.uow, container.clock)
    got = []
    for n in range(1, 8):
        result = await provider.send(task_msg(cid, n, team="north"))
        assert result.ok, result.error
        got.append((result.detail["owner"], result.detail["assigned_by"]))
    assert got == [
        ("ann@shop.test", "round_robin"),
        ("bob@shop.test", "round_robin"),
        ("cy@shop.test", "round_robin"),
        ("ann@shop.test", "round_robin"),  # bob is full (1): skipped
        ("cy@shop.test", "round_robin"),
        (None, "at_capacity"),  # everyone is full: nobody, never over capacity
        (None, "at_capacity"),
    ]
    tasks = rows(container, schema.tasks)
    assert [t["team"] for t in tasks] == ["north"] * 7
    # bob finishes his task: the next one is his
    assert api.patch(f"/api/tasks/{tasks[1]['id']}", json={"status": "done"}).status_code == 200
    result = await provider.send(task_msg(cid, 8, team="north"))
    assert (result.detail["owner"], result.detail["assigned_by"]) == ("bob@shop.test", "round_robin")


def test_least_loaded_counts_open_tasks_of_every_team(api: Any, container: Container) -> None:
    routing(
        api,
        teams={"west": ["wes@shop.test", "val@shop.test"]},
        assignment={"west": {"strategy": "least_loaded", "max_open": 3}},
    )
    cid = contact(container, email="lead@example.org")
    for _ in range(2):  # wes already holds two tasks (fixed owner, no team)
        api.post("/api/tasks", json={"contact_id": cid, "title": "Own", "owner": "wes@shop.test"})
    made = [api.post("/api/tasks", json={"contact_id": cid, "title": "T", "team": "west"}).json() for _ in range(5)]
    assert [(m["owner"], m["assigned_by"]) for m in made] == [
        ("val@shop.test", "least_loaded"),
        ("val@shop.test", "least_loaded"),
        ("wes@shop.test", "least_loaded"),  # 2 and 2: the rotation breaks the tie
        ("val@shop.test", "least_loaded"),
        (None, "at_capacity"),
    ]


def test_the_contact_owner_rule_and_attribute_rules_come_first(api: Any, container: Container) -> None:
    routing(
        api,
        teams={"north": ["ann@shop.test"]},
        rules=[{"attribute": "territory", "equals": "north", "team": "north"}],
        assignment={"north": {"max_open": 0}},
    )
    owned = contact(container, email="o@x.org", owner="ann@shop.test", attributes={"territory": "north"})
    other = contact(container, email="p@x.org", attributes={"territory": "north"})
    a = api.post("/api/tasks", json={"contact_id": owned, "title": "T"}).json()
    b = api.post("/api/tasks", json={"contact_id": other, "title": "T"}).json()
    assert (a["owner"], a["team"], a["assigned_by"]) == ("ann@shop.test", "north", "contact_owner")
    assert (b["owner"], b["team"], b["assigned_by"]) == (None, "north", "at_capacity")


async def test_sla_gives_a_due_time_when_the_step_has_none(api: Any, container: Container) -> None:
    routing(api, teams={"north": ["ann@shop.test"]}, sla={"north": {"due_in": "5m"}})
    cid = contact(container, email="lead@example.org")
    provider = TaskProvider(container.uow, container.clock)
    await provider.send(task_msg(cid, 1, team="north"))
    await provider.send(task_msg(cid, 2, team="north", due_in_seconds=3600))
    await provider.send(task_msg(cid, 3, team="south"))
    now = container.clock.now()
    due = [t["due_at"] for t in rows(container, schema.tasks)]
    assert due == [now + timedelta(minutes=5), now + timedelta(hours=1), None]


def test_routing_document_validation_has_field_paths(api: Any) -> None:
    for doc, loc in (
        ({"assignment": {"north": {"strategy": "random"}}}, ["assignment", "north", "strategy"]),
        ({"assignment": {"north": {"max_open": -1}}}, ["assignment", "north", "max_open"]),
        ({"sla": {"north": {"due_in": "soon"}}}, ["sla", "north", "due_in"]),
        ({"sla": {"north": {"escalate_to": "lead@shop.test"}}}, ["sla", "north", "escalate_after"]),
        ({"sla": {"north": {"escalate_after": "10m", "escalate_to": "lead"}}}, ["sla", "north", "escalate_to"]),
    ):
        r = api.put("/api/task-routing", json=doc)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"][0]["loc"] == ["body", *loc]
    doc = {"sla": {"north": {"due_in": "5m", "escalate_after": "10m", "escalate_to": "lead@shop.test"}},
           "assignment": {"north": {"strategy": "least_loaded", "max_open": 4}}}
    routing(api, **doc)
    got = api.get("/api/task-routing").json()
    assert (got["sla"], got["assignment"]) == (doc["sla"], doc["assignment"])


async def test_escalation_once_past_the_delay_notifies_and_records_the_event(
    api: Any, container: Container
) -> None:
    routing(
        api,
        teams={"north": ["ann@shop.test"]},
        notify={"north": {"webhook": "https://crm.example/hook"}},
        sla={"north": {"due_in": "5m", "escalate_after": "10m", "escalate_to": "lead@shop.test"}},
    )
    cid = contact(container, email="lead@example.org")
    provider = TaskProvider(container.uow, container.clock)
    await provider.send(task_msg(cid, 1, team="north"))
    await provider.send(task_msg(cid, 2, team="north"))
    first, second = rows(container, schema.tasks)
    assert api.patch(f"/api/tasks/{second['id']}", json={"status": "done"}).status_code == 200
    escalator = TaskEscalator(container.uow, container.clock)
    container.clock.advance(timedelta(minutes=14, seconds=59))
    assert escalator.run_once() == []
    container.clock.advance(timedelta(seconds=1))
    at = container.clock.now()
    assert escalator.run_once() == [first["id"]]
    assert escalator.run_once() == []
    container.clock.advance(timedelta(hours=1))
    assert api.post("/api/tasks/escalate").json() == {"escalated": []}
    task = api.get(f"/api/tasks/{first['id']}").json()
    assert (task["escalated_at"], task["escalated_to"], task["owner"]) == (
        at.isoformat(), "lead@shop.test", "ann@shop.test"
    )
    sent = rows(container, schema.outbox, schema.outbox.c.idempotency_key.like("task-escalated%"))
    assert [(s["channel"], s["payload"].get("to") or s["payload"]["url"]) for s in sent] == [
        ("email", "lead@shop.test"),
        ("webhook", "https://crm.example/hook"),
    ]
    assert sent[1]["payload"]["body"]["event"] == "task.escalated"
    assert sent[0]["template"] == "tidings-task-escalated"
    events = rows(container, schema.events, schema.events.c.name == "task.escalated")
    assert len(events) == 1 and events[0]["contact_id"] == cid
    assert events[0]["properties"]["task_id"] == first["id"]
    assert events[0]["properties"]["escalated_to"] == "lead@shop.test"
    assert cid in rows_ids(container)


def rows_ids(container: Container) -> list[int]:
    with container.engine.connect() as conn:
        return list(conn.execute(sa.select(schema.contact_queue.c.contact_id)).scalars())


def test_escalation_can_reassign(api: Any, container: Container) -> None:
    routing(
        api,
        teams={"north": ["ann@shop.test"]},
        sla={"north": {"escalate_after": "0m", "escalate_to": "lead@shop.test", "reassign": True}},
    )
    cid = contact(container, email="lead@example.org")
    due = (container.clock.now() + timedelta(minutes=30)).isoformat()
    task = api.post("/api/tasks", json={"contact_id": cid, "title": "T", "team": "north", "due_at": due}).json()
    assert task["owner"] == "ann@shop.test"
    container.clock.advance(timedelta(minutes=30))
    with container.uow() as uow:
        assert escalation_pass(uow, container.clock.now()) == [task["id"]]
        uow.commit()
    after = api.get(f"/api/tasks/{task['id']}").json()
    assert (after["owner"], after["escalated_to"]) == ("lead@shop.test", "lead@shop.test")
    event = rows(container, schema.events, schema.events.c.name == "task.escalated")[0]
    assert (event["properties"]["owner"], event["properties"]["previous_owner"]) == ("lead@shop.test", "ann@shop.test")


def test_two_workers_never_both_escalate(api: Any, container: Container, db_url: str) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer at a time: the race cannot happen there")
    routing(api, teams={"north": ["ann@shop.test"]}, sla={"north": {"due_in": "1m", "escalate_after": "1m"}})
    cid = contact(container, email="lead@example.org")
    for _ in range(3):
        api.post("/api/tasks", json={"contact_id": cid, "title": "T", "team": "north"})
    container.clock.advance(timedelta(minutes=3))
    now = container.clock.now()
    results: dict[str, list[int]] = {}
    with container.engine.begin() as conn:
        results["a"] = escalation_pass(joined(conn), now)

        def other() -> None:
            with container.engine.begin() as conn_b:
                results["b"] = escalation_pass(joined(conn_b), now)

        b = threading.Thread(target=other)
        b.start()
        b.join(timeout=0.5)
        assert b.is_alive()  # waits on the rows the first worker updated
    b.join(timeout=10)
    assert len(results["a"]) == 3 and results["b"] == []
    assert len(rows(container, schema.events, schema.events.c.name == "task.escalated")) == 3


def test_two_workers_never_fill_the_last_place_twice(api: Any, container: Container, db_url: str) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer at a time: the race cannot happen there")
    from tidings.application.sales.tasks import create_task

    routing(api, teams={"north": ["ann@shop.test"]}, assignment={"north": {"max_open": 1}})
    cid = contact(container, email="lead@example.org")
    now = container.clock.now()
    got: dict[str, Any] = {}
    with container.engine.begin() as conn:
        got["a"] = create_task(joined(conn), contact_id=cid, title="A", team="north", now=now)

        def other() -> None:
            with container.engine.begin() as conn_b:
                got["b"] = create_task(joined(conn_b), contact_id=cid, title="B", team="north", now=now)

        b = threading.Thread(target=other)
        b.start()
        b.join(timeout=0.5)
        assert b.is_alive()  # queued on the team's rotation row
    b.join(timeout=10)
    assert (got["a"]["owner"], got["a"]["assigned_by"]) == ("ann@shop.test", "round_robin")
    assert (got["b"]["owner"], got["b"]["assigned_by"]) == (None, "at_capacity")


def test_cli_assignment_sla_and_escalate(container: Container, db_url: str, monkeypatch: Any) -> None:
    from tidings.cli import common
    from tidings.cli.main import app

    monkeypatch.setattr(common.console, "width", 250)
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    runner = CliRunner()
    ok = runner.invoke(app, ["tasks", "team", "west", "--reps", "wes@shop.test", "--strategy", "least_loaded",
                             "--max-open", "3", "--rep-max", "wes@shop.test=2"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(app, ["tasks", "team", "west", "--reps", "wes@shop.test", "--rep-max", "wes@shop.test"])
    assert bad.exit_code != 0 and "--rep-max" in bad.output
    ok = runner.invoke(app, ["tasks", "sla", "west", "--due-in", "5m", "--escalate-after", "10m",
                             "--escalate-to", "lead@shop.test"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(app, ["tasks", "sla", "west", "--due-in", "soon"])
    assert bad.exit_code != 0 and "sla.west.due_in" in bad.output
    bad = runner.invoke(app, ["tasks", "team", "west", "--reps", "wes@shop.test", "--strategy", "random"])
    assert bad.exit_code != 0 and "assignment.west.strategy" in bad.output
    with container.engine.connect() as conn:
        doc = conn.execute(sa.select(schema.app_state.c.value).where(schema.app_state.c.key == "task_routing")).scalar()
    assert doc["assignment"] == {"west": {"strategy": "least_loaded", "max_open": 3, "reps": {"wes@shop.test": 2}}}
    assert doc["sla"] == {"west": {"due_in": "5m", "escalate_after": "10m", "escalate_to": "lead@shop.test"}}
    from tidings.application.sales.tasks import create_task

    cid = contact(container, email="lead@example.org")
    with container.engine.begin() as conn:
        task = create_task(joined(conn), contact_id=cid, title="Send quote", team="west", now=container.clock.now())
    assert task["due_at"] == container.clock.now() + timedelta(minutes=5)
    shown = runner.invoke(app, ["tasks", "escalate"])
    assert shown.exit_code == 0 and "1 task(s) escalated" in shown.output, shown.output  # the real clock: long past


def test_a_journey_triggers_on_task_escalated(api: Any, container: Container) -> None:
    from tests.integration.journey_support import drain, publish
    from tidings.worker import JourneyWorker

    publish(
        container,
        """
key: escalated-followup
triggers: [{event: task.escalated}]
steps:
  - {id: flag, type: update_contact, add_tags: [sla-missed]}
""",
    )
    routing(api, teams={"north": ["ann@shop.test"]}, sla={"north": {"due_in": "5m", "escalate_after": "10m"}})
    cid = contact(container, email="lead@example.org")
    api.post("/api/tasks", json={"contact_id": cid, "title": "Call", "team": "north"})
    worker = JourneyWorker(container)
    drain(worker)
    container.clock.advance(timedelta(minutes=15))
    assert len(api.post("/api/tasks/escalate").json()["escalated"]) == 1
    drain(worker)
    with container.engine.connect() as conn:
        t = schema.contact_tags
        tags = conn.execute(sa.select(t.c.tag).where(t.c.contact_id == cid)).scalars().all()
    assert tags == ["sla-missed"]


def test_the_worker_runs_the_escalator_on_its_setting(container: Container) -> None:
    from dataclasses import replace

    from tidings.runtime import background_services

    container.settings = replace(container.settings, task_escalation_seconds=7.0)
    (escalator,) = [s for s in background_services(container, worker=True, catcher=False) if s.name == "task-escalator"]
    assert isinstance(escalator, TaskEscalator) and escalator.every == 7.0
    from tidings.settings import Settings

    assert Settings.from_env({"TIDINGS_TASK_ESCALATION_SECONDS": "30"}).task_escalation_seconds == 30.0
    assert Settings.from_env({}).task_escalation_seconds == 60.0
