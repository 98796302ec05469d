"""Port: full-text search over contacts (name, email, phone, external id, attributes).

One meaning on every backend: the text is split on whitespace; a contact matches when every
term occurs, case-insensitively (ASCII letters), as a substring of its email, first name, last
name, phone, external id or attributes (keys and values as JSON text). Hits come newest first
(highest id first). SQLite answers from an FTS5 trigram table kept in sync by triggers,
PostgreSQL from a ``pg_trgm`` GIN index (migration 0008); tests use the in-memory twin.
"""

from __future__ import annotations

from typing import Protocol

from tidings.domain.contacts import search_terms

__all__ = ["ContactSearch", "search_terms"]


class ContactSearch(Protocol):
    def search(self, text: str, *, limit: int = 50, offset: int = 0, before: int | None = None) -> list[int]:
        """Ids of the matching contacts, newest first; a query without terms matches none.
        ``before``: only ids below it (keyset paging: pass the last id of the previous page)."""
        ...

    def count(self, text: str, *, cap: int = 10_000) -> int:
        """How many contacts match, counted up to ``cap`` (a preview count)."""
        ...
