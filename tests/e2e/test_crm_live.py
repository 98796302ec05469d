"""Issue 19's hand-off on the whole stack (API, worker, delivery loop) on the test clock, SQLite
and PostgreSQL: events move a score, crossing MQL starts a hand-off journey that upserts the
contact and creates a task in a local HubSpot with the right payload, the CRM's owner and stage
come back onto the contact, and decay on the test clock lowers the score."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import httpx

from tests.conftest import LiveStack
from tests.fake_crm import FakeHubSpot
from tests.fake_http import FakeHttpServer
from tidings.application.access.keys import create_key
from tidings.clock import ManualClock
from tidings.store.sql_uow import SqlUnitOfWork

YAML = {"Content-Type": "application/yaml"}
MODEL = """\
key: b2b
name: B2B leads
behaviour:
  - id: pricing
    label: pricing page views
    event: Page Viewed
    points: 35
decay: {half_life: 14d}
thresholds:
  - {stage: mql, at: 60}
writes_contact: true
"""
JOURNEY = """\
key: mql-to-hubspot
triggers:
  - event: score.threshold_crossed
    where: properties.stage == "mql"
settings:
  allow_owned: true
steps:
  - id: upsert
    type: crm
    system: hubspot
    action: upsert_contact
    properties: {leadsource: Tidings}
  - id: call
    type: crm
    system: hubspot
    action: create_task
    title: Call a new MQL
    due_in: 5m
"""


def _wait(what, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = what()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_threshold_hands_off_to_hubspot_and_writes_back(live_stack: LiveStack, clock: ManualClock) -> None:
    hub = FakeHubSpot()
    with FakeHttpServer(hub) as hs:
        c = live_stack.container
        # read when the first hand-off is delivered (the crm channel builds its client then)
        c.settings = replace(c.settings, hubspot_url=hs.url, hubspot_token=hub.token, webhook_allow=("127.0.0.1/32",))
        _, key = create_key(SqlUnitOfWork(c.engine), "e2e", ["admin"], clock.now())
        with httpx.Client(base_url=live_stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            assert http.post("/api/scoring/models", content=MODEL, headers=YAML).status_code == 201
            assert http.post("/api/journeys?publish=true", content=JOURNEY, headers=YAML).status_code == 201
            r = http.post("/api/contacts", json={"email": "lee@corp.test", "first_name": "Lee", "last_name": "Park"})
            cid = r.json()["id"]
            for _ in range(2):
                r = http.post(
                    "/api/events",
                    json={"email": "lee@corp.test", "name": "Page Viewed", "message_id": str(uuid.uuid4())},
                )
                assert r.status_code == 202, r.text
            assert http.post("/api/test/clock/advance", json={"seconds": 1}).status_code == 200
            _wait(lambda: hub.tasks)
            (contact,) = hub.contacts.values()
            assert {k: contact["properties"][k] for k in ("email", "firstname", "lastname", "leadsource")} == {
                "email": "lee@corp.test",
                "firstname": "Lee",
                "lastname": "Park",
                "leadsource": "Tidings",
            }
            (task,) = hub.tasks.values()
            assert task["properties"]["hs_task_subject"] == "Call a new MQL"
            assert task["associations"][0]["to"] == {"id": contact["id"]}
            got = _wait(lambda: (x := http.get(f"/api/contacts/{cid}").json())["owner"] and x)
            assert got["owner"] == "rep@corp.test" and got["lifecycle_stage"] == "sql"
            before = http.get(f"/api/contacts/{cid}/score").json()["models"][0]["score"]
            assert before == 70
            assert http.post("/api/test/clock/advance", json={"seconds": 14 * 86400}).status_code == 200
            assert http.post("/api/scoring/decay").status_code == 200
            after = http.get(f"/api/contacts/{cid}/score").json()["models"][0]["score"]
            assert 30 <= after <= 40  # one half-life
    assert len(hub.tasks) == 1  # exactly once
