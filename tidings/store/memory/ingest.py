"""The in-memory twin of the ``EventIngest`` port (same meaning as ``store/event_ingest_sql.py``)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tidings.store import schema
from tidings.store.memory.contacts import MemoryContacts
from tidings.store.memory.state import MemoryState, MemoryStore, blank_row

IDENTIFIER_COLUMNS = ("external_id", "email", "phone")


class MemoryEventIngest:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._contacts = MemoryContacts(store)

    @property
    def _s(self) -> MemoryState:
        return self.store.state

    def ids_by(self, field: str, values: Sequence[str]) -> dict[str, int]:
        if field not in IDENTIFIER_COLUMNS:
            raise ValueError(f"not a contact identifier: {field!r}")
        wanted = set(values)
        return {c[field]: cid for cid, c in self._s.contacts.items() if c.get(field) in wanted}

    def insert_events(self, rows: Sequence[Mapping[str, Any]]) -> set[str]:
        s = self._s
        stored = {e.get("message_id") for e in s.events}
        inserted: set[str] = set()
        for row in rows:
            mid = row["message_id"]
            if mid in stored:
                continue
            stored.add(mid)
            inserted.add(mid)
            s.events.append(blank_row(schema.events) | copy.deepcopy(dict(row)) | {"id": s.next_id("events")})
        return inserted

    def enqueue(self, contact_ids: Iterable[int], now: datetime) -> None:
        self._s.queued_contacts.update(int(c) for c in contact_ids)

    def alias_owners(self, kind: str, values: Sequence[str]) -> dict[str, int]:
        aliases = self._s.contact_aliases
        return {v: int(aliases[(kind, v)]["contact_id"]) for v in values if (kind, v) in aliases}

    def add_identified(self, field: str, values: Sequence[str], now: datetime) -> dict[str, int]:
        if field not in IDENTIFIER_COLUMNS:
            raise ValueError(f"not a contact identifier: {field!r}")
        created: dict[str, int] = {}
        for v in sorted(set(values)):
            cid = self._contacts.insert(
                {field: v, "attributes": {}, "anonymous": False, "created_at": now, "updated_at": now}
            )
            if cid is not None:
                created[v] = cid
        return created

    def add_anonymous(self, anonymous_ids: Sequence[str], now: datetime) -> dict[str, int]:
        owners: dict[str, int] = {}
        for a in sorted(set(anonymous_ids)):
            owner = self._contacts.alias_owner("anonymous_id", a)
            if owner is None:
                row = {"attributes": {}, "anonymous": True, "created_at": now, "updated_at": now}
                owner = self._contacts.insert(row)
                if owner is None:  # pragma: no cover - an anonymous row has no unique identifier
                    raise RuntimeError("an anonymous contact could not be inserted")
                self._contacts.add_alias("anonymous_id", a, owner, now)
            owners[a] = owner
        return owners

    def add_aliases(self, kind: str, owners: Mapping[str, int], now: datetime) -> None:
        for value, cid in owners.items():
            self._contacts.add_alias(kind, value, cid, now)
