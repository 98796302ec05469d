"""A paused journey holds its people in place (services/paused.py): events and signals that would
move an enrolment are held and applied once, in order, on resume; exits and goals still end
enrolments during the pause, and nothing held is sent to them afterwards."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from tests.integration.journey_support import TREATMENT, add_contact, add_event, count, drain, outbox
from tidings.application.journeys import journeys as js
from tidings.application.journeys import paused
from tidings.bootstrap import Container
from tidings.clock import ManualClock
from tidings.store import schema
from tidings.store.sql_uow import joined
from tidings.worker import JourneyWorker

YAML = {"Content-Type": "application/yaml"}

CART = """
key: cart
triggers:
  - event: cart.started
settings:
  exit:
    - event: opted.out
  goal: {event: order.completed, revenue: total}
steps:
  - id: hello
    type: send
    channel: email
    template: hello
  - id: wait-click
    type: wait_event
    event: link.clicked
    timeout: 3d
    on_timeout: end
  - id: offer
    type: send
    channel: email
    template: offer
  - id: wait-pay
    type: wait_event
    event: payment.started
    timeout: 5d
    on_timeout: end
  - id: thanks
    type: send
    channel: email
    template: thanks
"""


def _enrolment(conn: sa.Connection, cid: int) -> Any:
    e = schema.enrollments
    return conn.execute(sa.select(e).where(e.c.contact_id == cid)).mappings().one()


def _held(conn: sa.Connection) -> int:
    return count(conn, schema.timers, schema.timers.c.kind == paused.HELD_KIND)


def test_wait_event_during_a_pause_sends_nothing_then_once_in_order_after_resume(
    api: Any, container: Container, clock: ManualClock
) -> None:
    assert api.post("/api/journeys?publish=true", content=CART, headers=YAML).status_code == 201
    w = JourneyWorker(container)
    with container.engine.begin() as conn:
        cid = add_contact(conn, clock.now(), "held@example.org")
        add_event(conn, cid, "cart.started", clock.now())
    drain(w)
    r = api.post("/api/journeys/cart/pause").json()
    assert r["held_timers"] == 1 and r["held_messages"] == 1  # the timeout and the unsent hello
    clock.advance(timedelta(hours=1))
    with container.engine.begin() as conn:
        add_event(conn, cid, "link.clicked", clock.now())
    drain(w)
    clock.advance(timedelta(hours=1))
    with container.engine.begin() as conn:
        # would change nothing *now*, but after the held click it is what the next wait wants
        add_event(conn, cid, "payment.started", clock.now())
        add_event(conn, cid, "page.viewed", clock.now())
    drain(w)
    clock.advance(timedelta(days=4))  # past the click's 3-day timeout: held too
    drain(w)
    with container.engine.connect() as conn:
        assert [r["template"] for r in outbox(conn)] == ["hello"], "nothing moves during the pause"
        assert _held(conn) == 1
        held = conn.execute(sa.select(schema.timers.c.payload).where(schema.timers.c.kind == "held")).scalar_one()
        assert [i["name"] for i in held["held"]] == ["link.clicked", "payment.started"]
        assert _enrolment(conn, cid)["step_id"] == "wait-click"
        t = schema.traces
        assert count(conn, t, t.c.action == "held") == 2
        assert count(conn, schema.events, schema.events.c.processed_at.is_(None)) == 0
    r = api.post("/api/journeys/cart/resume").json()
    assert r["released_timers"] == 2 and r["released_messages"] == 1 and r["skipped_messages"] == 0
    drain(w)
    drain(w)
    with container.engine.connect() as conn:
        rows = outbox(conn)
        assert [r["template"] for r in rows] == ["hello", "offer", "thanks"], "each once, in order"
        assert all(r["next_attempt_at"] <= clock.now() for r in rows)
        e = _enrolment(conn, cid)
        assert (e["status"], e["end_reason"]) == ("ended", "completed")
        assert count(conn, schema.timers) == 0
        t = schema.traces
        assert count(conn, t, t.c.action == "held_released") == 1
        # the stale 3-day timeout fired after the held click and was ignored, not taken
        assert count(conn, t, t.c.action == "resume", t.c.step_id == "wait-click") == 1


def test_exit_and_goal_during_a_pause_end_enrolments_and_nothing_is_sent_after_resume(
    api: Any, container: Container, clock: ManualClock
) -> None:
    api.post("/api/journeys?publish=true", content=CART, headers=YAML)
    w = JourneyWorker(container)
    with container.engine.begin() as conn:
        buyer = add_contact(conn, clock.now(), "buyer@example.org")
        leaver = add_contact(conn, clock.now(), "leaver@example.org")
        waiter = add_contact(conn, clock.now(), "waiter@example.org")
        for cid in (buyer, leaver, waiter):
            add_event(conn, cid, "cart.started", clock.now())
    drain(w)
    assert api.post("/api/journeys/cart/pause").json()["held_messages"] == 3
    clock.advance(timedelta(hours=2))
    with container.engine.begin() as conn:
        add_event(conn, buyer, "link.clicked", clock.now())  # held...
        add_event(conn, buyer, "order.completed", clock.now(), total=42)  # ...then the goal ends it
        add_event(conn, leaver, "link.clicked", clock.now())
        add_event(conn, leaver, "opted.out", clock.now())
    drain(w)
    with container.engine.connect() as conn:
        b, lv = _enrolment(conn, buyer), _enrolment(conn, leaver)
        assert (b["status"], b["end_reason"]) == ("ended", "converted")
        assert (lv["status"], lv["end_reason"]) == ("ended", "exited")
        assert _held(conn) == 0, "ending an enrolment drops what was held for it"
        conv = conn.execute(
            sa.select(schema.events.c.properties).where(schema.events.c.name == "journey.converted")
        ).scalar_one()
        assert conv["revenue"] == 42
    r = api.post("/api/journeys/cart/resume").json()
    assert r["skipped_messages"] == 2 and r["released_messages"] == 1
    clock.advance(timedelta(days=10))
    drain(w)
    with container.engine.connect() as conn:
        by = {(r["contact_id"], r["template"]): r["status"] for r in outbox(conn)}
        assert by == {
            (buyer, "hello"): "skipped",
            (leaver, "hello"): "skipped",
            (waiter, "hello"): "pending",
        }
        assert _enrolment(conn, waiter)["end_reason"] == "completed"  # timed out after resume


def test_a_signal_during_a_pause_is_held_and_applied_before_due_timers(
    api: Any, container: Container, clock: ManualClock
) -> None:
    api.post("/api/journeys?publish=true", content=TREATMENT, headers=YAML)
    w = JourneyWorker(container)
    with container.engine.begin() as conn:
        cid = add_contact(conn, clock.now(), "pat@example.org")
        add_event(conn, cid, "treatment.booked", clock.now(), start_date="2026-03-10")
    drain(w)
    e = api.get("/api/journeys/treatment/enrollments").json()["items"][0]
    with container.engine.begin() as conn:
        js.pause(joined(conn), "treatment", clock.now())
    r = api.post(
        f"/api/enrollments/{e['id']}/signal", json={"signal": "reschedule", "data": {"start_date": "2026-03-20"}}
    ).json()
    assert r["accepted"] is True and r["held"] is True
    assert r["waiting_until"].startswith("2026-03-09T09:00"), "nothing moves until resume"
    clock.advance(timedelta(days=12))  # past the old reminder time (2026-03-09)
    drain(w)
    with container.engine.begin() as conn:
        assert outbox(conn) == []
        js.resume(joined(conn), "treatment", clock.now())
    drain(w)
    with container.engine.connect() as conn:
        assert outbox(conn) == [], "the held reschedule came first: the reminder moved"
    clock.advance(timedelta(days=10))
    drain(w)
    with container.engine.connect() as conn:
        assert [r["template"] for r in outbox(conn)] == ["treatment-reminder"]
