"""Use case: list contacts that match a full-text search, through the ``ContactSearch`` port.

The API's ``GET /api/contacts?q=`` and ``tidings contacts list --q`` read this, the same search
as the web contacts page: every term a case-insensitive substring of email, names, phone,
external id or attributes (``application/ports/contact_search.py``). Hits come newest first;
the other filters (tag, stage, owner, creation dates) narrow each chunk of hits, and a page is
keyset-paged by the last id looked at, so it stays stable while contacts are added.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

from tidings.application.contacts.contacts import ContactFilter, get_contacts
from tidings.application.ports.contact_search import ContactSearch
from tidings.application.ports.contacts import ContactsUnitOfWork
from tidings.domain.contacts import InvalidValue

#: hits asked of the port at a time, and how many a page may look at before it answers with
#: what it found (fewer than ``limit`` when the other filters drop most hits) and a cursor.
CHUNK = 500
SCAN_LIMIT = 20_000


def encode_search_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"s{last_id}".encode()).decode().rstrip("=")


def decode_search_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("s"):
            raise ValueError
        return int(raw[1:])
    except (ValueError, UnicodeDecodeError):
        raise InvalidValue(
            "cursor", "invalid cursor for a search (pass back the next_cursor of the same search)"
        ) from None


def _others(f: ContactFilter) -> bool:
    return any((f.tag, f.stage, f.owner, f.created_after, f.created_before, not f.include_anonymous))


def search_contacts(
    uow: ContactsUnitOfWork,
    search: ContactSearch,
    text: str,
    f: ContactFilter = ContactFilter(),
    *,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the contacts matching ``text`` and the filter ``f`` (its ``q`` is ignored),
    newest first, and the cursor of the next page (``None`` on the last one)."""
    before = decode_search_cursor(cursor) if cursor else None
    f = replace(f, q=None)
    found: list[int] = []
    scanned = 0
    while len(found) <= limit and scanned < SCAN_LIMIT:
        chunk = search.search(text, limit=CHUNK if _others(f) else limit + 1 - len(found), before=before)
        if not chunk:
            return get_contacts(uow, found), None
        scanned += len(chunk)
        if _others(f):
            keep = uow.contacts.matching(chunk, f)
            chunk_found = [i for i in chunk if i in keep]
        else:
            chunk_found = chunk
        for i in chunk_found:
            found.append(i)
            if len(found) > limit:
                page = found[:limit]
                return get_contacts(uow, page), encode_search_cursor(page[-1])
        before = chunk[-1]
    if before is None:
        return get_contacts(uow, found), None
    return get_contacts(uow, found), encode_search_cursor(before)  # looked at enough for one page
