"""``INSERT ... ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


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
