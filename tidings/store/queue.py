"""The hand-off from ingestion to the worker: contacts with pending work.

Whatever changes a contact or appends its events enqueues the contact *in the same
transaction*, so accepted work is never lost. The worker claims queued contacts
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL), processes their unprocessed events in id order,
and deletes the queue row when done.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tidings.store import schema


def enqueue_contacts(conn: sa.Connection, contact_ids: Iterable[int], now: datetime) -> None:
    ids = sorted(set(contact_ids))
    if not ids:
        return
    announce_events(conn, ids)
    conn.execute(enqueue_statement(conn), [{"contact_id": cid, "queued_at": now} for cid in ids])


def enqueue_statement(conn: sa.Connection) -> sa.Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` into the queue, for this connection's dialect."""
    t = schema.contact_queue
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt: sa.Insert = dialect.insert(t).on_conflict_do_nothing(index_elements=[t.c.contact_id])
    return stmt


# The queue protocol on PostgreSQL (SQLite has one writer at a time and needs none of this).
#
# A worker finishing a contact deletes its queue row and then looks for events that arrived
# meanwhile. An ingest that is still uncommitted at that moment, and found the queue row there
# when it enqueued, would be missed: its event would never get a queue row. So every
# transaction that enqueues a contact first takes a *shared* advisory lock on the contact id,
# held until it commits (ingests never wait for each other), and the worker finishes a
# contact only under the *exclusive* lock, which it merely tries for (``busy_contacts``): if
# an ingest holds it, the worker keeps the queue row and the contact is processed again once
# that ingest has committed. The worker never waits on an ingest, so the two cannot deadlock.
# Advisory locks use the single-bigint key space with the contact id as key.


def announce_events(conn: sa.Connection, contact_ids: Iterable[int]) -> None:
    """Take the shared queue lock of these contacts until this transaction ends (PostgreSQL)."""
    ids = sorted(set(contact_ids))
    if ids and conn.dialect.name == "postgresql":
        conn.execute(
            sa.text("SELECT count(pg_advisory_xact_lock_shared(x)) FROM unnest(CAST(:ids AS bigint[])) AS x"),
            {"ids": ids},
        )


def busy_contacts(conn: sa.Connection, contact_ids: Sequence[int]) -> set[int]:
    """Try for the exclusive queue lock of each contact, in one statement (PostgreSQL).

    Returns the ids an uncommitted ingest still holds. Try-locks never wait, so their order
    cannot deadlock; the locks taken are held until the caller's transaction ends."""
    if not contact_ids or conn.dialect.name != "postgresql":
        return set()
    rows = conn.execute(
        sa.text("SELECT x, pg_try_advisory_xact_lock(x) FROM unnest(CAST(:ids AS bigint[])) AS x"),
        {"ids": sorted(set(contact_ids))},
    )
    return {int(x) for x, ok in rows if not ok}
