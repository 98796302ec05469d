"""The ``RetentionRepository`` port on SQL: the policy (an ``app_state`` row), the rows each
retention kind may delete, deletes in bounded batches, and the run log (``retention_runs``).

What each kind protects (docs/privacy.md): events the worker has not processed; traces and
outbox rows of enrolments still running; outbox rows not in a final state, with a dead letter,
an open task, or in a campaign still sending; anonymous profiles with an identifier, recent
activity, a running enrolment, queued work or a message not yet final. Every delete re-checks
the same condition in its own statement, so a row that became protected since it was counted
stays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.domain.statuses import EnrolmentStatus, OutboxStatus, TaskStatus
from tidings.store import partitions, schema

POLICY_KEY = "retention_policy"

#: outbox statuses after which nothing will touch the row again
FINAL_OUTBOX = tuple(
    s.value
    for s in (
        OutboxStatus.SENT,
        OutboxStatus.DELIVERED,
        OutboxStatus.FAILED,
        OutboxStatus.SUPPRESSED,
        OutboxStatus.SKIPPED,
        OutboxStatus.DEAD,
    )
)
RUNNING = (EnrolmentStatus.ACTIVE.value, EnrolmentStatus.WAITING.value)
#: campaign states whose outbox rows are done with (their progress no longer moves)
CAMPAIGN_DONE = ("sent", "cancelled")

S, R = schema.app_state, schema.retention_runs
C, EV, T, OB, INBOX = schema.contacts, schema.events, schema.traces, schema.outbox, schema.inbox
ENR = schema.enrollments


def _running_enrolments() -> sa.Select[Any]:
    return sa.select(ENR.c.id).where(ENR.c.status.in_(RUNNING))


def _not_running(column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    return sa.or_(column.is_(None), column.not_in(_running_enrolments()))


def _outbox_needed() -> list[sa.ColumnElement[bool]]:
    """Outbox rows that something still reads: dead letters, open tasks, running campaigns."""
    d, t = schema.dead_letters, schema.tasks
    cr, cp = schema.campaign_recipients, schema.campaigns
    open_tasks = sa.select(t.c.outbox_id).where(t.c.status == TaskStatus.OPEN.value, t.c.outbox_id.is_not(None))
    live_campaigns = (
        sa.select(cr.c.outbox_id)
        .select_from(cr.join(cp, cp.c.id == cr.c.campaign_id))
        .where(cp.c.status.not_in(CAMPAIGN_DONE), cr.c.outbox_id.is_not(None))
    )
    return [
        OB.c.id.not_in(sa.select(d.c.outbox_id)),
        OB.c.id.not_in(open_tasks),
        OB.c.id.not_in(live_campaigns),
    ]


def _anonymous(cutoff: datetime) -> list[sa.ColumnElement[bool]]:
    """An anonymous profile with no identifier, nothing since the cut-off, nothing running."""

    def none_in(table: sa.Table, *where: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
        return ~sa.exists(sa.select(table.c.contact_id).where(table.c.contact_id == C.c.id, *where))

    return [
        C.c.anonymous.is_(True),
        C.c.email.is_(None),
        C.c.phone.is_(None),
        C.c.external_id.is_(None),
        C.c.created_at < cutoff,
        C.c.updated_at < cutoff,
        none_in(EV, sa.or_(EV.c.occurred_at >= cutoff, EV.c.received_at >= cutoff, EV.c.processed_at.is_(None))),
        none_in(ENR, ENR.c.status.in_(RUNNING)),
        none_in(schema.contact_queue),
        none_in(OB, OB.c.status.not_in(FINAL_OUTBOX)),
    ]


def candidates(kind: str, cutoff: datetime) -> tuple[sa.Table, list[sa.ColumnElement[bool]]]:
    """The table a kind deletes from and the condition of its deletable rows."""
    if kind == "events":
        return EV, [EV.c.occurred_at < cutoff, EV.c.processed_at.is_not(None)]
    if kind == "traces":
        return T, [T.c.at < cutoff, _not_running(T.c.enrollment_id)]
    if kind == "outbox":
        return OB, [
            OB.c.status.in_(FINAL_OUTBOX),
            OB.c.created_at < cutoff,
            sa.func.coalesce(OB.c.sent_at, OB.c.created_at) < cutoff,
            _not_running(OB.c.enrollment_id),
            *_outbox_needed(),
        ]
    if kind == "inbox":
        return INBOX, [INBOX.c.received_at < cutoff]
    if kind == "anonymous_contacts":
        return C, _anonymous(cutoff)
    raise ValueError(f"unknown retention kind {kind!r}")


def protected_in(kind: str, partition: str) -> sa.Select[Any]:
    """A row of one partition (every row of it older than the cut-off) that retention must keep:
    an unprocessed event; a trace of a running enrolment."""
    if kind == "events":
        part = sa.table(partition, sa.column("processed_at"))
        return sa.select(sa.literal(1)).select_from(part).where(part.c.processed_at.is_(None)).limit(1)
    if kind == "traces":
        part = sa.table(partition, sa.column("enrollment_id"))
        return (
            sa.select(sa.literal(1))
            .select_from(part)
            .where(part.c.enrollment_id.in_(_running_enrolments()))
            .limit(1)
        )
    raise ValueError(f"{kind!r} is not partitioned")


def holds_protected(conn: sa.Connection, kind: str, partition: str) -> bool:
    """Whether the partition holds a row retention must keep (``protected_in``)."""
    return conn.execute(protected_in(kind, partition)).first() is not None


def _per_contact_tables() -> list[sa.Table]:
    return [t for t in schema.metadata.sorted_tables if "contact_id" in t.c and t is not C]


class SqlRetention:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def policy_document(self) -> Mapping[str, Any] | None:
        value: Mapping[str, Any] | None = self.conn.execute(sa.select(S.c.value).where(S.c.key == POLICY_KEY)).scalar()
        return value

    def save_policy_document(self, doc: Mapping[str, Any], now: datetime) -> None:
        value = dict(doc)
        changed = sa.update(S).where(S.c.key == POLICY_KEY).values(value=value, updated_at=now)
        if not self.conn.execute(changed).rowcount:
            self.conn.execute(sa.insert(S).values(key=POLICY_KEY, value=value, updated_at=now))

    def count(self, kind: str, cutoff: datetime) -> int:
        table, where = candidates(kind, cutoff)
        return int(self.conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar() or 0)

    def delete_batch(self, kind: str, cutoff: datetime, limit: int) -> int:
        """Delete at most ``limit`` deletable rows of ``kind`` (by id, oldest ids first).

        PostgreSQL, events and traces: first every month partition entirely before the cut-off
        that holds no protected row is detached and dropped whole (its rows count, so the batch
        may report more than ``limit``); the rest is deleted row by row as everywhere.
        """
        if kind in partitions.PARTITION_KEYS and partitions.partitioned(self.conn, kind):
            dropped = self._drop_whole_months(kind, cutoff)
            if dropped:
                return dropped
        table, where = candidates(kind, cutoff)
        ids = list(self.conn.execute(sa.select(table.c.id).where(*where).order_by(table.c.id).limit(limit)).scalars())
        if not ids:
            return 0
        if kind != "anonymous_contacts":
            return self.conn.execute(sa.delete(table).where(table.c.id.in_(ids), *where)).rowcount or 0
        gone = list(self.conn.execute(sa.delete(C).where(C.c.id.in_(ids), *where).returning(C.c.id)).scalars())
        if gone:
            for t in _per_contact_tables():
                self.conn.execute(sa.delete(t).where(t.c.contact_id.in_(gone)))
        return len(gone)

    def _drop_whole_months(self, kind: str, cutoff: datetime) -> int:
        """Drop the month partitions of ``kind`` before ``cutoff`` whose every row is deletable
        (``protected_in`` finds none that is not); returns the rows they held."""
        rows = 0
        for part in partitions.months_before(self.conn, kind, cutoff):
            if not self.conn.execute(protected_in(kind, part.name)).first():
                rows += partitions.drop_partition(self.conn, kind, part.name)
        return rows

    def add_log(self, row: Mapping[str, Any]) -> int:
        key = self.conn.execute(sa.insert(R).values(**row)).inserted_primary_key
        assert key is not None
        return int(key[0])

    def log(self, limit: int) -> list[dict[str, Any]]:
        q = sa.select(R).order_by(R.c.started_at.desc(), R.c.id.desc()).limit(limit)
        return [dict(r._mapping) for r in self.conn.execute(q)]


def prune_receipts(conn: sa.Connection, before: datetime, limit: int = 10_000) -> int:
    """Delete up to ``limit`` ``event_receipts`` rows received before ``before`` (their message
    ids may then be accepted again); returns how many."""
    r = schema.event_receipts
    old = sa.select(r.c.message_id).where(r.c.received_at < before).order_by(r.c.received_at).limit(limit)
    return conn.execute(sa.delete(r).where(r.c.message_id.in_(old.scalar_subquery()))).rowcount or 0


def retention_sessions(engine: sa.Engine) -> Callable[[], AbstractContextManager[SqlRetention]]:
    """The ``RetentionSessions`` of an engine: one transaction per block, committed at its end."""

    @contextmanager
    def session() -> Iterator[SqlRetention]:
        with engine.begin() as conn:
            yield SqlRetention(conn)

    return session
