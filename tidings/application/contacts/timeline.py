"""A contact's timeline: its events newest first, paged by a keyset cursor."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.domain.contacts import InvalidValue
from tidings.store import schema

E = schema.events


def _encode(occurred_at: datetime, event_id: int) -> str:
    return base64.urlsafe_b64encode(f"{occurred_at.isoformat()}|{event_id}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        ts, _, eid = raw.partition("|")
        return datetime.fromisoformat(ts), int(eid)
    except (ValueError, UnicodeDecodeError):
        raise InvalidValue(
            "cursor", "invalid cursor (pass back the next_cursor of a previous page)"
        ) from None


def event_dict(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "properties": r.properties,
        "occurred_at": r.occurred_at,
        "received_at": r.received_at,
        "message_id": r.message_id,
        "source": r.source,
        "value": r.value,
    }


def timeline(
    conn: sa.Connection,
    contact_id: int,
    *,
    cursor: str | None = None,
    limit: int = 50,
    name: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the contact's events, newest first; the cursor is (occurred_at, id)."""
    q = sa.select(E).where(E.c.contact_id == contact_id)
    if name:
        q = q.where(E.c.name == name)
    if cursor:
        ts, eid = _decode(cursor)
        q = q.where(sa.or_(E.c.occurred_at < ts, sa.and_(E.c.occurred_at == ts, E.c.id < eid)))
    rows = list(conn.execute(q.order_by(E.c.occurred_at.desc(), E.c.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = _encode(rows[-1].occurred_at, rows[-1].id) if more and rows else None
    return [event_dict(r) for r in rows], nxt
