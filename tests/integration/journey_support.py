"""Helpers for the journey runtime's integration tests (worker, API, why, faults)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.application.journeys import journeys as js
from tidings.application.journeys.engine import JourneyEngine
from tidings.bootstrap import Container
from tidings.clock import ManualClock
from tidings.store import schema
from tidings.store.control import SqlControl
from tidings.store.engine_sql import SqlEngineStorage
from tidings.store.queue import enqueue_contacts
from tidings.store.sql_uow import joined
from tidings.worker import JourneyWorker

WELCOME = """
key: welcome
name: Welcome
triggers:
  - event: signed_up
steps:
  - id: hello
    type: send
    channel: email
    template: welcome-1
  - id: pause
    type: wait
    duration: 2d
  - id: tips
    type: send
    channel: email
    template: tips
"""

ORDERS = """
key: orders
name: Order follow-up
triggers:
  - event: order.placed
    key: order_id
settings:
  reentry: per_key
  category: transactional
steps:
  - id: thanks
    type: send
    channel: email
    template: order-thanks
  - id: later
    type: wait
    duration: 3d
  - id: review
    type: send
    channel: email
    template: order-review
"""


#: a date-driven reminder whose date a signal moves (unsubscribe self-service, pause, lifecycle tests).
TREATMENT = """
key: treatment
triggers:
  - event: treatment.booked
settings:
  signals: [reschedule]
  category: transactional
steps:
  - id: before
    type: wait_until
    date: {variable: start_date, before: 1d, at: "09:00"}
  - id: remind
    type: send
    channel: email
    template: treatment-reminder
"""

def add_contact(conn: sa.Connection, now: datetime, email: str, **fields: Any) -> int:
    c = schema.contacts
    attrs = fields.pop("attributes", {})
    return int(
        conn.execute(
            sa.insert(c)
            .values(email=email, attributes=attrs, created_at=now, updated_at=now, **fields)
            .returning(c.c.id)
        ).scalar_one()
    )


def add_event(conn: sa.Connection, contact_id: int, name: str, now: datetime, **props: Any) -> None:
    conn.execute(
        sa.insert(schema.events).values(
            contact_id=contact_id, name=name, properties=props, occurred_at=now, received_at=now
        )
    )
    enqueue_contacts(conn, [contact_id], now)


def publish(container: Container, text: str) -> js.Published:
    with container.engine.begin() as conn:
        return js.publish(joined(conn), container.clock.now(), text=text)


def drain(worker: JourneyWorker, limit: int = 200) -> int:
    """Run worker passes until there is nothing left to do now."""
    total = 0
    for _ in range(limit):
        n = worker.run_once()
        if not n:
            return total
        total += n
    raise AssertionError("the worker never ran out of work")


def outbox(conn: sa.Connection, contact_id: int | None = None) -> list[Any]:
    o = schema.outbox
    q = sa.select(o).order_by(o.c.id)
    if contact_id is not None:
        q = q.where(o.c.contact_id == contact_id)
    return list(conn.execute(q).mappings())


def count(conn: sa.Connection, table: sa.Table, *where: Any) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())


def process_beside_uncommitted_event(
    engine: sa.Engine, clock: ManualClock, busy: int, contact_ids: Sequence[int]
) -> None:
    """The worker processes ``contact_ids`` while an ingest holds an uncommitted event for
    ``busy`` (inserted and enqueued); asserts the worker did not wait, then commits the ingest."""
    ingest = engine.connect()
    tx = ingest.begin()
    add_event(ingest, busy, "second", clock.now())
    finished = threading.Event()

    def work() -> None:
        with engine.begin() as conn:
            eng = JourneyEngine(SqlEngineStorage(engine), clock, control=SqlControl)
            eng.process_contacts(eng.storage.on(conn), list(contact_ids), clock.now())
        finished.set()

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(10)
    assert finished.is_set(), "the worker must not wait for an ingest"
    tx.commit()
    ingest.close()
