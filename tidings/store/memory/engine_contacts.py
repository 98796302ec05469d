"""In-memory twin of ``SqlEngineContacts`` (``store/engine_sql.py``): the ``EngineContacts`` port,
what journey effects change on contacts, over the ``MemoryState`` the other repositories share."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tidings.domain.statuses import TaskStatus
from tidings.store.memory.state import MemoryStore

#: the columns ``fields`` reads
FIELDS = ("attributes", "lifecycle_stage", "score", "owner")


class MemoryEngineContacts:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def fields(self, contact_id: int) -> dict[str, Any] | None:
        row = self.store.state.contacts.get(contact_id)
        return None if row is None else {k: copy.deepcopy(row.get(k)) for k in FIELDS}

    def update(self, contact_id: int, values: Mapping[str, Any], now: datetime) -> None:
        row = self.store.state.contacts.get(contact_id)
        if row is not None:  # as the SQL update: no such contact, no row changed
            row.update(copy.deepcopy(dict(values)) | {"updated_at": now})

    def tags(self, contact_id: int) -> set[str]:
        return set(self.store.state.contact_tags.get(contact_id, []))

    def add_tag(self, contact_id: int, tag: str, now: datetime) -> None:
        tags = self.store.state.contact_tags.setdefault(contact_id, [])
        if tag in tags:
            raise KeyError(f"contact {contact_id} has tag {tag!r}")  # the SQL twin's primary key refuses it too
        tags.append(tag)

    def remove_tag(self, contact_id: int, tag: str) -> None:
        tags = self.store.state.contact_tags.get(contact_id)
        if tags is not None and tag in tags:
            tags.remove(tag)

    def team_members(self, team: str) -> list[str]:
        users = sorted(self.store.state.users.items())
        return [u.email for _, u in users if u.team == team and u.disabled_at is None]

    def owner_loads(self, owners: Sequence[str]) -> dict[str, int]:
        wanted = set(owners)
        s = self.store.state
        out: dict[str, int] = {}
        open_tasks = (t["owner"] for t in s.tasks.values() if t["status"] == TaskStatus.OPEN)
        owned = (c.get("owner") for c in s.contacts.values())
        for owner in (*open_tasks, *owned):
            if owner in wanted:
                out[str(owner)] = out.get(str(owner), 0) + 1
        return out
