"""Sales handoff on the live stack: demo request -> signed webhook to our sink -> task assigned round
robin (owner emailed through the real SMTP catcher) -> the rep completes it over HTTP -> the journey,
waiting for task.completed, sends an SMS (local sink)."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from tests.conftest import LiveStack
from tests.integration.channels_helpers import add_contact, add_template
from tests.integration.journey_support import add_event
from tidings.application.access.keys import create_key
from tidings.clock import ManualClock
from tidings.store import schema
from tidings.store.sql_uow import SqlUnitOfWork

DEMO = """
key: demo
name: Demo request handoff
triggers:
  - event: demo_requested
steps:
  - id: notify-crm
    type: webhook
    url: {url}/sink/webhook/crm
    body: {{event: demo_requested}}
  - id: call
    type: task
    title: Call the demo lead
    team: sales
    due_in: 5m
  - id: wait-call
    type: wait_event
    event: task.completed
    timeout: 2d
    on_event: thanks
    on_timeout: end
  - id: thanks
    type: send
    channel: sms
    template: thanks-sms
"""


def test_demo_request_to_task_to_sms(live_stack: LiveStack, clock: ManualClock) -> None:
    eng = live_stack.container.engine
    _, key = create_key(SqlUnitOfWork(eng), "e2e", ["admin"], clock.now())
    add_template(
        eng,
        clock.now(),
        "thanks-sms",
        channel="sms",
        subject=None,
        format="text",
        body="Thanks for talking to us, {{ contact.first_name }}!",
    )
    cid = add_contact(eng, clock.now(), email="lead@example.org")
    now = clock.now()
    with eng.begin() as conn:
        conn.execute(sa.update(schema.contacts).where(schema.contacts.c.id == cid).values(phone="+14155550100"))
        conn.execute(
            sa.insert(schema.consents).values(
                contact_id=cid, channel="sms", status="granted", source="form", recorded_at=now, proof={}, topics={}
            )
        )
    with httpx.Client(base_url=live_stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        assert (
            http.put("/api/task-routing", json={"teams": {"sales": ["rita@shop.test", "sam@shop.test"]}}).status_code
            == 200
        )
        r = http.post(
            "/api/journeys?publish=true",
            content=DEMO.format(url=live_stack.url),
            headers={"Content-Type": "application/yaml"},
        )
        assert r.status_code == 201, r.text
        with eng.begin() as conn:
            add_event(conn, cid, "demo_requested", clock.now())
        assert http.post("/api/test/clock/advance", json={"seconds": 1}).status_code == 200

        hooks = http.get("/api/inbox", params={"channel": "webhook"}).json()["items"]
        assert len(hooks) == 1
        (task,) = http.get("/api/tasks", params={"status": "open"}).json()["items"]
        assert task["owner"] == "rita@shop.test" and task["contact_id"] == cid
        mails = http.get("/api/inbox", params={"channel": "email"}).json()["items"]
        assert [m["recipient"] for m in mails] == ["rita@shop.test"]
        assert "Call the demo lead" in mails[0]["subject"]
        assert http.get("/api/inbox", params={"channel": "sms"}).json()["items"] == []

        assert http.patch(f"/api/tasks/{task['id']}", json={"status": "done"}).status_code == 200
        assert http.post("/api/test/clock/advance", json={"seconds": 60}).status_code == 200
        sms = http.get("/api/inbox", params={"channel": "sms"}).json()["items"]
        assert [s["recipient"] for s in sms] == ["+14155550100"]
