"""The lead-nurture recipe's hand-off on the whole stack (API, worker, delivery loop) on the test
clock, SQLite and PostgreSQL: installed over the API with its lead-score model, a lead gets lesson
1, events push it over 50 points, and the local HubSpot receives the task; no second lesson."""

from __future__ import annotations

import uuid
from dataclasses import replace

import httpx

from tests.conftest import LiveStack
from tests.e2e.test_crm_live import _wait
from tests.fake_crm import FakeHubSpot
from tests.fake_http import FakeHttpServer
from tidings.application.access.keys import create_key
from tidings.clock import ManualClock
from tidings.store.sql_uow import SqlUnitOfWork


def test_lead_nurture_hands_an_mql_to_hubspot(live_stack: LiveStack, clock: ManualClock) -> None:
    hub = FakeHubSpot()
    with FakeHttpServer(hub) as hs:
        c = live_stack.container
        c.settings = replace(c.settings, hubspot_url=hs.url, hubspot_token=hub.token, webhook_allow=("127.0.0.1/32",))
        _, key = create_key(SqlUnitOfWork(c.engine), "e2e", ["admin"], clock.now())
        with httpx.Client(base_url=live_stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            res = http.post("/api/recipes/lead-nurture/install")
            assert res.status_code == 200, res.text
            assert res.json()["scoring"] == {"key": "lead-score", "status": "created", "version": 1}
            assert http.get("/api/scoring/models/lead-score").status_code == 200
            r = http.post(
                "/api/contacts",
                json={
                    "email": "kim@corp.test",
                    "first_name": "Kim",
                    "lifecycle_stage": "subscriber",
                    "attributes": {"company_size": 80},
                    "consent": {"email": {"status": "granted"}},
                },
            )
            assert r.status_code == 201, r.text
            cid = r.json()["id"]
            assert http.patch(f"/api/contacts/{cid}", json={"lifecycle_stage": "lead"}).status_code == 200
            _wait(lambda: http.get("/api/inbox", params={"recipient": "kim@corp.test"}).json()["items"])
            events = [("Page Viewed", {"path": "/pricing"})] * 3 + [("webinar.checked_in", {"webinar_id": "w"})]
            events += [("message.clicked", {"template": "nurture-1", "machine": False})] * 2
            for name, props in events:  # 10 + 15 + 15 + 10 = 50: a marketing-qualified lead
                body = {"email": "kim@corp.test", "name": name, "properties": props, "message_id": str(uuid.uuid4())}
                assert http.post("/api/events", json=body).status_code == 202
            assert http.post("/api/test/clock/advance", json={"seconds": 1}).status_code == 200
            _wait(lambda: hub.tasks)
            (task,) = hub.tasks.values()
            assert task["properties"]["hs_task_subject"] == "Call a new marketing-qualified lead"
            (contact,) = hub.contacts.values()
            assert contact["properties"]["email"] == "kim@corp.test"
            tasks = _wait(lambda: http.get("/api/tasks", params={"team": "sales"}).json()["items"])
            assert [t["title"] for t in tasks] == ["Call a new marketing-qualified lead"]
            ended = _wait(
                lambda: http.get("/api/journeys/lead-nurture/enrollments", params={"status": "ended"}).json()["items"]
            )
            assert [x.get("end_reason") or x.get("reason") for x in ended] == ["completed"], ended
            assert http.post("/api/test/clock/advance", json={"seconds": 31 * 86400}).status_code == 200
            inbox = http.get("/api/inbox", params={"recipient": "kim@corp.test"}).json()["items"]
            assert len(inbox) == 1  # lesson 1 only: the hand-off ended the series
