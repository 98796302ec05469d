"""A contact's timeline: its events newest first, paged by a keyset cursor."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from tidings.application.ports.content import ContactReader
from tidings.domain.contacts import InvalidValue


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


def timeline(
    contacts: ContactReader,
    contact_id: int,
    *,
    cursor: str | None = None,
    limit: int = 50,
    name: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the contact's events, newest first; the cursor is (occurred_at, id)."""
    before = _decode(cursor) if cursor else None
    rows = contacts.events_page(contact_id, name=name, before=before, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = _encode(rows[-1]["occurred_at"], rows[-1]["id"]) if more and rows else None
    return rows, nxt
