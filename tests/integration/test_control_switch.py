"""The kill switch with the real delivery loop and SMTP catcher; stop by causing tag; alerts/policy API and CLI."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.integration.channels_helpers import add_contact, add_outbox, add_template, outbox_row
from tests.integration.journey_support import add_event, count, drain, publish
from tests.integration.test_control_loops import _runaway
from tests.integration.test_delivery_loop import drain as deliver
from tests.integration.test_delivery_loop import stack as stack  # the fixture
from tidings.bootstrap import Container
from tidings.cli.main import app
from tidings.clock import ManualClock
from tidings.store import schema
from tidings.worker import JourneyWorker


def inbox_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return count(conn, schema.inbox)


async def test_pause_holds_messages_in_the_outbox_and_resume_sends_them(stack: Container, api: Any) -> None:
    now = stack.clock.now()
    cid = add_contact(stack.engine, now)
    add_template(stack.engine, now)
    first = add_outbox(stack.engine, now, cid)
    r = api.post("/api/sending/pause", json={"by": "ops"})
    assert r.status_code == 200 and r.json()["all"] is True
    second = add_outbox(stack.engine, now, cid, key="second")
    assert await deliver(stack) == 0
    assert outbox_row(stack.engine, first)["status"] == "pending" and inbox_count(stack.engine) == 0
    status = api.get("/api/sending").json()
    assert status["held"] == [{"channel": "email", "count": 2, "oldest": now.isoformat()}]
    preview = api.post("/api/sending/resume", json={"dry_run": True}).json()
    assert preview["released_total"] == 2 and preview["after"] is None
    assert api.get("/api/sending").json()["paused"] is True, "a dry run changes nothing"
    assert api.post("/api/sending/resume", json={}).json()["released_total"] == 2
    assert await deliver(stack) == 2
    assert {outbox_row(stack.engine, i)["status"] for i in (first, second)} == {"sent"}
    assert inbox_count(stack.engine) == 2


async def test_pausing_one_channel_lets_the_others_go(stack: Container, api: Any) -> None:
    now = stack.clock.now()
    cid = add_contact(stack.engine, now)
    add_template(stack.engine, now)
    email = add_outbox(stack.engine, now, cid)
    assert api.post("/api/sending/pause", json={"channel": "sms"}).json()["channels"] == ["sms"]
    assert await deliver(stack) == 1
    assert outbox_row(stack.engine, email)["status"] == "sent"
    bad = api.post("/api/sending/pause", json={"channel": "fax"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["loc"] == ["body", "channel"]


CHAIN = """
key: {key}
triggers:
  - tag_added: {tag}
steps:
  - id: mark
    type: update_contact
    add_tags: [{adds}]
  - id: later
    type: wait
    duration: 2d
  - id: hello
    type: send
    channel: email
    template: {key}
"""


def test_stop_every_enrolment_caused_by_a_tag_with_preview(
    container: Container, clock: ManualClock, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    publish(container, CHAIN.format(key="collab", tag="collaborator", adds="onboarded"))
    publish(container, CHAIN.format(key="onboard", tag="onboarded", adds="ignored"))
    publish(container, CHAIN.format(key="other", tag="vip", adds="ignored2"))
    with container.engine.begin() as conn:
        ids = []
        for i, tag in enumerate(["collaborator", "collaborator", "vip"]):
            cid = conn.execute(
                sa.insert(schema.contacts)
                .values(email=f"c{i}@example.org", attributes={}, created_at=clock.now(), updated_at=clock.now())
                .returning(schema.contacts.c.id)
            ).scalar_one()
            conn.execute(sa.insert(schema.contact_tags).values(contact_id=cid, tag=tag, created_at=clock.now()))
            add_event(conn, cid, "tag.added", clock.now(), tag=tag)
            ids.append(cid)
    w = JourneyWorker(container)
    drain(w)
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    run = CliRunner().invoke
    preview = run(app, ["enrolments", "stop", "--caused-by-tag", "collaborator", "--json"])
    assert preview.exit_code == 0, preview.output
    data = json.loads(preview.output)
    assert data["applied"] is False and data["count"] == 4
    assert data["journeys"] == [{"journey": "collab", "count": 2}, {"journey": "onboard", "count": 2}]
    done = run(app, ["enrolments", "stop", "--caused-by-tag", "collaborator", "--yes"])
    assert done.exit_code == 0 and "stopped 4 enrolment(s)" in done.output
    clock.advance(timedelta(days=2))
    drain(w)
    with container.engine.connect() as conn:
        o = schema.outbox
        assert conn.execute(sa.select(o.c.template)).scalars().all() == ["other"]
        t = schema.traces
        stopped = conn.execute(sa.select(t.c.detail).where(t.c.action == "stopped_by_operator")).scalars().all()
        assert len(stopped) == 4 and stopped[0]["tag"] == "collaborator"
        e = schema.enrollments
        assert count(conn, e, e.c.end_reason == "stopped") == 4
    empty = run(app, ["enrolments", "stop", "--caused-by-tag", "collaborator"])
    assert "would stop (add --yes) 0 enrolment(s)" in empty.output


def test_alerts_api_and_cli_list_and_acknowledge(
    container: Container, clock: ManualClock, api: Any, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    assert api.get("/api/alerts").json() == {"items": []}
    _runaway(container, clock)
    items = api.get("/api/alerts").json()["items"]
    assert len(items) == 1 and items[0]["kind"] == "loop_stopped" and "ping -> pong" in items[0]["message"]
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    run = CliRunner().invoke
    listed = run(app, ["alerts", "--json"])
    assert json.loads(listed.output)["items"][0]["id"] == items[0]["id"]
    assert api.post(f"/api/alerts/{items[0]['id']}/acknowledge", json={"by": "ann"}).json()["acknowledged_by"] == "ann"
    assert api.get("/api/alerts").json() == {"items": []}
    assert len(api.get("/api/alerts?all=true").json()["items"]) == 1
    assert "no open alerts" in run(app, ["alerts"]).output
    assert api.post("/api/alerts/999/acknowledge", json={}).status_code == 404
    missing = run(app, ["alerts", "--ack", "999"])
    assert missing.exit_code == 2 and "no alert 999" in missing.output


def test_policy_api_and_cli_refuse_bad_input_with_field_paths(
    api: Any, monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Any
) -> None:
    bad = api.put(
        "/api/policies",
        content="caps:\n  - {channel: email, category: promo, max: 0}\n",
        headers={"content-type": "application/yaml"},
    )
    assert bad.status_code == 422
    locs = [d["loc"] for d in bad.json()["error"]["details"]]
    assert ["caps", "0", "category"] in locs and ["caps", "0", "max"] in locs
    ok = api.put("/api/policies", json={"caps": [{"channel": "email", "max": 2, "per": "week"}], "on_cap": "skip"})
    assert ok.status_code == 200 and ok.json()["effective"]["caps"][0]["max"] == 2
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    run = CliRunner().invoke
    shown = json.loads(run(app, ["policies", "show", "--json"]).output)
    assert shown["effective"]["on_cap"] == "skip"
    f = tmp_path / "policy.yaml"
    f.write_text("caps:\n  - {channel: email, max: 1, per: day}\nloop_breaker: {rounds: -1}\n")
    refused = run(app, ["policies", "set", str(f)])
    assert refused.exit_code == 2 and "loop_breaker" in refused.output and ">= 1" in refused.output
    f.write_text("caps:\n  - {channel: email, max: 1, per: day}\nquiet_hours: {start: '21:00', end: '08:00'}\n")
    saved = run(app, ["policies", "set", str(f)])
    assert saved.exit_code == 0 and "1 cap(s)" in saved.output
    assert api.get("/api/policies").json()["effective"]["quiet_hours"] == {"start": "21:00", "end": "08:00"}
