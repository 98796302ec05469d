"""SQL of the vendor sources and their watched checkouts (the ``application.ports.sources`` port)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.domain.vendors.records import DueCheckout, SourceExists, SourceRecord
from tidings.store.schema_sources import source_checkouts, sources
from tidings.store.upsert import insert_or_ignore

S = sources
K = source_checkouts


def _record(row: Any) -> SourceRecord:
    return SourceRecord(row.id, row.vendor, row.name, row.secret, row.abandon_after_seconds, row.created_at)


class SqlSources:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, vendor: str, name: str, secret: str, abandon_after_seconds: int, now: datetime) -> int:
        taken = self.conn.execute(sa.select(S.c.id).where(S.c.vendor == vendor, S.c.name == name)).first()
        if taken is not None:
            raise SourceExists(f"a {vendor} source named {name!r} exists (id {taken.id})")
        values = {"vendor": vendor, "name": name, "secret": secret,
                  "abandon_after_seconds": abandon_after_seconds, "created_at": now}
        key = self.conn.execute(insert_or_ignore(self.conn, S, values, ["vendor", "name"])).inserted_primary_key
        if not key or key[0] is None:  # a concurrent writer took the name
            raise SourceExists(f"a {vendor} source named {name!r} exists")
        return int(key[0])

    def get(self, source_id: int) -> SourceRecord | None:
        row = self.conn.execute(sa.select(S).where(S.c.id == source_id)).first()
        return _record(row) if row is not None else None

    def list(self, vendor: str | None = None) -> list[SourceRecord]:
        q = sa.select(S).order_by(S.c.id)
        if vendor is not None:
            q = q.where(S.c.vendor == vendor)
        return [_record(r) for r in self.conn.execute(q)]

    def remove(self, source_id: int) -> bool:
        self.conn.execute(sa.delete(K).where(K.c.source_id == source_id))
        return bool(self.conn.execute(sa.delete(S).where(S.c.id == source_id)).rowcount)


class SqlCheckouts:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def watch(
        self, source_id: int, checkout_id: str, email: str, properties: Mapping[str, Any], now: datetime,
        abandon_at: datetime,
    ) -> None:
        values = {"source_id": source_id, "checkout_id": checkout_id, "email": email,
                  "properties": dict(properties), "seen_at": now, "abandon_at": abandon_at}
        self.conn.execute(insert_or_ignore(self.conn, K, values, ["source_id", "checkout_id"]))
        self.conn.execute(
            sa.update(K)
            .where(K.c.source_id == source_id, K.c.checkout_id == checkout_id,
                   K.c.completed_at.is_(None), K.c.abandoned_at.is_(None))
            .values(email=email, properties=dict(properties), seen_at=now, abandon_at=abandon_at)
        )

    def complete(self, source_id: int, checkout_ids: Sequence[str], now: datetime) -> None:
        for checkout_id in checkout_ids:
            values = {"source_id": source_id, "checkout_id": checkout_id, "email": "", "properties": {},
                      "seen_at": now, "abandon_at": now, "completed_at": now}
            self.conn.execute(insert_or_ignore(self.conn, K, values, ["source_id", "checkout_id"]))
            self.conn.execute(
                sa.update(K)
                .where(K.c.source_id == source_id, K.c.checkout_id == checkout_id, K.c.completed_at.is_(None))
                .values(completed_at=now)
            )

    def _due(self, now: datetime) -> Any:
        return sa.and_(K.c.abandon_at <= now, K.c.completed_at.is_(None), K.c.abandoned_at.is_(None))

    def due(self, now: datetime, limit: int = 500) -> list[DueCheckout]:
        rows = self.conn.execute(
            sa.select(K).where(self._due(now)).order_by(K.c.abandon_at, K.c.id).limit(limit)
        )
        return [DueCheckout(r.id, r.source_id, r.checkout_id, r.email, r.properties, r.abandon_at) for r in rows]

    def mark_abandoned(self, ids: Sequence[int], now: datetime) -> None:
        if ids:
            self.conn.execute(sa.update(K).where(K.c.id.in_(list(ids))).values(abandoned_at=now))

    def due_count(self, now: datetime) -> int:
        return int(self.conn.execute(sa.select(sa.func.count()).where(self._due(now))).scalar_one())

    def get(self, source_id: int, checkout_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            sa.select(K).where(K.c.source_id == source_id, K.c.checkout_id == checkout_id)
        ).mappings().first()
        return dict(row) if row is not None else None
