"""The ``EventIngest`` port on SQL: a request's identities and events in a few statements.

The statements are the ones ``application/ingest/ingest.py`` used to build itself: one lookup per
kind of identifier, multi-row inserts that skip what a concurrent writer took (sorted values:
concurrent PostgreSQL transactions take the unique-index locks in one order, so no deadlock),
and the fast event insert of ``ingest_sql``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.store import ingest_sql, schema
from tidings.store.upsert import insert_new_contacts, upsert_ignore

C = schema.contacts
A = schema.contact_aliases
#: the contacts columns a bulk lookup may name
IDENTIFIER_COLUMNS = ("external_id", "email", "phone")


def _pairs(result: Iterable[Any]) -> dict[Any, Any]:
    return {r[0]: r[1] for r in result}


def ids_by(conn: sa.Connection, field: str, values: Sequence[str]) -> dict[str, int]:
    """``{value: contact id}`` of the contacts whose ``field`` is one of ``values``."""
    if field not in IDENTIFIER_COLUMNS:
        raise ValueError(f"not a contact identifier: {field!r}")
    if not values:
        return {}
    col = C.c[field]
    return _pairs(conn.execute(sa.select(col, C.c.id).where(col.in_(list(values)))))


class SqlEventIngest:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def ids_by(self, field: str, values: Sequence[str]) -> dict[str, int]:
        return ids_by(self.conn, field, values)

    def insert_events(self, rows: Sequence[Mapping[str, Any]]) -> set[str]:
        return ingest_sql.insert_events(self.conn, rows if isinstance(rows, list) else list(rows))

    def enqueue(self, contact_ids: Iterable[int], now: datetime) -> None:
        ingest_sql.enqueue(self.conn, contact_ids, now)

    def alias_owners(self, kind: str, values: Sequence[str]) -> dict[str, int]:
        if not values:
            return {}
        return _pairs(
            self.conn.execute(sa.select(A.c.value, A.c.contact_id).where(A.c.kind == kind, A.c.value.in_(list(values))))
        )

    def add_identified(self, field: str, values: Sequence[str], now: datetime) -> dict[str, int]:
        if field not in IDENTIFIER_COLUMNS:
            raise ValueError(f"not a contact identifier: {field!r}")
        if not values:
            return {}
        col = C.c[field]
        return _pairs(
            insert_new_contacts(  # on Citus the identifiers' uniqueness is kept there (migration 0023)
                self.conn,
                [
                    {field: v, "attributes": {}, "anonymous": False, "created_at": now, "updated_at": now}
                    for v in sorted(values)
                ],
                returning=(col, C.c.id),
            )
        )

    def add_anonymous(self, anonymous_ids: Sequence[str], now: datetime) -> dict[str, int]:
        missing = sorted(anonymous_ids)
        if not missing:
            return {}
        conn = self.conn
        ids = list(
            conn.execute(
                sa.insert(C).returning(C.c.id, sort_by_parameter_order=True),
                [{"attributes": {}, "anonymous": True, "created_at": now, "updated_at": now} for _ in missing],
            ).scalars()
        )
        self.add_aliases("anonymous_id", dict(zip(missing, ids, strict=True)), now)
        winners = self.alias_owners("anonymous_id", missing)
        losers = [cid for a, cid in zip(missing, ids, strict=True) if winners.get(a) != cid]
        if losers:  # a concurrent request created them first
            conn.execute(sa.delete(C).where(C.c.id.in_(losers)))
        return winners

    def add_aliases(self, kind: str, owners: Mapping[str, int], now: datetime) -> None:
        if not owners:
            return
        self.conn.execute(
            upsert_ignore(self.conn, A),
            [{"kind": kind, "value": v, "contact_id": cid, "created_at": now} for v, cid in owners.items()],
        )
