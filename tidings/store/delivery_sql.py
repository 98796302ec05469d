"""SQL of the outbox rows and dead letters that the application's use cases touch.

The delivery loop's own claims and leases are in ``outbox.py``, run by ``delivery_loop_sql.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.domain.statuses import OutboxStatus
from tidings.store import schema
from tidings.store.citus import for_update_by_shard
from tidings.store.upsert import upsert_ignore

O = schema.outbox  # noqa: E741
D = schema.dead_letters


class SqlOutbox:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def enqueue(self, contact_id: int, rows: Sequence[Mapping[str, Any]], now: datetime) -> None:
        for row in rows:
            values = {"contact_id": contact_id, "status": OutboxStatus.PENDING, "next_attempt_at": now}
            values["created_at"] = now
            # any unique key (the idempotency key; on Citus (key, contact_id), migration 0023)
            self.conn.execute(upsert_ignore(self.conn, O).values({**values, **row}))

    def by_idempotency_key(self, key: str) -> dict[str, Any] | None:
        row = self.conn.execute(sa.select(O).where(O.c.idempotency_key == key)).mappings().first()
        return dict(row) if row is not None else None

    def get(self, outbox_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(sa.select(O).where(O.c.id == outbox_id)).mappings().first()
        return dict(row) if row is not None else None

    def mark_dead(self, outbox_id: int, reason: str) -> None:
        self.conn.execute(
            sa.update(O)
            .where(O.c.id == outbox_id)
            .values(status=OutboxStatus.DEAD, error=reason, lease_owner=None, lease_until=None)
        )

    def requeue(self, outbox_id: int, now: datetime) -> None:
        self.conn.execute(
            sa.update(O)
            .where(O.c.id == outbox_id)
            .values(
                status=OutboxStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                error=None,
                lease_owner=None,
                lease_until=None,
            )
        )


    def skip_pending_marketing(self, contact_id: int, channel: str, reason: str) -> int:
        q = (
            sa.update(O)
            .where(
                O.c.contact_id == contact_id,
                O.c.channel == channel,
                O.c.status == OutboxStatus.PENDING,
                O.c.kind == "message",
                O.c.category != "transactional",
            )
            .values(status=OutboxStatus.SKIPPED, error=reason, lease_owner=None, lease_until=None)
        )
        return int(self.conn.execute(q).rowcount or 0)


class SqlDeadLetters:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def record(self, outbox_id: int, contact_id: int, reason: str, now: datetime) -> None:
        existing = self.conn.execute(sa.select(D.c.id).where(D.c.outbox_id == outbox_id)).first()
        if existing is None:
            self.conn.execute(
                sa.insert(D).values(outbox_id=outbox_id, contact_id=contact_id, reason=reason, created_at=now)
            )
        else:
            self.conn.execute(
                sa.update(D).where(D.c.id == existing[0]).values(reason=reason, created_at=now, retried_at=None)
            )

    def get(self, dead_letter_id: int, *, for_update: bool = False) -> dict[str, Any] | None:
        q = sa.select(D).where(D.c.id == dead_letter_id)
        rows = for_update_by_shard(self.conn, q, D) if for_update else self.conn.execute(q).mappings().all()
        return dict(rows[0]) if rows else None

    def listing(self, *, include_decided: bool, limit: int) -> list[dict[str, Any]]:
        query = (
            sa.select(
                D.c.id,
                D.c.outbox_id,
                D.c.contact_id,
                D.c.reason,
                D.c.created_at,
                D.c.retried_at,
                D.c.discarded_at,
                O.c.kind,
                O.c.channel,
                O.c.status,
                O.c.attempts,
                O.c.payload,
                O.c.step_id,
                O.c.journey_id,
                O.c.recipient,
                O.c.error,
            )
            .select_from(D.join(O, O.c.id == D.c.outbox_id, isouter=True))
            .order_by(D.c.id.desc())
            .limit(limit)
        )
        if not include_decided:
            query = query.where(D.c.retried_at.is_(None), D.c.discarded_at.is_(None))
        return [dict(r) for r in self.conn.execute(query).mappings()]

    def mark_retried(self, dead_letter_id: int, now: datetime) -> None:
        self.conn.execute(sa.update(D).where(D.c.id == dead_letter_id).values(retried_at=now))

    def mark_discarded(self, dead_letter_id: int, now: datetime) -> None:
        self.conn.execute(sa.update(D).where(D.c.id == dead_letter_id).values(discarded_at=now))
