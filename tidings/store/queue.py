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
    t = schema.contact_queue
    if conn.dialect.name == "postgresql":
        stmt = postgresql.insert(t).on_conflict_do_nothing(index_elements=[t.c.contact_id])
    else:
        stmt = sqlite.insert(t).on_conflict_do_nothing(index_elements=[t.c.contact_id])
    conn.execute(stmt, rows)
