"""SQL of the contacts capability's repositories: consent per channel (the preference centre)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from tidings.store import schema

K = schema.consents


class SqlConsents:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def get(self, contact_id: int, channel: str) -> dict[str, Any] | None:
        q = sa.select(K).where(K.c.contact_id == contact_id, K.c.channel == channel)
        row = self.conn.execute(q).mappings().first()
        return dict(row) if row is not None else None

    def of_contact(self, contact_id: int) -> list[dict[str, Any]]:
        q = sa.select(K).where(K.c.contact_id == contact_id).order_by(K.c.channel)
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def add(self, contact_id: int, channel: str, values: Mapping[str, Any]) -> None:
        self.conn.execute(sa.insert(K).values(topics={}, **values, contact_id=contact_id, channel=channel))

    def update(self, contact_id: int, channel: str, values: Mapping[str, Any]) -> None:
        q = sa.update(K).where(K.c.contact_id == contact_id, K.c.channel == channel).values(**values)
        self.conn.execute(q)
