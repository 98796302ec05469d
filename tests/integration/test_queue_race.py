"""An event committed while the worker finishes its contact keeps a queue row (PostgreSQL).

The race: the worker has read a contact's events and is about to delete its queue row; an
ingest inserts a new event and enqueues the contact, finding the row still there. The ingest
holds the contact's shared queue lock until it commits (store/queue.py), so the worker keeps
the queue row instead of deleting it, and never waits for the ingest. Without the protocol the
worker deleted the row, missed the uncommitted event, and the event was never processed.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.integration.journey_support import add_contact, add_event, count, process_beside_uncommitted_event
from tidings.bootstrap import Container
from tidings.clock import ManualClock
from tidings.store import schema


def test_event_enqueued_during_finish_is_not_lost(container: Container, clock: ManualClock) -> None:
    engine = container.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: the race cannot happen there")
    with engine.begin() as conn:
        cid = add_contact(conn, clock.now(), "race@example.org")
        add_event(conn, cid, "first", clock.now())

    process_beside_uncommitted_event(engine, clock, cid, [cid])
    with engine.connect() as conn:
        unprocessed = count(conn, schema.events, schema.events.c.processed_at.is_(None))
        queued = count(conn, schema.contact_queue, schema.contact_queue.c.contact_id == cid)
        lease = conn.execute(
            sa.select(schema.contact_queue.c.lease_until).where(schema.contact_queue.c.contact_id == cid)
        ).scalar()
    assert unprocessed == 1 and queued == 1, "the second event must still be waiting for the worker"
    assert lease is None, "the contact must be claimable again at once"
