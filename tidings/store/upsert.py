"""``INSERT ... ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL alike; contacts' unique
identifiers kept unique on Citus too (``insert_new_contacts``, ``claim_contact_keys``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tidings.store import schema
from tidings.store.citus import is_citus


def insert_or_ignore(
    conn: sa.Connection, table: sa.Table, values: Mapping[str, Any], index_elements: Sequence[str]
) -> sa.Insert:
    """An insert of ``values`` that does nothing when a row with the same ``index_elements`` exists."""
    keys = list(index_elements)
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    return sqlite.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)


def upsert_ignore(conn: sa.Connection, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` on any unique key, for this connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


#: contacts' unique identifiers: unique constraints on SQLite and PostgreSQL, plain indexes on
#: Citus (migration 0023), where ``insert_new_contacts`` and ``claim_contact_keys`` keep them unique.
CONTACT_KEYS = ("email", "phone", "external_id")
#: the ``pg_advisory_xact_lock`` key that serialises writes of contact identifiers on Citus
CONTACT_KEYS_LOCK = 0x7469_6469


class ContactKeyTaken(Exception):
    """On Citus: an update would give a contact an email, phone or external id another one has."""


def insert_new_contacts(
    conn: sa.Connection, rows: Sequence[Mapping[str, Any]], returning: Sequence[Any] = ()
) -> list[Any]:
    """Insert contacts, skipping each row whose email, phone or external id a contact already
    has (a concurrent writer's included); returns the ``returning`` columns of the rows inserted.

    SQLite and PostgreSQL: ``ON CONFLICT DO NOTHING`` on the unique keys. Citus cannot enforce a
    unique key without the distribution column (``contacts.id``), so there the writers of contact
    identifiers take one transaction lock, then look the keys up afresh and insert the rest.
    """
    C = schema.contacts
    if not rows:
        return []
    if is_citus(conn):
        _lock_contact_keys(conn)
        taken = _taken_keys(conn, rows)
        rows = [r for r in rows if not any(r.get(k) is not None and r[k] in taken[k] for k in CONTACT_KEYS)]
        if not rows:
            return []
        stmt: Any = sa.insert(C)
    else:
        stmt = upsert_ignore(conn, C)
    if returning:
        return list(conn.execute(stmt.returning(*returning), [dict(r) for r in rows]))
    conn.execute(stmt, [dict(r) for r in rows])
    return []


def claim_contact_keys(conn: sa.Connection, contact_id: int, values: Mapping[str, Any]) -> None:
    """On Citus, before ``values`` are written to contact ``contact_id``: raise ContactKeyTaken if
    another contact has one of its identifiers (what the unique keys do elsewhere)."""
    keys = {k: values[k] for k in CONTACT_KEYS if values.get(k) is not None}
    if not keys or not is_citus(conn):
        return
    _lock_contact_keys(conn)
    C = schema.contacts
    clash = conn.execute(
        sa.select(C.c.id).where(sa.or_(*(C.c[k] == v for k, v in keys.items())), C.c.id != contact_id).limit(1)
    ).first()
    if clash is not None:
        raise ContactKeyTaken(f"contact {clash[0]} already has one of {sorted(keys)}")


def _lock_contact_keys(conn: sa.Connection) -> None:
    # the two-key form: a lock space apart from the one-key contact locks (store/citus.py)
    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s, 0)", (CONTACT_KEYS_LOCK,))


def _taken_keys(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> dict[str, set[Any]]:
    C = schema.contacts
    taken: dict[str, set[Any]] = {}
    for key in CONTACT_KEYS:
        values = sorted({r[key] for r in rows if r.get(key) is not None})
        taken[key] = set(conn.execute(sa.select(C.c[key]).where(C.c[key].in_(values))).scalars()) if values else set()
    return taken
