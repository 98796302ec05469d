"""The in-memory twins of ``store/sources_sql.py``."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from tidings.domain.vendors.records import DueCheckout, SourceExists, SourceRecord
from tidings.store.memory.state import MemoryStore


class MemorySources:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def add(self, vendor: str, name: str, secret: str, abandon_after_seconds: int, now: datetime) -> int:
        for rec in self.store.state.sources.values():
            if rec.vendor == vendor and rec.name == name:
                raise SourceExists(f"a {vendor} source named {name!r} exists (id {rec.id})")
        sid = self.store.state.next_id("sources")
        self.store.state.sources[sid] = SourceRecord(sid, vendor, name, secret, abandon_after_seconds, now)
        return sid

    def get(self, source_id: int) -> SourceRecord | None:
        rec = self.store.state.sources.get(source_id)
        return replace(rec) if rec is not None else None

    def list(self, vendor: str | None = None) -> list[SourceRecord]:
        return [r for _, r in sorted(self.store.state.sources.items()) if vendor is None or r.vendor == vendor]

    def remove(self, source_id: int) -> bool:
        s = self.store.state
        for key in [k for k in s.source_checkouts if k[0] == source_id]:
            del s.source_checkouts[key]
        return s.sources.pop(source_id, None) is not None


class MemoryCheckouts:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def _row(self, source_id: int, checkout_id: str, now: datetime) -> dict[str, Any]:
        rows = self.store.state.source_checkouts
        key = (source_id, checkout_id)
        if key not in rows:
            rows[key] = {"id": self.store.state.next_id("source_checkouts"), "source_id": source_id,
                         "checkout_id": checkout_id, "email": "", "properties": {}, "seen_at": now,
                         "abandon_at": now, "completed_at": None, "abandoned_at": None}
        return rows[key]

    def watch(
        self, source_id: int, checkout_id: str, email: str, properties: Mapping[str, Any], now: datetime,
        abandon_at: datetime,
    ) -> None:
        row = self._row(source_id, checkout_id, now)
        if row["completed_at"] is None and row["abandoned_at"] is None:
            row.update(email=email, properties=copy.deepcopy(dict(properties)), seen_at=now, abandon_at=abandon_at)

    def complete(self, source_id: int, checkout_ids: Sequence[str], now: datetime) -> None:
        for checkout_id in checkout_ids:
            row = self._row(source_id, checkout_id, now)
            if row["completed_at"] is None:
                row["completed_at"] = now

    def _due_rows(self, now: datetime) -> list[dict[str, Any]]:
        rows = [r for r in self.store.state.source_checkouts.values()
                if r["abandon_at"] <= now and r["completed_at"] is None and r["abandoned_at"] is None]
        return sorted(rows, key=lambda r: (r["abandon_at"], r["id"]))

    def due(self, now: datetime, limit: int = 500) -> list[DueCheckout]:
        return [
            DueCheckout(r["id"], r["source_id"], r["checkout_id"], r["email"], copy.deepcopy(r["properties"]),
                        r["abandon_at"])
            for r in self._due_rows(now)[:limit]
        ]

    def mark_abandoned(self, ids: Sequence[int], now: datetime) -> None:
        wanted = set(ids)
        for row in self.store.state.source_checkouts.values():
            if row["id"] in wanted:
                row["abandoned_at"] = now

    def due_count(self, now: datetime) -> int:
        return len(self._due_rows(now))

    def get(self, source_id: int, checkout_id: str) -> dict[str, Any] | None:
        row = self.store.state.source_checkouts.get((source_id, checkout_id))
        return copy.deepcopy(row) if row is not None else None
