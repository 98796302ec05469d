"""Is this database a Citus coordinator? (docs/scale-out.md, "Citus").

Migration 0023 distributes the contact-keyed tables whenever the ``citus`` extension is
installed, so "the extension exists" and "the tables are distributed" are one fact. The answer
is read once per engine (a database does not become a Citus cluster while the app runs).
"""

from __future__ import annotations

import weakref
from typing import Any

import sqlalchemy as sa

#: the class (first key) of the worker's contact locks on Citus (``lock_contacts_statement``)
CONTACT_LOCKS = 0x7469_6470

_ANSWERS: weakref.WeakKeyDictionary[sa.Engine, bool] = weakref.WeakKeyDictionary()
_SHARDED: weakref.WeakKeyDictionary[sa.Engine, frozenset[str]] = weakref.WeakKeyDictionary()


def is_citus(conn: sa.Connection) -> bool:
    """True on a Citus coordinator: queries must then avoid multi-shard ``FOR UPDATE``."""
    if conn.dialect.name != "postgresql":
        return False
    engine = conn.engine
    answer = _ANSWERS.get(engine)
    if answer is None:
        found = conn.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'citus'").first()
        answer = _ANSWERS[engine] = found is not None
    return answer


def lock_contacts_statement(ids: list[int]) -> tuple[str, tuple[int, list[int]]]:
    """Citus: the transaction locks that serialise work on these contacts across workers.

    Citus runs ``FOR UPDATE`` on single-shard queries only, so the contacts' row locks
    (PostgreSQL) become transaction advisory locks keyed by contact id, taken in ascending order
    (no deadlock between workers). They serialise the workers with each other, not with plain
    updates of the contacts rows.
    """
    # the two-key form, in a class of its own: the one-key locks by contact id are the queue's
    # (store/queue.py: ingest announces its events with them), the class CONTACT_KEYS_LOCK
    # serialises contact creation (store/upsert.py). Ids past 2^31 share a key with another id:
    # at worst two contacts wait for each other.
    return (
        "SELECT pg_advisory_xact_lock(%s, (x %% 2147483647)::int) FROM unnest(%s::bigint[]) AS x ORDER BY x",
        (CONTACT_LOCKS, sorted(set(ids))),
    )


def sharded_tables(conn: sa.Connection) -> frozenset[str]:
    """Names of the tables of this schema distributed by hash (empty unless on Citus)."""
    if not is_citus(conn):
        return frozenset()
    engine = conn.engine
    names = _SHARDED.get(engine)
    if names is None:
        rows = conn.exec_driver_sql(
            "SELECT c.relname FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid "
            "WHERE p.partmethod = 'h' AND c.relnamespace = current_schema()::regnamespace"
        ).scalars()
        names = _SHARDED[engine] = frozenset(rows)
    return names


def for_update_by_shard(conn: sa.Connection, query: sa.Select[Any], table: sa.Table) -> list[Any]:
    """``query`` (rows of ``table``) with their rows locked ``FOR UPDATE``.

    PostgreSQL: one locking query. Citus locks rows only in single-shard queries, so the rows
    are found first and each is then locked by a query naming its ``contact_id`` (its shard).
    """
    if table.name not in sharded_tables(conn):
        return list(conn.execute(query.with_for_update()).mappings())
    found = list(conn.execute(query).mappings())
    locked = []
    for row in found:
        again = (
            sa.select(table)
            .where(table.c.id == row["id"], table.c.contact_id == row["contact_id"])
            .with_for_update()
        )
        fresh = conn.execute(again).mappings().first()
        if fresh is not None:
            locked.append(fresh)
    return locked
