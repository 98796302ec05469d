"""The journeys API: documents, versions, pause/resume, migration, enrolment, signals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from tests.integration.journey_support import TREATMENT, WELCOME, add_contact, add_event, drain, outbox
from tidings.bootstrap import Container
from tidings.clock import ManualClock
from tidings.store import schema
from tidings.worker import JourneyWorker

YAML = {"Content-Type": "application/yaml"}

WELCOME_V2 = WELCOME.replace("id: pause", "id: pause-2").replace("template: tips", "template: tips-v2")


def test_a_bad_document_is_refused_whole_with_line_and_step(api: Any) -> None:
    bad = WELCOME.replace("type: wait\n", "type: snooze\n")
    r = api.post("/api/journeys", content=bad, headers=YAML)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_journey"
    detail = err["details"][0]
    assert detail["step"] == "pause" and detail["line"] in (11, 12)
    assert api.get("/api/journeys").json()["items"] == []


def test_publish_is_immutable_and_idempotent(api: Any) -> None:
    r = api.post("/api/journeys", content=WELCOME, headers=YAML)
    assert r.status_code == 201 and r.json()["draft"] is True
    assert api.get("/api/journeys/welcome").json()["status"] == "draft"
    r = api.post("/api/journeys/welcome/publish")
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1 and r.json()["created"] is True
    again = api.post("/api/journeys/welcome/publish", content=WELCOME, headers=YAML).json()
    assert again["version"] == 1 and again["created"] is False
    v2 = api.post("/api/journeys/welcome/publish", content=WELCOME_V2, headers=YAML).json()
    assert v2["version"] == 2 and v2["checksum"] != r.json()["checksum"]
    versions = api.get("/api/journeys/welcome/versions").json()["items"]
    assert [v["version"] for v in versions] == [1, 2]
    v1 = api.get("/api/journeys/welcome/versions/1").json()
    assert "pause" in v1["source"] and v1["document"]["key"] == "welcome"
    other = api.post("/api/journeys/other/publish", content=WELCOME, headers=YAML)
    assert other.status_code == 409
    # JSON documents work too
    doc = {"key": "j2", "triggers": [{"manual": True}], "steps": [{"id": "s", "type": "exit"}]}
    assert api.post("/api/journeys?publish=true", json=doc).json()["version"] == 1


def test_pause_takes_no_entries_and_holds_timers_until_resume(
    api: Any, container: Container, clock: ManualClock
) -> None:
    api.post("/api/journeys?publish=true", content=WELCOME, headers=YAML)
    w = JourneyWorker(container)
    with container.engine.begin() as conn:
        early = add_contact(conn, clock.now(), "early@example.org")
        add_event(conn, early, "signed_up", clock.now())
    drain(w)
    r = api.post("/api/journeys/welcome/pause")
    assert r.json() == {"key": "welcome", "status": "paused", "held_timers": 1, "held_messages": 1}
    with container.engine.begin() as conn:
        late = add_contact(conn, clock.now(), "late@example.org")
        add_event(conn, late, "signed_up", clock.now())
    enrol = api.post("/api/journeys/welcome/enroll", json={"contact_id": late})
    assert enrol.status_code == 409
    clock.advance(timedelta(days=5))
    drain(w)
    with container.engine.connect() as conn:
        assert [r["template"] for r in outbox(conn)] == ["welcome-1"]
        # the test clock's notion of "due work" is not blocked by held timers
        due = conn.execute(
            sa.select(sa.func.count()).where(schema.timers.c.due_at <= clock.now())
        ).scalar_one()
        assert due == 0
    assert api.post("/api/journeys/welcome/resume").json()["released_timers"] == 1
    drain(w)
    with container.engine.connect() as conn:
        assert [(r["contact_id"], r["template"]) for r in outbox(conn)] == [
            (early, "welcome-1"),
            (early, "tips"),
        ]


def test_migrate_moves_waiting_enrolments_by_step_mapping(
    api: Any, container: Container, clock: ManualClock
) -> None:
    api.post("/api/journeys?publish=true", content=WELCOME, headers=YAML)
    w = JourneyWorker(container)
    with container.engine.begin() as conn:
        ids = [add_contact(conn, clock.now(), f"m{i}@example.org") for i in range(3)]
        for cid in ids:
            add_event(conn, cid, "signed_up", clock.now())
    drain(w)
    api.post("/api/journeys/welcome/publish", content=WELCOME_V2, headers=YAML)
    preview = api.post("/api/journeys/welcome/migrate").json()
    assert preview["dry_run"] is True and preview["would_move"] == 0
    assert {u["reason"] for u in preview["unmapped"]} == {"version 2 has no step 'pause'"}
    body = {"mapping": {"pause": "pause-2"}}
    preview = api.post("/api/journeys/welcome/migrate", json=body).json()
    assert preview["would_move"] == 3 and preview["moved"] == 0
    assert preview["summary"] == [{"from_version": 1, "from_step": "pause", "to_step": "pause-2", "count": 3}]
    listed = api.get("/api/journeys/welcome/enrollments", params={"status": "waiting"}).json()["items"]
    assert {e["version"] for e in listed} == {1}, "a dry run moves nobody"
    done = api.post("/api/journeys/welcome/migrate?dry_run=false", json=body).json()
    assert done["moved"] == 3
    listed = api.get("/api/journeys/welcome/enrollments").json()["items"]
    assert {(e["version"], e["step"]) for e in listed} == {(2, "pause-2")}
    clock.advance(timedelta(days=2))
    drain(w)
    with container.engine.connect() as conn:
        assert sorted(r["template"] for r in outbox(conn)) == ["tips-v2"] * 3 + ["welcome-1"] * 3


def test_api_enrolment_keys_and_signals(api: Any, container: Container, clock: ManualClock) -> None:
    api.post("/api/journeys?publish=true", content=TREATMENT, headers=YAML)
    w = JourneyWorker(container)
    with container.engine.begin() as conn:
        cid = add_contact(conn, clock.now(), "pat@example.org")
        add_event(conn, cid, "treatment.booked", clock.now(), start_date="2026-03-10")
    drain(w)
    e = api.get("/api/journeys/treatment/enrollments").json()["items"][0]
    assert e["status"] == "waiting" and e["waiting_until"].startswith("2026-03-09T09:00")
    r = api.post(
        f"/api/enrollments/{e['id']}/signal",
        json={"signal": "reschedule", "data": {"start_date": "2026-03-20"}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] is True and r.json()["waiting_until"].startswith("2026-03-19T09:00")
    clock.advance(timedelta(days=8))
    drain(w)
    with container.engine.connect() as conn:
        assert outbox(conn) == [], "the reminder moved with the new date"
    clock.advance(timedelta(days=10))
    drain(w)
    with container.engine.connect() as conn:
        assert [r["template"] for r in outbox(conn)] == ["treatment-reminder"]
    # a signal to a finished enrolment is recorded and ignored
    r = api.post(f"/api/enrollments/{e['id']}/signal", json={"signal": "reschedule", "data": {}})
    assert r.status_code == 200 and r.json()["accepted"] is False
    assert r.json()["trace"][0]["action"] == "ignored"
    assert api.post("/api/enrollments/999/signal", json={"signal": "stop"}).status_code == 404
    # manual enrolment with a key: once per key
    api.post(
        "/api/journeys?publish=true",
        json={
            "key": "manual",
            "triggers": [{"manual": True}],
            "settings": {"reentry": "per_key"},
            "steps": [{"id": "w", "type": "wait", "duration": "1d"}],
        },
    )
    first = api.post("/api/journeys/manual/enroll", json={"contact_id": cid, "key": "A"})
    assert first.status_code == 201 and first.json()["status"] == "waiting"
    assert api.post("/api/journeys/manual/enroll", json={"contact_id": cid, "key": "A"}).status_code == 409
    assert api.post("/api/journeys/manual/enroll", json={"contact_id": cid, "key": "B"}).status_code == 201
    assert api.post("/api/journeys/manual/enroll", json={"contact_id": 4242}).status_code == 404
    assert api.post("/api/journeys/nope/enroll", json={"contact_id": cid}).status_code == 404
