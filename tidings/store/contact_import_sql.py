"""The ``ContactImport`` port on SQL: a CSV import chunk's bulk writes (``ingest_sql``'s fast inserts)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from tidings.store import ingest_sql, schema
from tidings.store.event_ingest_sql import ids_by


class SqlContactImport:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def ids_by(self, field: str, values: Sequence[str]) -> dict[str, int]:
        return ids_by(self.conn, field, values)

    def insert_contacts(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        return ingest_sql.insert_contacts(self.conn, rows)

    def insert_tags(self, rows: Sequence[Mapping[str, Any]]) -> None:
        ingest_sql.insert_plain(self.conn, schema.contact_tags, rows)

    def insert_consents(self, rows: Sequence[Mapping[str, Any]]) -> None:
        ingest_sql.insert_plain(self.conn, schema.consents, rows)

    def add_suppressions(self, rows: Sequence[Mapping[str, Any]]) -> int:
        return ingest_sql.insert_new_suppressions(self.conn, rows)
