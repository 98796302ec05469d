"""In-memory twin of ``traces_sql.py``: why a contact got a message, from the stored trace."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tidings.store.attribution import ATTRIBUTION_WINDOW, credit_record, last_human_click
from tidings.store.memory.state import MemoryStore

EVENT_KEYS = ("id", "name", "properties", "occurred_at", "value")


class MemoryMessageTraces:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def contact_exists(self, contact_id: int) -> bool:
        return contact_id in self.store.state.contacts

    def journey_keys(self) -> dict[int, str]:
        return {int(i): str(j["key"]) for i, j in self.store.state.journeys.items()}

    def message(self, contact_id: int, message_id: int) -> dict[str, Any] | None:
        row = self.store.state.outbox.get(message_id)
        return copy.deepcopy(row) if row is not None and row["contact_id"] == contact_id else None

    def messages(self, contact_id: int, limit: int) -> list[dict[str, Any]]:
        outbox = self.store.state.outbox
        ids = sorted((i for i, o in outbox.items() if o["contact_id"] == contact_id), reverse=True)[:limit]
        return [copy.deepcopy(outbox[i]) for i in ids]

    def _traces(self, keep: Any, limit: int) -> list[dict[str, Any]]:
        rows = sorted((t for t in self.store.state.traces if keep(t)), key=lambda t: int(t["id"]), reverse=True)
        return copy.deepcopy(rows[:limit])

    def trace(self, trace_id: int) -> dict[str, Any] | None:
        rows = self._traces(lambda t: t["id"] == trace_id, 1)
        return rows[0] if rows else None

    def path(self, enrollment_id: int, upto: int, limit: int) -> list[dict[str, Any]]:
        return self._traces(lambda t: t["enrollment_id"] == enrollment_id and t["id"] <= upto, limit)

    def changes(self, contact_id: int, actions: Sequence[str], limit: int) -> list[dict[str, Any]]:
        return self._traces(lambda t: t["contact_id"] == contact_id and t["action"] in actions, limit)

    def enrollments(self, contact_id: int) -> list[dict[str, Any]]:
        rows = self.store.state.enrollments
        return [copy.deepcopy(rows[i]) for i in sorted(rows) if rows[i]["contact_id"] == contact_id]

    def _events(self, contact_id: int) -> list[dict[str, Any]]:
        mine = [e for e in self.store.state.events if e["contact_id"] == contact_id]
        return sorted(mine, key=lambda e: (e["occurred_at"], e["id"]), reverse=True)

    def conversion_events(self, contact_id: int, limit: int) -> list[dict[str, Any]]:
        rows = [
            e
            for e in self._events(contact_id)
            if e["name"] == "journey.converted"
            or (
                e.get("value") is not None
                and not e["name"].startswith("message.")
                and not e["name"].startswith("journey.")
            )
        ]
        return [{k: copy.deepcopy(e.get(k)) for k in EVENT_KEYS} for e in rows[:limit]]

    def credit(self, contact_id: int, at: datetime) -> dict[str, Any] | None:
        since = at - ATTRIBUTION_WINDOW
        clicks = [
            (e["properties"] or {}, e["occurred_at"])
            for e in self._events(contact_id)
            if e["name"] == "message.clicked" and since <= e["occurred_at"] <= at
        ]
        hit = last_human_click(clicks[:50])
        if hit is None or hit.get("message_id") is None:
            return None
        s = self.store.state
        o = s.outbox.get(int(hit["message_id"]))
        message = None
        if o is not None:
            journey = s.journeys.get(o["journey_id"]) if o["journey_id"] is not None else None
            message = {**o, "key": journey["key"] if journey else None}
        return credit_record(hit, message, ATTRIBUTION_WINDOW)
