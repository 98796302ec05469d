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
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=list(index_elements))
