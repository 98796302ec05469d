"""Web app: the sales tasks page — mine / team / everyone, open / overdue / done, complete one
(the service records ``task.completed`` for the contact, as the API does)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from tests.web_support import web_client
from tidings.application.sales import tasks as tasks_service
from tidings.bootstrap import Container
from tidings.store import schema
from tidings.store.sql_uow import joined


def seed(container: Container) -> dict[str, Any]:
    """A contact, a journey whose step made a task for the marketer, and tasks of others."""
    now = container.clock.now()
    with container.engine.begin() as conn:
        cid = conn.execute(
            sa.insert(schema.contacts).values(
                email="lead@example.org", first_name="Lena", last_name="<b>Lead</b>", attributes={},
                created_at=now, updated_at=now,
            )
        ).inserted_primary_key[0]
        jid = conn.execute(
            sa.insert(schema.journeys).values(
                key="demo-handoff", name="Demo hand-off", status="active", current_version=1,
                created_at=now, updated_at=now,
            )
        ).inserted_primary_key[0]
        oid = conn.execute(
            sa.insert(schema.outbox).values(
                contact_id=cid, idempotency_key="task-1", kind="task", channel="task", journey_id=jid,
                journey_version=1, step_id="call-lead", payload={}, status="sent", next_attempt_at=now,
                created_at=now,
            )
        ).inserted_primary_key[0]
        mine = tasks_service.create_task(
            joined(conn), contact_id=cid, title="Call Lena", now=now, owner="marketer@example.com", team="north",
            due_at=now + timedelta(hours=2), outbox_id=oid, notify=False,
        )
        late = tasks_service.create_task(
            joined(conn), contact_id=cid, title="Send the quote", now=now, owner="marketer@example.com",
            due_at=now - timedelta(hours=1), notify=False,
        )
        teammate = tasks_service.create_task(
            joined(conn), contact_id=cid, title="Teammate's call", now=now, owner="bob@example.com", team="north",
            notify=False,
        )
        other = tasks_service.create_task(
            joined(conn), contact_id=cid, title="South task", now=now, owner="sue@example.com", team="south",
            notify=False,
        )
    return {"contact": cid, "mine": mine["id"], "late": late["id"], "teammate": teammate["id"],
            "other": other["id"]}


def _set_team(container: Container, email: str, team: str) -> None:
    with container.engine.begin() as conn:
        conn.execute(sa.update(schema.users).where(schema.users.c.email == email).values(team=team))


def test_my_tasks_with_contact_journey_step_and_filters(container):
    ids = seed(container)
    with web_client(container) as (client, _token):
        page = client.get("/tasks")
        assert page.status_code == 200
        html = page.text
        assert "Call Lena" in html and "Send the quote" in html
        assert "Teammate" not in html and "South task" not in html
        assert f'href="/contacts/{ids["contact"]}"' in html
        assert "Lena &lt;b&gt;Lead&lt;/b&gt;" in html  # escaped
        assert 'href="/journeys/demo-handoff"' in html and "call-lead" in html
        assert 'data-nav="tasks"' in html
        # overdue: only the late one
        late = client.get("/tasks?show=overdue").text
        assert "Send the quote" in late and "Call Lena" not in late and "overdue" in late
        assert "No tasks done yet." in client.get("/tasks?show=done").text
        everyone = client.get("/tasks?scope=all").text
        assert "Teammate" in everyone and "South task" in everyone


def test_team_view_shows_my_teams_tasks(container):
    seed(container)
    with web_client(container) as (client, _token):
        _set_team(container, "marketer@example.com", "north")
        html = client.get("/tasks?scope=team").text
        assert "Call Lena" in html and "Teammate" in html and "South task" not in html


def test_mine_also_shows_my_teams_unassigned_overdue_tasks(container):
    ids = seed(container)
    now = container.clock.now()
    with container.engine.begin() as conn:
        for title, team, due in (
            ("Unowned late north", "north", now - timedelta(hours=3)),
            ("Unowned future north", "north", now + timedelta(hours=3)),
            ("Unowned late south", "south", now - timedelta(hours=3)),
        ):
            tasks_service.create_task(
                joined(conn), contact_id=ids["contact"], title=title, now=now, team=team, due_at=due, notify=False
            )
    with web_client(container) as (client, _token):
        assert "Unowned late north" not in client.get("/tasks").text  # no team: only my own
        _set_team(container, "marketer@example.com", "north")
        html = client.get("/tasks").text
        assert "Call Lena" in html and "Unowned late north" in html and "unassigned" in html
        assert "Unowned future north" not in html and "Unowned late south" not in html
        assert "Teammate" not in html  # owned by someone else
        assert "Unowned late north" in client.get("/tasks?show=overdue").text


def test_completing_a_task_records_the_event_journeys_wait_for(container):
    ids = seed(container)
    with web_client(container) as (client, token):
        r = client.post(
            f"/tasks/{ids['mine']}/complete",
            data={"csrf_token": token, "scope": "mine", "show": "open"},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"].startswith("/tasks?scope=mine&show=open")
        page = client.get(r.headers["location"]).text
        assert "Done: “Call Lena”" in page
        done = client.get("/tasks?show=done").text
        assert "Call Lena" in done
        # twice is once
        client.post(f"/tasks/{ids['mine']}/complete", data={"csrf_token": token})
        assert client.post(
            "/tasks/999999/complete", data={"csrf_token": token}, follow_redirects=False
        ).status_code == 404
    with container.engine.connect() as conn:
        task = tasks_service.get_task(joined(conn), ids["mine"])
        events = conn.execute(
            sa.select(schema.events.c.properties).where(
                schema.events.c.contact_id == ids["contact"], schema.events.c.name == "task.completed"
            )
        ).scalars().all()
        queued = conn.execute(
            sa.select(schema.contact_queue.c.contact_id).where(schema.contact_queue.c.contact_id == ids["contact"])
        ).first()
    assert task is not None and task["status"] == "done" and task["completed_at"] is not None
    assert len(events) == 1 and events[0]["task_id"] == ids["mine"]
    assert queued is not None


def test_a_viewer_sees_tasks_but_cannot_complete_them(container):
    ids = seed(container)
    with web_client(container, "viewer") as (client, token):
        html = client.get("/tasks?scope=all").text
        assert "Call Lena" in html and "Mark done" not in html
        r = client.post(f"/tasks/{ids['mine']}/complete", data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 403
    with container.engine.connect() as conn:
        assert tasks_service.get_task(joined(conn), ids["mine"])["status"] == "open"


def test_an_escalated_task_shows_its_badge_and_target(container):
    from tidings.application.sales.escalation import escalation_pass

    ids = seed(container)
    now = container.clock.now()
    with container.engine.begin() as conn:
        tasks_service.set_routing(
            joined(conn), {"sla": {"north": {"escalate_after": "30m", "escalate_to": "lead@example.com"}}}, now
        )
        conn.execute(sa.update(schema.tasks).where(schema.tasks.c.id == ids["mine"])
                     .values(due_at=now - timedelta(hours=1)))
        assert escalation_pass(joined(conn), now) == [ids["mine"]]
    with web_client(container) as (client, _token):
        html = client.get("/tasks").text
        row = html[html.index(f'id="task-{ids["mine"]}"'):]
        row = row[: row.index("</tr>")]
        assert "s-escalated" in row and "lead@example.com" in row
        other = html[html.index(f'id="task-{ids["late"]}"'):]
        assert "s-escalated" not in other[: other.index("</tr>")]
