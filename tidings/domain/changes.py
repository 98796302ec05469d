"""Every change to a contact is also an event, written in the change's own transaction (pure: the row).

Names and shapes (the worker, segments and journey triggers read them):
- ``contact.updated`` ``{"changed": {"<field>": {"from": old, "to": new}}}``; custom attributes
  appear as ``attributes.<key>``; a new contact carries ``"created": true``;
- ``tag.added`` / ``tag.removed`` ``{"tag": "..."}``;
- ``consent.changed`` ``{"channel", "status", "previous", "source"}``;
- ``contact.merged`` ``{"merged_id": <id of the contact folded into this one>}``.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

#: message ids we generate: a random per-process prefix and a counter (unique, and much
#: cheaper than a uuid4 per event when an import writes hundreds of thousands of them).
_PREFIX = uuid.uuid4().hex[:16]
_COUNTER = itertools.count(1)


def new_message_id() -> str:
    return f"t{_PREFIX}{next(_COUNTER):x}"


def change_event(
    contact_id: int, name: str, properties: Mapping[str, Any], now: datetime, source: str
) -> dict[str, Any]:
    """The event row recording one change (``record_changes`` in store/ingest_sql.py writes it)."""
    return {
        "contact_id": contact_id,
        "name": name,
        "properties": dict(properties),
        "occurred_at": now,
        "received_at": now,
        "message_id": new_message_id(),
        "source": source,
        "value": None,
    }


def message_event_properties(row: Mapping[str, Any]) -> dict[str, Any]:
    """The properties every message.* event carries (sent, opened, clicked, bounced...), from its outbox row."""
    return {
        "message_id": row["id"],
        "channel": row["channel"],
        "template": row["template"],
        "journey": row["journey_id"],
        "step": row["step_id"],
    }
