"""The ``ContactImport`` port on SQL: a CSV import chunk's bulk writes (``ingest_sql``'s fast inserts)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa

from tidings.store import ingest_sql, schema
from tidings.store.event_ingest_sql import ids_by


class SqlContactImport:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def ids_by(self, field: str, values: Sequence[str]) -> dict[str, int]:
        return ids_by(self.conn, field, values)

    def stored(
        self, contact_ids: Sequence[int]
    ) -> tuple[dict[int, Mapping[str, Any]], dict[int, set[str]], dict[tuple[int, str], str]]:
        ids = list(contact_ids)
        rows: dict[int, Mapping[str, Any]] = {}
        tags: dict[int, set[str]] = {}
        consents: dict[tuple[int, str], str] = {}
        if not ids:
            return rows, tags, consents
        c, t, k = schema.contacts, schema.contact_tags, schema.consents
        conn = self.conn
        for r in conn.execute(sa.select(c).where(c.c.id.in_(ids))).mappings():
            rows[int(r["id"])] = cast(Mapping[str, Any], r)
        for cid, tag in conn.execute(sa.select(t.c.contact_id, t.c.tag).where(t.c.contact_id.in_(ids))):
            tags.setdefault(cid, set()).add(tag)
        for cid, channel, status in conn.execute(
            sa.select(k.c.contact_id, k.c.channel, k.c.status).where(k.c.contact_id.in_(ids))
        ):
            consents[(cid, channel)] = status
        return rows, tags, consents

    def insert_contacts(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        return ingest_sql.insert_contacts(self.conn, rows)

    def insert_tags(self, rows: Sequence[Mapping[str, Any]]) -> None:
        ingest_sql.insert_plain(self.conn, schema.contact_tags, rows)

    def insert_consents(self, rows: Sequence[Mapping[str, Any]]) -> None:
        ingest_sql.insert_plain(self.conn, schema.consents, rows)

    def add_suppressions(self, rows: Sequence[Mapping[str, Any]]) -> int:
        return ingest_sql.insert_new_suppressions(self.conn, rows)
