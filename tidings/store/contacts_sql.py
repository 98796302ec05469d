"""SQL of the contacts capability's repositories: consent per channel (the preference centre) and
the suppression list."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
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


S = schema.suppressions


class SqlSuppressions:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def has(self, channel: str, address: str) -> bool:
        q = sa.select(S.c.address).where(S.c.channel == channel, S.c.address == address)
        return self.conn.execute(q).first() is not None

    def add(self, channel: str, address: str, reason: str, detail: Mapping[str, Any], now: datetime) -> bool:
        if self.has(channel, address):
            return False
        self.conn.execute(
            sa.insert(S).values(channel=channel, address=address, reason=reason, detail=dict(detail), created_at=now)
        )
        return True

    def lift(self, channel: str, address: str, reason: str) -> None:
        self.conn.execute(sa.delete(S).where(S.c.channel == channel, S.c.address == address, S.c.reason == reason))
