"""The CRM hand-off end to end (SQLite and PostgreSQL): a score crossing MQL starts a journey whose
``crm`` steps enqueue outbox rows, delivered once through the real delivery loop to local HubSpot
and Salesforce servers; the CRM's owner and stage come back on the contact as change events;
a CRM's 4xx becomes a dead letter with its message, retried from the dead-letters API; the
signed v2 webhook carries fields, score explanation and latest events."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from tests.fake_crm import FakeHubSpot, FakeSalesforce
from tests.fake_http import FakeHttpServer, Reply
from tests.integration.journey_support import drain
from tidings.bootstrap import Container
from tidings.channels.delivery import Deliverer
from tidings.channels.registry import build_registry
from tidings.channels.webhooks import verify_v2
from tidings.store import schema
from tidings.worker import JourneyWorker

YAML = {"Content-Type": "application/yaml"}
MODEL = """\
key: b2b
name: B2B leads
behaviour:
  - id: pricing
    label: pricing page views
    event: Page Viewed
    points: 30
thresholds:
  - {stage: mql, at: 60}
writes_contact: true
"""
HANDOFF = """\
key: crm-handoff
name: CRM hand-off
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
    due_in: 1h
    priority: high
  - id: lead
    type: crm
    system: salesforce
    action: create_task
    title: Follow up
    write_back: false
  - id: notify
    type: webhook
    url: URL
    payload: v2
    events: 2
    body: {reason: mql}
"""


async def deliver(container: Container) -> int:
    registry = build_registry(container)
    try:
        return await Deliverer(container, registry).drain()
    finally:
        await registry.aclose()


def _rows(container: Container, kind: str) -> list[dict[str, Any]]:
    o = schema.outbox
    with container.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(o).where(o.c.kind == kind).order_by(o.c.id)).mappings()]


def _start(api: Any, container: Container, hook_url: str) -> int:
    assert api.post("/api/scoring/models", content=MODEL, headers=YAML).status_code == 201
    r = api.post("/api/journeys?publish=true", content=HANDOFF.replace("URL", hook_url), headers=YAML)
    assert r.status_code in (200, 201), r.text
    r = api.post(
        "/api/contacts",
        json={"email": "lead@corp.test", "first_name": "Lee", "last_name": "Park", "attributes": {"company": "Corp"}},
    )
    cid = int(r.json()["id"])
    for path in ("/pricing", "/pricing"):
        r = api.post(
            "/api/events",
            json={
                "email": "lead@corp.test",
                "name": "Page Viewed",
                "properties": {"path": path},
                "message_id": str(uuid.uuid4()),
            },
        )
        assert r.status_code == 202, r.text
    drain(JourneyWorker(container))
    return cid


async def test_threshold_to_crm_and_write_back(api: Any, container: Container) -> None:
    hub, sf = FakeHubSpot(), FakeSalesforce()
    hook_requests: list[Any] = []
    with (
        FakeHttpServer(hub) as hs,
        FakeHttpServer(sf) as sfs,
        FakeHttpServer(lambda r: hook_requests.append(r) or Reply(200, {})) as hook,
    ):
        container.settings = replace(
            container.settings,
            webhook_allow=("127.0.0.1/32",),
            hubspot_url=hs.url,
            hubspot_token=hub.token,
            salesforce_instance_url=sfs.url,
            salesforce_token=sf.token,
            webhook_secrets=(("127.0.0.1", "per-destination-secret"),),
        )
        cid = _start(api, container, f"{hook.url}/handoff")
        crm_rows = _rows(container, "crm")
        assert [(r["step_id"], r["channel"], r["recipient"], r["status"]) for r in crm_rows] == [
            ("upsert", "crm", "hubspot", "pending"),
            ("call", "crm", "hubspot", "pending"),
            ("lead", "crm", "salesforce", "pending"),
        ]
        await deliver(container)
        await deliver(container)  # nothing twice
    assert [r["status"] for r in _rows(container, "crm")] == ["sent", "sent", "sent"]
    # HubSpot: one contact (upserted twice, once per step), one task associated with it
    (contact,) = hub.contacts.values()
    assert contact["properties"]["email"] == "lead@corp.test"
    assert contact["properties"]["leadsource"] == "Tidings"
    (task,) = hub.tasks.values()
    assert task["properties"]["hs_task_subject"] == "Call a new MQL"
    assert task["properties"]["hs_task_priority"] == "HIGH"
    assert task["associations"][0]["to"] == {"id": contact["id"]}
    assert _rows(container, "crm")[1]["provider_message_id"] == f"hubspot:task:{next(iter(hub.tasks))}"
    # Salesforce: a lead by external id and its task
    (lead,) = sf.leads.values()
    assert (lead["Email__c"], lead["LastName"], lead["Company"]) == ("lead@corp.test", "Park", "Corp")
    (sf_task,) = sf.tasks.values()
    assert sf_task["WhoId"] == lead["Id"] and sf_task["Subject"] == "Follow up"
    # write-back from HubSpot (Salesforce's step said write_back: false)
    got = api.get(f"/api/contacts/{cid}").json()
    assert got["owner"] == "rep@corp.test" and got["lifecycle_stage"] == "sql"
    e = schema.events
    with container.engine.connect() as conn:
        changes = conn.execute(
            sa.select(e.c.properties, e.c.source).where(e.c.contact_id == cid, e.c.name == "contact.updated")
        ).all()
    by_crm = [p for p, src in changes if src == "crm:hubspot"]
    assert by_crm and by_crm[0]["changed"]["owner"] == {"from": None, "to": "rep@corp.test"}
    # the signed v2 webhook
    (req,) = hook_requests
    body = req.body
    assert verify_v2("per-destination-secret", req.headers["tidings-signature"], body, container.clock.now())
    assert not verify_v2("another-secret", req.headers["tidings-signature"], body, container.clock.now())
    assert not verify_v2("per-destination-secret", req.headers["tidings-signature"], body + b" ", container.clock.now())
    doc = json.loads(body)
    assert doc["version"] == 2 and doc["contact"]["email"] == "lead@corp.test"
    assert doc["contact"]["attributes"] == {"company": "Corp"}
    (model,) = doc["scores"]
    assert model["model"] == "b2b" and model["score"] == 60 and model["stage"] == "mql"
    assert "pricing page views" in model["sentence"]
    assert len(doc["events"]) == 2 and all("name" in x and "occurred_at" in x for x in doc["events"])
    assert doc["context"]["reason"] == "mql" and doc["context"]["journey"] == "crm-handoff"
    assert "x-tidings-signature" in req.headers  # v1 headers stay for receivers that check those


async def test_crm_refusal_is_a_dead_letter_with_the_crm_message_and_retries(api: Any, container: Container) -> None:
    hub, sf = FakeHubSpot(), FakeSalesforce()
    with FakeHttpServer(hub) as hs, FakeHttpServer(sf) as sfs, FakeHttpServer() as hook:
        container.settings = replace(
            container.settings,
            webhook_allow=("127.0.0.1/32",),
            hubspot_url=hs.url,
            hubspot_token=hub.token,
            salesforce_instance_url=sfs.url,
            salesforce_token=sf.token,
        )
        # deliveries run side by side: the failures are chosen by request, not by arrival order
        refused, limited = [True], [True]

        def scripted(rec: Any) -> Reply:
            upsert = rec.path.endswith("/batch/upsert")
            if upsert and "leadsource" in rec.json["inputs"][0]["properties"] and refused:
                refused.pop()
                error = {
                    "status": "error",
                    "message": "Property values were not valid: leadsource",
                    "correlationId": "x",
                    "category": "VALIDATION_ERROR",
                }
                return Reply(400, error)
            if rec.path == "/crm/v3/objects/tasks" and limited:
                limited.pop()
                error = {
                    "status": "error",
                    "message": "You have reached your secondly limit.",
                    "errorType": "RATE_LIMIT",
                }
                return Reply(429, error, {"Retry-After": "3"})
            return hub(rec)

        hs.responder = scripted
        _start(api, container, f"{hook.url}/h")
        await deliver(container)
        rows = _rows(container, "crm")
        assert rows[0]["status"] == "dead" and "Property values were not valid: leadsource" in rows[0]["error"]
        assert rows[1]["status"] == "pending" and "secondly limit" in rows[1]["error"]
        due = rows[1]["next_attempt_at"]
        now = container.clock.now()
        assert (due.replace(tzinfo=None) - now.replace(tzinfo=None)).total_seconds() >= 3  # Retry-After: 3
        (dead,) = api.get("/api/dead-letters").json()["items"]
        assert dead["outbox_id"] == rows[0]["id"] and "leadsource" in dead["reason"]
        assert api.post(f"/api/dead-letters/{dead['id']}/retry").status_code == 200
        container.clock.advance(timedelta(minutes=10))
        await deliver(container)
    assert [r["status"] for r in _rows(container, "crm")] == ["sent", "sent", "sent"]
    assert len(hub.tasks) == 1


async def test_unconfigured_crm_is_a_dead_letter_saying_so(api: Any, container: Container) -> None:
    with FakeHttpServer() as hook:
        container.settings = replace(container.settings, webhook_allow=("127.0.0.1/32",))
        _start(api, container, f"{hook.url}/h")
        await deliver(container)
    rows = _rows(container, "crm")
    assert {r["status"] for r in rows} == {"dead"}
    assert "CRM 'hubspot' is not configured" in rows[0]["error"]


def test_the_handoff_document_can_be_previewed_through_the_api(api: Any, container: Container) -> None:
    with FakeHttpServer() as hook:
        cid = _start(api, container, f"{hook.url}/h")
    r = api.get(f"/api/contacts/{cid}/handoff?events=1")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["version"] == 2 and doc["contact"]["id"] == cid and len(doc["events"]) == 1
    assert doc["scores"][0]["stage"] == "mql" and doc["context"] == {}
    assert api.get("/api/contacts/999999/handoff").status_code == 404
    r = api.get(f"/api/contacts/{cid}/handoff?events=101")
    assert r.status_code == 422 and "events" in r.text


def test_the_cli_prints_the_handoff_document(api: Any, container: Container) -> None:
    from typer.testing import CliRunner

    from tidings.cli.main import app as cli

    with FakeHttpServer() as hook:
        _start(api, container, f"{hook.url}/h")
    env = {"TIDINGS_DATABASE_URL": container.engine.url.render_as_string(hide_password=False)}
    res = CliRunner().invoke(cli, ["scoring", "handoff", "lead@corp.test", "--events", "3"], env=env)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["contact"]["email"] == "lead@corp.test" and len(doc["events"]) == 3
    res = CliRunner().invoke(cli, ["scoring", "handoff", "nobody@corp.test"], env=env)
    assert res.exit_code != 0 and "no contact matches" in res.output
