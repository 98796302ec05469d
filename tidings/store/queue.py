"""The hand-off from ingestion to the worker: contacts with pending work.

Whatever changes a contact or appends its events enqueues the contact *in the same
transaction*, so accepted work is never lost. The worker claims queued contacts
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL), processes their unprocessed events in id order,
and deletes the queue row when done.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tidings.store import schema


def enqueue_contacts(conn: sa.Connection, contact_ids: Iterable[int], now: datetime) -> None:
    rows = [{"contact_id": cid, "queued_at": now} for cid in sorted(set(contact_ids))]
    if not rows:
        return
    conn.execute(enqueue_statement(conn), rows)


def enqueue_statement(conn: sa.Connection) -> sa.Insert:
    """The insert that puts contacts in the queue, for this connection's dialect.

    On PostgreSQL an existing row is *updated* (to itself), not skipped: the update holds that
    row's lock until our transaction commits, so a worker finishing the contact at the same
    moment waits for our commit before it deletes the row, and then sees our new events
    (``finish_contact``). ``DO NOTHING`` took no lock: the worker could delete the row and miss
    our not-yet-committed events, leaving them without a queue row. SQLite has one writer at
    a time, so there ``DO NOTHING`` is enough.
    """
    t = schema.contact_queue
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(t)
        return pg.on_conflict_do_update(index_elements=[t.c.contact_id], set_={"queued_at": t.c.queued_at})
    return sqlite.insert(t).on_conflict_do_nothing(index_elements=[t.c.contact_id])
