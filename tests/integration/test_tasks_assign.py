"""Sales tasks: assignment (fixed, rule, contact owner, round robin), notification, completion event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner

from tidings.application.ports.senders import OutgoingMessage
from tidings.application.sales.task_channel import TaskProvider
from tidings.bootstrap import Container
from tidings.store import schema
from tidings.store.sql_uow import joined


def contact(container: Container, **fields: Any) -> int:
    now = container.clock.now()
    values = {"attributes": {}, "created_at": now, "updated_at": now} | fields
    with container.engine.begin() as conn:
        return int(conn.execute(sa.insert(schema.contacts).values(**values)).inserted_primary_key[0])


def user(container: Container, email: str, team: str | None) -> None:
    now = container.clock.now()
    with container.engine.begin() as conn:
        conn.execute(
            sa.insert(schema.users).values(
                email=email,
                password_hash="x",
                role="marketer",
                team=team,
                created_at=now,
                password_changed_at=now,
            )
        )


def task_msg(cid: int, n: int, **data: Any) -> OutgoingMessage:
    return OutgoingMessage(
        outbox_id=n,
        channel="task",
        contact_id=cid,
        recipient=str(cid),
        idempotency_key=f"t{n}",
        message_ref=f"t{n}@x",
        data={"title": "Call the lead"} | data,
    )


async def test_round_robin_within_a_team_of_users(container: Container) -> None:
    for email in ("bob@shop.test", "ann@shop.test"):
        user(container, email, "north")
    user(container, "zed@shop.test", "south")
    cid = contact(container, email="lead@example.org")
    provider = TaskProvider(container.uow, container.clock)
    owners = []
    for n in range(1, 6):
        result = await provider.send(task_msg(cid, n, team="north", due_in_seconds=300))
        assert result.ok, result.error
        owners.append(result.detail["owner"])
    assert owners == ["ann@shop.test", "bob@shop.test", "ann@shop.test", "bob@shop.test", "ann@shop.test"]
    again = await provider.send(task_msg(cid, 1, team="north"))  # a retry of outbox row 1
    assert again.provider_message_id == "task-1" and again.detail["assigned_by"] == "existing"
    assert await provider.confirm(task_msg(cid, 1)) is True
    assert await provider.confirm(task_msg(cid, 99)) is False
    with container.engine.connect() as conn:
        tasks = conn.execute(sa.select(schema.tasks).order_by(schema.tasks.c.id)).mappings().all()
        notes = conn.execute(sa.select(schema.outbox).order_by(schema.outbox.c.id)).mappings().all()
    assert len(tasks) == 5
    assert tasks[0]["due_at"] == container.clock.now() + timedelta(seconds=300)
    # each owner is notified by a transactional email through the outbox
    assert [n["payload"]["to"] for n in notes] == owners
    assert all(n["category"] == "transactional" and n["channel"] == "email" for n in notes)
    assert notes[0]["payload"]["data"]["task"]["title"] == "Call the lead"


def test_routing_rules_reps_and_contact_owner(api: Any, container: Container) -> None:
    r = api.put(
        "/api/task-routing",
        json={
            "teams": {"emea": ["eva@shop.test", "olaf@shop.test"]},
            "rules": [
                {"attribute": "region", "equals": "emea", "team": "emea"},
                {"attribute": "country", "equals": "TH", "owner": "somchai@shop.test"},
            ],
            "notify": {"emea": {"webhook": "https://crm.example/hook"}},
        },
    )
    assert r.status_code == 200, r.text
    bad = api.put("/api/task-routing", json={"rules": [{"attribute": "x", "equals": 1}]})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["loc"] == [
        "body",
        "rules",
        "0",
        "owner",
    ]
    emea = contact(container, email="a@x.org", attributes={"region": "emea"})
    thai = contact(container, email="b@x.org", attributes={"country": "TH"})
    owned = contact(container, email="c@x.org", owner="kim@shop.test")
    nobody = contact(container, email="d@x.org")
    made = [
        api.post("/api/tasks", json={"contact_id": cid, "title": "Follow up"}).json()
        for cid in (emea, emea, thai, owned, nobody)
    ]
    assert [m["owner"] for m in made] == [
        "eva@shop.test",
        "olaf@shop.test",
        "somchai@shop.test",
        "kim@shop.test",
        None,
    ]
    assert [m["assigned_by"] for m in made] == [
        "round_robin",
        "round_robin",
        "rule:country",
        "contact_owner",
        "unassigned",
    ]
    with container.engine.connect() as conn:
        hooks = (
            conn.execute(sa.select(schema.outbox).where(schema.outbox.c.kind == "webhook")).mappings().all()
        )
    assert len(hooks) == 2 and hooks[0]["payload"]["url"] == "https://crm.example/hook"
    assert hooks[0]["payload"]["body"]["event"] == "task.assigned"
    missing = api.post("/api/tasks", json={"contact_id": 999, "title": "x"})
    assert missing.status_code == 404


def test_completion_appends_task_completed_once(api: Any, container: Container) -> None:
    cid = contact(container, email="lead@example.org")
    task = api.post(
        "/api/tasks", json={"contact_id": cid, "title": "Demo call", "owner": "ann@shop.test"}
    ).json()
    r = api.patch(f"/api/tasks/{task['id']}", json={"status": "done"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "done" and r.json()["completed_at"]
    api.patch(f"/api/tasks/{task['id']}", json={"status": "done"})
    with container.engine.connect() as conn:
        events = (
            conn.execute(sa.select(schema.events).where(schema.events.c.name == "task.completed"))
            .mappings()
            .all()
        )
        queued = conn.execute(sa.select(schema.contact_queue.c.contact_id)).scalars().all()
    assert len(events) == 1
    assert events[0]["contact_id"] == cid
    assert (
        events[0]["properties"]["task_id"] == task["id"] and events[0]["properties"]["title"] == "Demo call"
    )
    assert queued == [cid]
    assert api.patch(f"/api/tasks/{task['id']}", json={"status": "later"}).status_code == 422
    assert api.patch("/api/tasks/999", json={"status": "done"}).status_code == 404
    listed = api.get("/api/tasks", params={"status": "done"}).json()["items"]
    assert [t["id"] for t in listed] == [task["id"]]


def test_cli_list_complete_and_team(container: Container, db_url: str, monkeypatch: Any) -> None:
    from tidings.cli import common
    from tidings.cli.main import app

    monkeypatch.setattr(common.console, "width", 250)
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    runner = CliRunner()
    assert runner.invoke(app, ["tasks", "team", "west", "--reps", "wes@shop.test"]).exit_code == 0
    cid = contact(container, email="lead@example.org")
    from tidings.application.sales.tasks import create_task

    with container.engine.begin() as conn:
        task = create_task(joined(conn), contact_id=cid, title="Send quote", team="west", now=container.clock.now())
    assert task["owner"] == "wes@shop.test"
    listed = runner.invoke(app, ["tasks", "list"])
    assert listed.exit_code == 0 and "Send quote" in listed.output and "wes@shop.test" in listed.output
    done = runner.invoke(app, ["tasks", "complete", str(task["id"])])
    assert done.exit_code == 0, done.output
    assert runner.invoke(app, ["tasks", "complete", "999"]).exit_code != 0
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(schema.tasks.c.status)).scalar() == "done"


def test_reassigning_notifies_each_new_owner(api: Any, container: Container) -> None:
    cid = contact(container, email="lead@example.org")
    task = api.post("/api/tasks", json={"contact_id": cid, "title": "Quote", "owner": "a@shop.test"}).json()
    assert api.patch(f"/api/tasks/{task['id']}", json={"owner": "b@shop.test"}).status_code == 200
    container.clock.advance(timedelta(minutes=1))
    assert api.patch(f"/api/tasks/{task['id']}", json={"owner": "a@shop.test"}).status_code == 200
    with container.engine.connect() as conn:
        to = conn.execute(sa.select(schema.outbox.c.payload).order_by(schema.outbox.c.id)).scalars().all()
    assert [p["to"] for p in to] == ["a@shop.test", "b@shop.test", "a@shop.test"]
