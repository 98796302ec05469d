"""An event committed while the worker finishes its contact keeps a queue row (PostgreSQL).

The race: the worker has read a contact's events and is about to delete its queue row; an
ingest inserts a new event and enqueues the contact, finding the row still there. The ingest's
enqueue must hold that row until it commits, so the worker's delete waits and its re-check then
sees the new event. With a lock-free ``DO NOTHING`` the worker deleted the row, missed the
uncommitted event and the event was never processed.
"""

from __future__ import annotations

import threading

import pytest

from tests.integration.journey_support import add_contact, add_event, count
from tidings.bootstrap import Container
from tidings.clock import ManualClock
from tidings.services.engine import JourneyEngine
from tidings.store import schema


def test_event_enqueued_during_finish_is_not_lost(container: Container, clock: ManualClock) -> None:
    engine = container.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: the race cannot happen there")
    with engine.begin() as conn:
        cid = add_contact(conn, clock.now(), "race@example.org")
        add_event(conn, cid, "first", clock.now())

    ingest = engine.connect()
    tx = ingest.begin()
    add_event(ingest, cid, "second", clock.now())  # inserted and enqueued, not committed yet

    done = threading.Event()

    def finish() -> None:
        with engine.begin() as conn:
            JourneyEngine(engine, clock).process_contact(conn, cid, clock.now())
        done.set()

    worker = threading.Thread(target=finish)
    worker.start()
    blocked = not done.wait(1.0)
    tx.commit()
    ingest.close()
    worker.join(10)
    assert blocked, "the worker deleted the queue row while an enqueue was still in flight"
    with engine.connect() as conn:
        unprocessed = count(conn, schema.events, schema.events.c.processed_at.is_(None))
        queued = count(conn, schema.contact_queue, schema.contact_queue.c.contact_id == cid)
    assert unprocessed == 1 and queued == 1, "the second event must still be waiting for the worker"
