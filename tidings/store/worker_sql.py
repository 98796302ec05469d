"""SQL of the worker's give-ups (``worker.py``): a poison contact's events set aside, a failing
timer dropped, each with an ``error`` trace."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.store import schema
from tidings.store.enrolments_sql import SqlEnrolments


def set_aside_contact(conn: sa.Connection, contact_id: int, error: str, now: datetime, limit: int) -> list[int]:
    """Mark the contact's pending events (at most ``limit``: one worker pass) processed, trace why, take it
    off the queue; their ids."""
    repo = SqlEnrolments(conn)
    events = repo.unprocessed_events([contact_id], limit).get(contact_id, [])
    ids = [int(e["id"]) for e in events]
    repo.mark_processed(ids, now)
    conn.execute(
        sa.insert(schema.traces).values(
            contact_id=contact_id,
            stimulus="event",
            action="error",
            at=now,
            detail={"error": error, "events": ids, "note": "events set aside after repeated failures"},
        )
    )
    conn.execute(sa.delete(schema.contact_queue).where(schema.contact_queue.c.contact_id == contact_id))
    return ids


def drop_first_due_timer(conn: sa.Connection, error: str, now: datetime) -> list[dict[str, Any]]:
    """Claim the first due timer, delete it and trace why; the timer rows dropped (none or one)."""
    repo = SqlEnrolments(conn)
    rows = repo.due_timers(now, 1)
    for r in rows:
        repo.delete_timers([int(r["id"])])
        conn.execute(
            sa.insert(schema.traces).values(
                contact_id=r["contact_id"],
                enrollment_id=r["enrollment_id"],
                stimulus="timer",
                action="error",
                at=now,
                detail={"error": error, "timer": int(r["id"]), "kind": r["kind"], "payload": r["payload"]},
            )
        )
    return [dict(r) for r in rows]
