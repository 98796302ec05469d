"""The in-memory twin of the contact search port (over ``MemoryStore.state.contacts``)."""

from __future__ import annotations

import json
from typing import Any

from tidings.domain.contacts import search_terms
from tidings.store.memory.state import MemoryStore

FIELDS = ("email", "first_name", "last_name", "phone", "external_id")


def _doc(row: dict[str, Any]) -> str:
    parts = [str(row.get(f) or "") for f in FIELDS]
    parts.append(json.dumps(row.get("attributes") or {}, ensure_ascii=False))
    return " ".join(parts).lower()


class MemoryContactSearch:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def _hits(self, text: str) -> list[int]:
        terms = search_terms(text)
        if not terms:
            return []
        with self.store.lock:
            rows = list(self.store.state.contacts.values())
        docs = [(int(r["id"]), _doc(r)) for r in rows]
        return sorted((cid for cid, d in docs if all(t in d for t in terms)), reverse=True)

    def search(self, text: str, *, limit: int = 50, offset: int = 0, before: int | None = None) -> list[int]:
        hits = [i for i in self._hits(text) if before is None or i < before]
        return hits[offset : offset + limit]

    def count(self, text: str, *, cap: int = 10_000) -> int:
        return min(len(self._hits(text)), cap)
