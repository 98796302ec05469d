"""Name checks at validation and publish (CLI, API, web), and the blast-radius preview
(CLI, API, web) computed with the real state machine over the stored population."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.integration.journey_support import add_contact, add_event, drain
from tests.web_support import web_client
from tidings.application.control import audit_preview
from tidings.application.journeys import journeys as js
from tidings.bootstrap import Container
from tidings.cli.main import app
from tidings.clock import ManualClock
from tidings.store import audit_sql, schema
from tidings.store.sql_uow import joined
from tidings.worker import JourneyWorker

WEBINAR = """key: webinar
triggers:
  - event: webinar.registered
steps:
  - id: confirm
    type: send
    channel: email
    template: hello
"""

TYPO = """key: typo
triggers:
  - event: webinar-registerd
steps:
  - id: check
    type: branch
    branches:
      - when: has_tag("vipp")
        next: hi
    else: end
  - id: hi
    type: send
    channel: email
    template: hello
"""

#: an email now; an email and a (transactional) SMS after 2 days; an email after 10 days (outside the week)
DRIP = """key: drip
triggers:
  - event: signed_up
settings:
  reentry: never
steps:
  - id: hello
    type: send
    channel: email
    template: hello
  - id: nap
    type: wait
    duration: 2d
  - id: tips
    type: send
    channel: email
    template: hello
  - id: sms
    type: send
    channel: sms
    template: hello
    category: transactional
  - id: long
    type: wait
    duration: 8d
  - id: last
    type: send
    channel: email
    template: hello
"""


def _template(conn: sa.Connection, now: Any) -> None:
    row = {"key": "hello", "channel": "email", "subject": "Hi", "body": "<p>Hi</p>", "settings": {}}
    conn.execute(sa.insert(schema.templates).values(**row, created_at=now, updated_at=now))


def _setup(container: Container) -> None:
    now = container.clock.now()
    with container.engine.begin() as conn:
        _template(conn, now)
        cid = add_contact(conn, now, "vip@example.org")
        conn.execute(sa.insert(schema.contact_tags).values(contact_id=cid, tag="vip", created_at=now))
        add_event(conn, cid, "webinar.registered", now)
        js.publish(joined(conn), now, text=WEBINAR)


def test_name_checks_warn_and_strict_refuses(
    container: Container, db_url: str, api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(container)
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    run = CliRunner().invoke
    f = tmp_path / "typo.yaml"
    f.write_text(TYPO)
    res = run(app, ["journeys", "validate", str(f)])
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "did you mean 'webinar.registered'?" in out and "did you mean 'vip'?" in out
    assert "2 name warning(s)" in out
    res = run(app, ["journeys", "validate", "--strict", str(f)])
    assert res.exit_code != 0 and "line 3" in res.output and "strict name checks" in res.output
    res = run(app, ["journeys", "publish", "--strict", str(f)])
    assert res.exit_code != 0
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(schema.journeys.c.key).where(schema.journeys.c.key == "typo")).first() is None
    res = run(app, ["journeys", "publish", "--json", str(f)])
    assert res.exit_code == 0, res.output
    warnings = json.loads(res.output)["name_warnings"]
    assert {(w["kind"], w["name"]) for w in warnings} == {("event", "webinar-registerd"), ("tag", "vipp")}

    headers = {"Content-Type": "application/yaml"}
    r = api.post("/api/journeys/validate", content=TYPO, headers=headers)
    assert r.status_code == 200 and r.json()["name_warnings"][0]["did_you_mean"] == ["webinar.registered"]
    r = api.post("/api/journeys/validate?strict=true", content=TYPO, headers=headers)
    assert r.status_code == 422
    details = r.json()["error"]["details"]
    assert details[0]["loc"] == ["triggers", "0"] and details[0]["line"] == 3
    assert api.post("/api/journeys/typo/publish?strict=true", content=TYPO, headers=headers).status_code == 422
    r = api.post("/api/journeys/typo/publish", content=TYPO, headers=headers)
    assert r.status_code == 200 and len(r.json()["name_warnings"]) == 2 and r.json()["warnings"] == []
    # a document naming only known names (an event in the store) has no warnings, strict or not
    known = api.post("/api/journeys/validate?strict=true", content=WEBINAR, headers=headers)
    assert known.status_code == 200 and known.json()["name_warnings"] == []

    # the web app's Publish says which names are unknown
    with container.engine.begin() as conn:
        js.save_draft(joined(conn), TYPO.replace("key: typo", "key: typo-web"), container.clock.now())
    with web_client(container, "marketer") as (client, token):
        page = client.post("/journeys/typo-web/publish", data={"csrf_token": token}, follow_redirects=True)
        assert "published version 1" in page.text and "name warnings" in page.text
        assert "did you mean &#39;webinar.registered&#39;?" in page.text
        assert 'id="name-warnings"' in client.get("/journeys/typo-web/preview").text


def test_blast_radius_preview(
    container: Container, clock: ManualClock, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = clock.now()
    with container.engine.begin() as conn:
        _template(conn, now)
        ids = [add_contact(conn, now, f"c{i}@example.org") for i in range(4)]
        conn.execute(sa.insert(schema.consents), [
            {"contact_id": c, "channel": "email", "status": "granted", "recorded_at": now, "proof": {}, "topics": {}}
            for c in ids[:3]
        ])  # fmt: skip
        for c in ids:
            add_event(conn, c, "signed_up", now)
        add_contact(conn, now, "quiet@example.org")  # no signed_up: not a candidate
        js.save_draft(joined(conn), DRIP, now)
    with container.engine.connect() as conn:
        p = audit_preview.preview(conn, now, audit_sql, key="drip").to_dict()
    # 4 signed up in the last 24 h: as many each day of the week. Per contact entering now:
    # "hello" at once, "tips" and the SMS 2 days later, "last" after 10 days (outside the week);
    # over 7 days, 7 daily cohorts send "hello" and the first 5 of them "tips" and the SMS.
    assert p["population"] == 4 and p["would_enter"] == {"24h": 4, "7d": 28} and not p["sampled"]
    assert p["messages"] == {"email": {"24h": 4, "7d": 48}, "sms": {"24h": 0, "7d": 20}}
    assert p["without_consent"]["email"] == {"24h": 1, "7d": 12}  # one contact never granted email
    assert p["without_consent"]["sms"] == {"24h": 0, "7d": 0}  # transactional

    # publish, let the worker enrol them: a second preview sees they cannot enter again
    with container.engine.begin() as conn:
        js.publish(joined(conn), now, key="drip")
    drain(JourneyWorker(container))
    with container.engine.connect() as conn:
        again = audit_preview.preview(conn, now, audit_sql, key="drip").to_dict()
    assert again["would_enter"] == {"24h": 0, "7d": 0}, again
    assert again["not_entering"] == {"already enrolled for this key": 4}, again
    # what is already in motion: 4 waiting at "nap", their first email unsent (no delivery loop here)
    assert again["in_flight"] == {"enrolments": 4, "unsent_messages": {"email": 4}, "timers_due": {"24h": 0, "7d": 4}}

    # a sample of 2 of the 4: scaled figures with a stated margin
    with container.engine.connect() as conn:
        s = audit_preview.preview(conn, now, audit_sql, key="drip", sample=2).to_dict()
        with pytest.raises(audit_preview.PreviewError):
            audit_preview.preview(conn, now, audit_sql, key="drip", sample=0)
    assert s["sampled"] and s["simulated"] == 2 and s["population"] == 4 and "sample of 2 of 4" in s["error"]

    from tidings.cli import common

    monkeypatch.setattr(common, "open_container", lambda *a, **k: container)  # the CLI on the test clock
    res = CliRunner().invoke(app, ["journeys", "preview", "drip", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["not_entering"] == {"already enrolled for this key": 4}
    res = CliRunner().invoke(app, ["journeys", "preview", "drip"])
    out = " ".join(res.output.split())
    assert res.exit_code == 0 and "0 contact(s) would enter in the next 24 h, 0 in 7 days (4 candidate(s))" in out
    res = CliRunner().invoke(app, ["journeys", "preview", "nope"])
    assert res.exit_code != 0 and "no journey" in res.output

    r = api.post("/api/journeys/preview", content=DRIP.replace("key: drip", "key: drip-2"),
                 headers={"Content-Type": "application/yaml"})  # fmt: skip
    assert r.status_code == 200 and r.json()["would_enter"]["24h"] == 4 and r.json()["messages"]["email"]["7d"] == 48
    # a segment trigger forecasts from who entered the segment in the last 24 h, not from members
    with container.engine.begin() as conn:
        add_event(conn, ids[0], "segment.entered", now, segment="vips")
        add_event(conn, ids[1], "segment.entered", now, segment="others")
        add_event(conn, ids[2], "segment.entered", now - timedelta(days=3), segment="vips")
    seg = "key: vip\ntriggers: [{segment_entered: vips}]\nsteps: [{id: s, type: send, channel: email, template: hello}]"
    r = api.post("/api/journeys/preview", content=seg, headers={"Content-Type": "application/yaml"})
    assert r.json()["would_enter"] == {"24h": 1, "7d": 7}
    assert r.json()["not_entering"] == {"its event does not match the trigger": 1}
    r = api.get("/api/journeys/drip/preview", params={"sample": 0})
    assert r.status_code == 422
    assert api.get("/api/journeys/nope/preview").status_code == 404
    assert api.get("/api/journeys/drip/preview", params={"version": 1}).json()["population"] == 4
    assert "/api/journeys/{key}/preview" in api.get("/openapi.json").json()["paths"]

    with container.engine.begin() as conn:
        js.pause(joined(conn), "drip", now)
    with web_client(container, "marketer") as (client, _):
        page = client.get("/journeys/drip")
        assert 'hx-get="/journeys/drip/preview"' in page.text  # paused: the resume confirmation shows it
        frag = client.get("/journeys/drip/preview")
        assert frag.status_code == 200 and 'id="would-enter"' in frag.text and "(4 candidate(s))" in frag.text
        # paused: the held timers and messages are counted at their held times
        held = "Already in it: 4 enrolment(s); unsent messages: 4 email; timers due: 0 in 24 h, 4 in 7 days"
        assert held in frag.text
