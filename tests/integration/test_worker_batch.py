"""The worker processes a claim of many contacts in one transaction (``process_contacts``).

- every contact of the batch gets what the one-contact path gave it (segments, journeys);
- one failing contact fails the batch, which is redone one contact per transaction: the others
  are processed, the failing one is backed off;
- events that arrive while a batch is in flight are never lost: an uncommitted ingest keeps its
  contact queued (PostgreSQL, the queue protocol of ``store/queue.py``), and events written
  during the batch that it did not read keep their contact queued.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.integration.journey_support import (
    WELCOME,
    add_contact,
    add_event,
    count,
    outbox,
    process_beside_uncommitted_event,
    publish,
)
from tidings.application.journeys.engine import JourneyEngine
from tidings.application.segments.segments import create_segment
from tidings.bootstrap import Container
from tidings.clock import ManualClock
from tidings.domain.snapshot import ContactSnapshot
from tidings.store import schema
from tidings.store.control import SqlControl
from tidings.store.engine_sql import SqlEngineStorage
from tidings.worker import JourneyWorker


def _queued(conn: sa.Connection, cid: int) -> bool:
    return count(conn, schema.contact_queue, schema.contact_queue.c.contact_id == cid) == 1


def test_a_batch_refreshes_segments_and_starts_journeys_for_every_contact(
    container: Container, clock: ManualClock
) -> None:
    create_segment(container.segments, "signed", "Signed up", "signed_up.count(30d) >= 1", clock.now())
    publish(container, WELCOME)
    with container.engine.begin() as conn:
        ids = [add_contact(conn, clock.now(), f"b{i}@example.org") for i in range(5)]
        for cid in ids:
            add_event(conn, cid, "signed_up", clock.now())
    w = JourneyWorker(container)
    calls: list[list[int]] = []
    real = w.engine.process_contacts

    def spy(conn: sa.Connection, contact_ids: list[int], now: object) -> int:
        calls.append(sorted(contact_ids))
        return real(conn, contact_ids, now)  # type: ignore[arg-type]

    w.engine.process_contacts = spy  # type: ignore[method-assign]
    assert w.contacts_pass() == 5
    assert calls == [sorted(ids)], "one transaction for the whole claim"
    with container.engine.connect() as conn:
        m, e = schema.segment_memberships, schema.events
        assert count(conn, m, m.c.exited_at.is_(None)) == 5
        assert count(conn, e, e.c.name == "segment.entered") == 5
        assert count(conn, e, e.c.processed_at.is_(None)) == 0, "segment events are delivered in the same pass"
        assert sorted(r["contact_id"] for r in outbox(conn)) == sorted(ids)
        assert count(conn, schema.contact_queue) == 0


def test_one_failing_contact_does_not_stop_the_rest_of_its_batch(
    container: Container, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(container, WELCOME)
    with container.engine.begin() as conn:
        ids = [add_contact(conn, clock.now(), f"f{i}@example.org") for i in range(4)]
        for cid in ids:
            add_event(conn, cid, "signed_up", clock.now())
    bad = ids[1]
    w = JourneyWorker(container)
    real = w.engine._deliver_events

    def flaky(batch: object, heads: object, contact: ContactSnapshot, *args: object) -> None:
        if contact.id == bad:
            raise RuntimeError("boom")
        real(batch, heads, contact, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(w.engine, "_deliver_events", flaky)
    assert w.contacts_pass() == 4
    with container.engine.connect() as conn:
        assert sorted(r["contact_id"] for r in outbox(conn)) == sorted(set(ids) - {bad})
        assert _queued(conn, bad), "the failing contact keeps its queue row"
        assert count(conn, schema.contact_queue) == 1
    assert w._failures == {bad: 1} and bad in w._backoff


def test_events_written_during_a_batch_keep_their_contact_queued(
    container: Container, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event the batch did not read (written after it read its events) is left for the next pass."""
    publish(container, WELCOME)
    with container.engine.begin() as conn:
        a = add_contact(conn, clock.now(), "a@example.org")
        b = add_contact(conn, clock.now(), "b@example.org")
        add_event(conn, a, "signed_up", clock.now())
        add_event(conn, b, "signed_up", clock.now())
    engine = JourneyEngine(SqlEngineStorage(container.engine), clock, control=SqlControl)
    real = engine._deliver_events

    def late(batch: object, heads: object, contact: ContactSnapshot, *args: object) -> None:
        real(batch, heads, contact, *args)  # type: ignore[arg-type]
        if contact.id == a:  # arrives mid-batch, after the batch read its events
            add_event(batch.tx.connection, b, "late", clock.now())  # type: ignore[attr-defined]

    monkeypatch.setattr(engine, "_deliver_events", late)
    with engine.storage.writing() as tx:
        engine.process_contacts(tx, [a, b], clock.now())
    with container.engine.connect() as conn:
        e = schema.events
        left = conn.execute(sa.select(e.c.contact_id, e.c.name).where(e.c.processed_at.is_(None))).all()
        assert [tuple(r) for r in left] == [(b, "late")]
        assert _queued(conn, b) and not _queued(conn, a)


def test_an_uncommitted_ingest_keeps_its_contact_queued_and_the_batch_does_not_wait(
    container: Container, clock: ManualClock
) -> None:
    engine = container.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: the race cannot happen there")
    with engine.begin() as conn:
        ids = [add_contact(conn, clock.now(), f"r{i}@example.org") for i in range(3)]
        for cid in ids:
            add_event(conn, cid, "first", clock.now())
    busy = ids[1]
    process_beside_uncommitted_event(engine, clock, busy, ids)
    with engine.connect() as conn:
        e, q = schema.events, schema.contact_queue
        left = conn.execute(sa.select(e.c.contact_id, e.c.name).where(e.c.processed_at.is_(None))).all()
        assert [tuple(r) for r in left] == [(busy, "second")]
        rows = conn.execute(sa.select(q.c.contact_id, q.c.lease_until)).all()
        assert [tuple(r) for r in rows] == [(busy, None)], "only the busy contact stays queued, claimable"
