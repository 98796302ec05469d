"""SQL of tasks, of the small settings documents (``app_state``) and of change events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.domain.statuses import TaskStatus
from tidings.store import ingest_sql, schema
from tidings.store.upsert import insert_or_ignore

T = schema.tasks
A = schema.app_state


class SqlTasks:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, values: Mapping[str, Any]) -> int:
        key = self.conn.execute(sa.insert(T).values(**values)).inserted_primary_key
        assert key is not None
        return int(key[0])

    def get(self, task_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(sa.select(T).where(T.c.id == task_id)).mappings().first()
        return dict(row) if row is not None else None

    def by_outbox(self, outbox_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(sa.select(T).where(T.c.outbox_id == outbox_id)).mappings().first()
        return dict(row) if row is not None else None

    def update(self, task_id: int, values: Mapping[str, Any]) -> None:
        self.conn.execute(sa.update(T).where(T.c.id == task_id).values(**values))

    def search(
        self,
        *,
        owner: str | None = None,
        status: str | None = None,
        team: str | None = None,
        contact_id: int | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        q = sa.select(T).order_by(T.c.due_at.is_(None), T.c.due_at, T.c.id).limit(limit)
        for column, value in ((T.c.owner, owner), (T.c.status, status), (T.c.team, team), (T.c.contact_id, contact_id)):
            if value is not None:
                q = q.where(column == value)
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def open_counts(self, owners: Sequence[str]) -> dict[str, int]:
        counts = dict.fromkeys(owners, 0)
        if not counts:
            return counts
        q = (
            sa.select(T.c.owner, sa.func.count())
            .where(T.c.owner.in_(list(counts)), T.c.status == TaskStatus.OPEN)
            .group_by(T.c.owner)
        )
        counts.update({str(owner): int(n) for owner, n in self.conn.execute(q)})
        return counts

    def escalation_candidates(self, team: str, due_before: datetime, limit: int = 500) -> list[dict[str, Any]]:
        q = (
            sa.select(T)
            .where(
                T.c.status == TaskStatus.OPEN,
                T.c.team == team,
                T.c.escalated_at.is_(None),
                T.c.due_at.is_not(None),
                T.c.due_at <= due_before,
            )
            .order_by(T.c.due_at, T.c.id)
            .limit(limit)
        )
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def mark_escalated(self, task_id: int, now: datetime, to: str | None, owner: str | None = None) -> bool:
        values: dict[str, Any] = {"escalated_at": now, "escalated_to": to}
        if owner is not None:
            values["owner"] = owner
        q = (
            sa.update(T)
            .where(T.c.id == task_id, T.c.status == TaskStatus.OPEN, T.c.escalated_at.is_(None))
            .values(**values)
        )
        return self.conn.execute(q).rowcount == 1


class SqlSettings:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def get(self, key: str) -> Any:
        return self.conn.execute(sa.select(A.c.value).where(A.c.key == key)).scalar()

    def put(self, key: str, value: Any, now: datetime) -> None:
        if self.conn.execute(sa.select(A.c.key).where(A.c.key == key)).first() is None:
            self.conn.execute(sa.insert(A).values(key=key, value=value, updated_at=now))
        else:
            self.conn.execute(sa.update(A).where(A.c.key == key).values(value=value, updated_at=now))

    def lock(self, key: str, default: Any, now: datetime) -> Any:
        self.conn.execute(insert_or_ignore(self.conn, A, {"key": key, "value": default, "updated_at": now}, ["key"]))
        return self.conn.execute(sa.select(A.c.value).where(A.c.key == key).with_for_update()).scalar()


class SqlEventLog:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def append_changes(self, events: Sequence[Mapping[str, Any]], now: datetime) -> None:
        rows = [dict(e) for e in events]
        if not rows:
            return
        ingest_sql.insert_events(self.conn, rows, known_new=True)
        ingest_sql.enqueue(self.conn, (r["contact_id"] for r in rows), now)

    def has_message_id(self, message_id: str) -> bool:
        r = schema.event_receipts
        return self.conn.execute(sa.select(r.c.event_id).where(r.c.message_id == message_id)).first() is not None
