"""Contract of the contact search port: the same hits, in the same order, on memory, SQLite and
PostgreSQL; the SQL index follows inserts, updates and deletes."""

from __future__ import annotations

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.contract.conftest import Backend, MemoryBackend, SqlBackend
from tidings.application.ports.contact_search import ContactSearch, search_terms
from tidings.store import schema
from tidings.store.contact_search_sql import SqlContactSearch
from tidings.store.memory.contact_search import MemoryContactSearch


def _search(backend: Backend) -> ContactSearch:
    if isinstance(backend, MemoryBackend):
        return MemoryContactSearch(backend.store)
    return SqlContactSearch(backend.engine)


def _seed(backend: Backend) -> tuple[int, int, int, int]:
    ann = backend.add_contact("ann.lee@shop.test", first_name="Ann", last_name="Lee", attributes={"city": "Berlin"})
    bob = backend.add_contact("bob@mail.test", first_name="Bob", last_name="Annable", phone="+4915550001")
    joanna = backend.add_contact("jo@shop.test", first_name="Joanna", attributes={"plan": "Pro 100%"})
    zed = backend.add_contact("zed@else.test", external_id="crm-778", attributes={"city": "Paris"})
    return ann, bob, joanna, zed


def test_every_term_is_a_case_insensitive_substring_newest_first(backend: Backend) -> None:
    ann, bob, joanna, zed = _seed(backend)
    s = _search(backend)
    assert s.search("ann") == [joanna, bob, ann]  # Ann, Annable, Joanna: substrings, not words
    assert s.search("ANN shop") == [joanna, ann]  # every term must match
    assert s.search("berlin") == [ann]  # attribute values
    assert s.search("crm-778") == [zed] and s.search("+49155") == [bob]  # external id, phone
    assert s.search("100%") == [joanna]  # LIKE wildcards are plain characters
    assert s.search("_") == [] and s.search("~") == []
    assert s.search("lee jo") == []  # "jo" is in no document with "lee"
    assert s.search("jo") == [joanna]  # a two-letter term
    assert s.search("   ") == [] and s.search("nobody") == []
    assert s.search("test", limit=2) == [zed, joanna]
    assert s.search("test", limit=2, offset=2) == [bob, ann]
    assert s.search("test", limit=2, before=joanna) == [bob, ann]  # keyset paging
    assert s.search("test", before=ann) == [] and s.search("ann", before=zed + 1) == [joanna, bob, ann]
    assert s.search("test", limit=1, offset=1, before=joanna) == [ann]
    assert s.count("test") == 4 and s.count("test", cap=3) == 3 and s.count("ann") == 3


def test_the_sql_index_follows_updates_and_deletes(backend: Backend) -> None:
    if not isinstance(backend, SqlBackend):
        return
    ann, bob, _, _ = _seed(backend)
    s = _search(backend)
    c = schema.contacts
    with backend.engine.begin() as conn:
        conn.execute(sa.update(c).where(c.c.id == ann).values(last_name="Quimby", attributes={"city": "Oslo"}))
        conn.execute(sa.delete(c).where(c.c.id == bob))
    assert s.search("quimby oslo") == [ann]
    assert s.search("berlin") == [] and s.search("bob") == []


@settings(max_examples=25, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii", categories=["L", "N", "P", "Zs"]), max_size=12))
def test_terms_are_lowercase_and_unique(text: str) -> None:
    terms = search_terms(text)
    assert all(t == t.lower() and t.strip() == t and t for t in terms)
    assert len(terms) == len(set(terms)) <= 8
