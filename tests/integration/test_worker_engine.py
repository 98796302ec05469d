"""The journey worker against a real database: claims, timers, exactly-once, keyed entry, chains."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.integration.journey_support import (
    ORDERS,
    WELCOME,
    add_contact,
    add_event,
    count,
    drain,
    outbox,
    publish,
)
from tidings.application.journeys.engine import JourneyEngine
from tidings.bootstrap import Container
from tidings.clock import ManualClock
from tidings.domain.snapshot import ContactSnapshot
from tidings.store import schema
from tidings.store.control import SqlControl
from tidings.store.engine_sql import SqlEngineStorage
from tidings.store.enrolments_sql import SqlEnrolments
from tidings.worker import JourneyWorker


def test_event_enters_sends_waits_and_timer_fires_when_due(container: Container, clock: ManualClock) -> None:
    publish(container, WELCOME)
    w = JourneyWorker(container)
    with container.engine.begin() as conn:
        cid = add_contact(conn, clock.now(), "ann@example.org")
        add_event(conn, cid, "signed_up", clock.now(), note='tab\there "quoted" back\\slash\nnew line é')
    drain(w)
    with container.engine.connect() as conn:
        t = schema.traces
        entered = conn.execute(sa.select(t.c.detail).where(t.c.action == "entered")).scalar_one()
        assert entered["event"]["properties"]["note"] == 'tab\there "quoted" back\\slash\nnew line é'
        rows = outbox(conn, cid)
        assert [r["template"] for r in rows] == ["welcome-1"]
        assert rows[0]["status"] == "pending" and rows[0]["recipient"] == "ann@example.org"
        assert rows[0]["trace_id"] is not None and rows[0]["journey_version"] == 1
        assert count(conn, schema.contact_queue) == 0
        assert count(conn, schema.events, schema.events.c.processed_at.is_(None)) == 0
        assert count(conn, schema.timers) == 1
    clock.advance(timedelta(days=2) - timedelta(seconds=1))
    drain(w)
    with container.engine.connect() as conn:
        assert len(outbox(conn, cid)) == 1, "not due yet"
    clock.advance(timedelta(seconds=1))
    drain(w)
    with container.engine.connect() as conn:
        assert [r["template"] for r in outbox(conn, cid)] == ["welcome-1", "tips"]
        assert count(conn, schema.timers) == 0
        e = conn.execute(sa.select(schema.enrollments)).mappings().one()
        assert (e["status"], e["end_reason"]) == ("ended", "completed")
        # every effect has a trace entry and the trace links back to it
        t = schema.traces
        linked = conn.execute(sa.select(t.c.outbox_id).where(t.c.outbox_id.is_not(None))).scalars().all()
        assert sorted(linked) == [r["id"] for r in outbox(conn, cid)]


def test_a_rolled_back_batch_is_redone_without_repeating_a_send(container: Container, clock: ManualClock) -> None:
    publish(container, WELCOME)
    w = JourneyWorker(container)
    with container.engine.begin() as conn:
        ids = [add_contact(conn, clock.now(), f"c{i}@example.org") for i in range(5)]
        for cid in ids:
            add_event(conn, cid, "signed_up", clock.now())
    drain(w)
    clock.advance(timedelta(days=2))
    eng = JourneyEngine(SqlEngineStorage(container.engine), clock, "crashy", control=SqlControl)

    class Crash(Exception):
        pass

    # a worker dies after computing and writing the batch but before the commit
    with pytest.raises(Crash), container.engine.begin() as conn:
        rows = SqlEnrolments(conn).due_timers(clock.now(), 500)
        assert len(rows) == 5
        eng.fire(eng.storage.on(conn), rows, clock.now())
        raise Crash
    with container.engine.connect() as conn:
        assert len(outbox(conn)) == 5 and count(conn, schema.timers) == 5
    drain(w)
    drain(w)
    with container.engine.connect() as conn:
        keys = [r["idempotency_key"] for r in outbox(conn)]
        assert len(keys) == 10 and len(set(keys)) == 10
        assert count(conn, schema.timers) == 0
        # the same effect written twice lands once (ON CONFLICT DO NOTHING on the key)
        row = dict(outbox(conn)[0])
    with container.engine.begin() as conn:
        repo = SqlEnrolments(conn)
        row["id"] = repo.allocate_ids({"outbox": 1})["outbox"][0]
        assert repo.insert_outbox([row]) == 0
    with container.engine.connect() as conn:
        assert len(outbox(conn)) == 10


def test_keyed_enrolment_once_per_key(container: Container, clock: ManualClock) -> None:
    publish(container, ORDERS)
    w = JourneyWorker(container)
    with container.engine.begin() as conn:
        cid = add_contact(conn, clock.now(), "bo@example.org")
        add_event(conn, cid, "order.placed", clock.now(), order_id="A1")
        add_event(conn, cid, "order.placed", clock.now(), order_id="A1")
    drain(w)
    with container.engine.begin() as conn:
        add_event(conn, cid, "order.placed", clock.now(), order_id="B2")
        add_event(conn, cid, "order.placed", clock.now(), order_id="A1")
    drain(w)
    with container.engine.connect() as conn:
        e = schema.enrollments
        keys = sorted(conn.execute(sa.select(e.c.enroll_key)).scalars())
        assert keys == ["A1", "B2"]
        assert [r["template"] for r in outbox(conn, cid)] == ["order-thanks", "order-thanks"]
        refused = count(conn, schema.traces, schema.traces.c.action == "entry_refused")
        assert refused == 2
    clock.advance(timedelta(days=3))
    drain(w)
    with container.engine.connect() as conn:
        assert sorted(r["template"] for r in outbox(conn, cid)) == ["order-review"] * 2 + ["order-thanks"] * 2


def test_contact_claims_are_leased_and_expire(container: Container, clock: ManualClock) -> None:
    with container.engine.begin() as conn:
        ids = [add_contact(conn, clock.now(), f"q{i}@example.org") for i in range(4)]
        SqlEnrolments(conn).enqueue(ids, clock.now())
    a = JourneyEngine(SqlEngineStorage(container.engine), clock, "worker-a", control=SqlControl)
    b = JourneyEngine(SqlEngineStorage(container.engine), clock, "worker-b", control=SqlControl)
    got_a = a.claim_contacts(limit=3)
    got_b = b.claim_contacts(limit=3)
    assert len(got_a) == 3 and len(got_b) == 1 and not set(got_a) & set(got_b)
    assert b.claim_contacts(limit=3) == []
    # worker a dies: once its lease runs out, b takes its contacts over
    clock.advance(timedelta(seconds=61))
    assert sorted(b.claim_contacts(limit=10)) == sorted(ids)


def test_update_contact_chains_into_another_journey(container: Container, clock: ManualClock) -> None:
    publish(
        container,
        """
key: tagger
triggers: [{event: webinar.attended}]
steps:
  - {id: tag, type: update_contact, add_tags: [warm], set: {interest: webinars}, score: 5}
""",
    )
    publish(
        container,
        """
key: warm-nurture
triggers: [{tag_added: warm}]
steps:
  - {id: hello, type: send, channel: email, template: warm-hello}
""",
    )
    w = JourneyWorker(container)
    with container.engine.begin() as conn:
        cid = add_contact(conn, clock.now(), "cy@example.org")
        add_event(conn, cid, "webinar.attended", clock.now())
    drain(w)
    with container.engine.connect() as conn:
        assert [r["template"] for r in outbox(conn, cid)] == ["warm-hello"]
        row = conn.execute(sa.select(schema.contacts).where(schema.contacts.c.id == cid)).mappings().one()
        assert row["attributes"]["interest"] == "webinars" and row["score"] == 5
        names = (
            conn.execute(
                sa.select(schema.events.c.name).where(schema.events.c.contact_id == cid).order_by(schema.events.c.id)
            )
            .scalars()
            .all()
        )
        assert names == ["webinar.attended", "contact.updated", "tag.added"]
        assert count(conn, schema.contact_queue) == 0


def test_enrol_in_another_journey_directly(container: Container, clock: ManualClock) -> None:
    publish(
        container,
        """
key: second
triggers: [{manual: true}]
steps:
  - {id: s, type: send, channel: email, template: second-hello}
""",
    )
    publish(
        container,
        """
key: first
triggers: [{event: go}]
steps:
  - {id: handoff, type: enroll, journey: second}
""",
    )
    w = JourneyWorker(container)
    with container.engine.begin() as conn:
        cid = add_contact(conn, clock.now(), "di@example.org")
        add_event(conn, cid, "go", clock.now())
    drain(w)
    with container.engine.connect() as conn:
        assert [r["template"] for r in outbox(conn, cid)] == ["second-hello"]
        assert count(conn, schema.traces, schema.traces.c.action == "enrolled_by") == 1


def test_a_failing_contact_is_set_aside_and_the_worker_keeps_going(
    container: Container, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(container, WELCOME)
    w = JourneyWorker(container)
    with container.engine.begin() as conn:
        bad = add_contact(conn, clock.now(), "bad@example.org")
        good = add_contact(conn, clock.now(), "good@example.org")
        add_event(conn, bad, "signed_up", clock.now())
        add_event(conn, good, "signed_up", clock.now())
    real = w.engine._deliver_events

    def flaky(batch: object, heads: object, contact: ContactSnapshot, *args: object) -> None:
        if contact.id == bad:  # fails the batch both contacts are claimed in, then bad alone
            raise RuntimeError("boom")
        real(batch, heads, contact, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(w.engine, "_deliver_events", flaky)
    for _ in range(50):
        w.run_once()
        w._backoff.clear()  # do not wait out the real-time backoff in a test
        with container.engine.connect() as conn:
            if count(conn, schema.contact_queue) == 0:
                break
    with container.engine.connect() as conn:
        assert [r["contact_id"] for r in outbox(conn)] == [good]
        t = schema.traces
        err = conn.execute(sa.select(t).where(t.c.contact_id == bad, t.c.action == "error")).mappings().one()
        assert "boom" in err["detail"]["error"]
        assert count(conn, schema.events, schema.events.c.processed_at.is_(None)) == 0


def test_date_trigger_planned_on_publish_and_replanned_when_the_date_changes(
    container: Container, clock: ManualClock
) -> None:
    with container.engine.begin() as conn:
        cid = add_contact(conn, clock.now(), "ed@example.org", attributes={"renewal_date": "2026-03-20"})
        other = add_contact(conn, clock.now(), "fi@example.org")
    publish(
        container,
        """
key: renewal
triggers:
  - date: {attribute: renewal_date, before: 7d, at: "09:00"}
settings: {reentry: per_key}
steps:
  - {id: remind, type: send, channel: email, template: renewal-reminder}
""",
    )
    with container.engine.connect() as conn:
        timers = conn.execute(sa.select(schema.timers)).mappings().all()
        assert [(t["contact_id"], t["kind"], t["due_at"].isoformat()) for t in timers] == [
            (cid, "date_trigger", "2026-03-13T09:00:00+00:00")
        ]
    w = JourneyWorker(container)
    # the contact's renewal moves a week later: the timer follows
    with container.engine.begin() as conn:
        conn.execute(
            sa.update(schema.contacts)
            .where(schema.contacts.c.id == cid)
            .values(attributes={"renewal_date": "2026-03-27"})
        )
        add_event(
            conn,
            cid,
            "contact.updated",
            clock.now(),
            changed={"attributes.renewal_date": {"from": "2026-03-20", "to": "2026-03-27"}},
        )
        add_event(conn, other, "contact.updated", clock.now(), changed={"attributes.x": {"from": 1, "to": 2}})
    drain(w)
    with container.engine.connect() as conn:
        due = conn.execute(sa.select(schema.timers.c.due_at)).scalars().all()
        assert [d.isoformat() for d in due] == ["2026-03-20T09:00:00+00:00"]
    clock.advance(timedelta(days=17))
    drain(w)
    with container.engine.connect() as conn:
        assert outbox(conn) == [], "the old due time passed: nothing"
    clock.advance(timedelta(days=1))
    drain(w)
    with container.engine.connect() as conn:
        assert [r["template"] for r in outbox(conn)] == ["renewal-reminder"]
        assert conn.execute(sa.select(schema.enrollments.c.enroll_key)).scalar_one()
        assert count(conn, schema.timers) == 0


def test_an_effect_already_in_the_outbox_is_not_written_again(container: Container, clock: ManualClock) -> None:
    publish(container, WELCOME)
    w = JourneyWorker(container)
    with container.engine.begin() as conn:
        cid = add_contact(conn, clock.now(), "gi@example.org")
        add_event(conn, cid, "signed_up", clock.now())
    drain(w)
    with container.engine.begin() as conn:
        first = dict(outbox(conn, cid)[0])
        eid = conn.execute(sa.select(schema.enrollments.c.id)).scalar_one()
        repo = SqlEnrolments(conn)
        pre = repo.allocate_ids({"outbox": 1})["outbox"][0]
        first.update(id=pre, idempotency_key=f"{eid}:tips:1", template="tips", status="sent", trace_id=None)
        assert repo.insert_outbox([first]) == 1
    clock.advance(timedelta(days=2))
    drain(w)
    with container.engine.connect() as conn:
        rows = outbox(conn, cid)
        assert [r["template"] for r in rows] == ["welcome-1", "tips"]
        t = schema.traces
        send = conn.execute(sa.select(t).where(t.c.action == "send", t.c.step_id == "tips")).mappings().one()
        assert send["outbox_id"] == pre


def test_bulk_snapshots_match_the_per_contact_loader(container: Container, clock: ManualClock) -> None:
    from tidings.store.bulk_snapshots import load_snapshots
    from tidings.store.snapshots import load_snapshot

    now = clock.now()
    with container.engine.begin() as conn:
        a = add_contact(conn, now, "ha@example.org", attributes={"plan": "gold"}, timezone="Europe/Paris")
        b = add_contact(conn, now, "hb@example.org")
        conn.execute(
            sa.insert(schema.contact_tags),
            [{"contact_id": a, "tag": "vip", "created_at": now}, {"contact_id": a, "tag": "beta", "created_at": now}],
        )
        conn.execute(
            sa.insert(schema.consents).values(
                contact_id=a, channel="email", status="granted", recorded_at=now, proof={}, topics={}
            )
        )
        sid = conn.execute(
            sa.insert(schema.segments)
            .values(key="buyers", name="Buyers", rule={}, created_at=now, updated_at=now)
            .returning(schema.segments.c.id)
        ).scalar_one()
        conn.execute(sa.insert(schema.segment_memberships).values(contact_id=a, segment_id=sid, entered_at=now))
        add_event(conn, a, "order.placed", now, total=5)
    with container.engine.connect() as conn:
        bulk = load_snapshots(conn, [a, b, 999], events=True)
        assert set(bulk) == {a, b}
        one = load_snapshot(conn, a)
        assert one is not None
        got = bulk[a]
        assert (got.tags, got.consents, got.segments, got.attributes, got.timezone, got.created_at) == (
            one.tags,
            one.consents,
            one.segments,
            one.attributes,
            one.timezone,
            one.created_at,
        )
        assert [e.name for e in got.events] == [e.name for e in one.events] == ["order.placed"]
        assert bulk[b].tags == frozenset() and bulk[b].consents == {}
