"""The contact search port on SQL: an FTS5 trigram table on SQLite, a ``pg_trgm`` GIN index on
PostgreSQL (both created by migration 0008, kept in sync by triggers / the index itself).

``matching_ids(dialect, text)`` is the id subquery the read models of the web app combine with
their other filters; :class:`SqlContactSearch` is the port.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tidings.domain.contacts import search_terms
from tidings.store import schema

C = schema.contacts

#: the searchable text of a contact on PostgreSQL: the expression of ``ix_contacts_search_trgm``
#: (a query must spell it the same for the planner to use the index).
PG_DOC = (
    "lower(coalesce(email, '') || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '')"
    " || ' ' || coalesce(phone, '') || ' ' || coalesce(external_id, '') || ' ' || coalesce(attributes::text, ''))"
)


def sqlite_doc(row: str) -> str:
    """The searchable text of a contact on SQLite (``row`` is ``new`` in a trigger, or a table)."""
    parts = ("email", "first_name", "last_name", "phone", "external_id", "attributes")
    return "lower(" + " || ' ' || ".join(f"coalesce({row}.{p}, '')" for p in parts) + ")"


#: SQLite: the FTS5 table (and its shadow tables) the triggers keep equal to ``contacts``.
FTS_TABLE = "contacts_fts"
SQLITE_TABLES = frozenset({FTS_TABLE, *(f"{FTS_TABLE}_{s}" for s in ("data", "idx", "content", "docsize", "config"))})
SQLITE_DDL = (
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(doc, tokenize='trigram')",
    f"CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, doc) VALUES (new.id, {sqlite_doc('new')}); END",
    f"CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN "
    f"DELETE FROM {FTS_TABLE} WHERE rowid = old.id; END",
    f"CREATE TRIGGER contacts_fts_update AFTER UPDATE OF email, first_name, last_name, phone, external_id, "
    f"attributes ON contacts BEGIN UPDATE {FTS_TABLE} SET doc = {sqlite_doc('new')} WHERE rowid = new.id; END",
    f"INSERT INTO {FTS_TABLE}(rowid, doc) SELECT id, {sqlite_doc('contacts')} FROM contacts",
)
SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS contacts_fts_insert",
    "DROP TRIGGER IF EXISTS contacts_fts_delete",
    "DROP TRIGGER IF EXISTS contacts_fts_update",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
)


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


FTS = sa.table(FTS_TABLE, sa.column("rowid", sa.Integer), sa.column("doc", sa.Text))


def _sqlite_match(q: Any, terms: list[str]) -> Any:
    long = [t for t in terms if len(t) >= 3]  # the trigram index answers these
    if long:
        q = q.where(sa.text(f"{FTS_TABLE} MATCH :fts").bindparams(fts=" AND ".join(map(_phrase, long))))
    for i, t in enumerate(x for x in terms if len(x) < 3):
        q = q.where(sa.func.instr(FTS.c.doc, sa.bindparam(f"short{i}", t)) > 0)
    return q


def search_from(query: Any, dialect: str, text: str) -> tuple[Any, Any]:
    """``query`` (a SELECT over contacts) narrowed to the matches of ``text``, and the column to
    order it by, newest first. On SQLite the FTS table drives the query (joined to contacts and
    ordered by its rowid), so a term most contacts match still stops after one page."""
    terms = search_terms(text)
    if not terms:
        return query.where(sa.false()), C.c.id
    if dialect == "sqlite":
        q = query.select_from(FTS.join(C, C.c.id == FTS.c.rowid))
        return _sqlite_match(q, terms), FTS.c.rowid
    return query.where(C.c.id.in_(matching_ids(dialect, text))), C.c.id


def matching_ids(dialect: str, text: str) -> sa.Select[Any]:
    """SELECT of the ids of the contacts matching ``text`` (see the port for the meaning)."""
    terms = search_terms(text)
    if not terms:
        return sa.select(C.c.id).where(sa.false())
    if dialect == "sqlite":
        ids: sa.Select[Any] = _sqlite_match(sa.select(FTS.c.rowid.label("id")), terms)
        return ids
    doc = sa.literal_column(PG_DOC, sa.Text)
    q = sa.select(C.c.id)
    for t in terms:
        q = q.where(doc.contains(t, autoescape=True))
    return q


class SqlContactSearch:
    """The :class:`~tidings.application.ports.contact_search.ContactSearch` port on SQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def search(self, text: str, *, limit: int = 50, offset: int = 0, before: int | None = None) -> list[int]:
        q, order = search_from(sa.select(C.c.id), self.engine.dialect.name, text)
        if before is not None:
            q = q.where(order < before)
        q = q.order_by(order.desc()).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [int(i) for i in conn.execute(q).scalars()]

    def count(self, text: str, *, cap: int = 10_000) -> int:
        sub = matching_ids(self.engine.dialect.name, text).limit(cap).subquery()
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(sub)).scalar_one())
