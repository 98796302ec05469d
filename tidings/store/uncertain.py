"""SQL of the operator's decisions on messages: uncertain ones listed, marked sent or resent.

``SqlUncertainMessages`` implements ``application.delivery.uncertain.UncertainMessages``.
Every decision is one conditional ``UPDATE ... WHERE status IN (...) RETURNING``: a row changes
once however many operators (or requests) decide at the same moment, and a message that was
already sent (or is pending again) is never touched, so a resend cannot duplicate a sent one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.domain.statuses import OutboxStatus
from tidings.store import schema
from tidings.store.outbox import Outcome, finish

o, tr, c = schema.outbox, schema.traces, schema.contacts


def list_uncertain(conn: sa.Connection, *, limit: int = 500, after_id: int = 0) -> list[dict[str, Any]]:
    """Uncertain messages, oldest first: channel, provider, contact, hand-off time, reason."""
    provider = (
        sa.select(tr.c.detail)
        .where(tr.c.contact_id == o.c.contact_id, tr.c.outbox_id == o.c.id, tr.c.action == "message.uncertain")
        .order_by(tr.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    q = (
        sa.select(
            o.c.id, o.c.contact_id, o.c.channel, o.c.template, o.c.journey_id, o.c.step_id, o.c.recipient,
            o.c.subject, o.c.error, o.c.attempts, o.c.created_at, o.c.handed_off_at,
            c.c.email, c.c.phone, provider.label("trace_detail"),
        )
        .select_from(o.outerjoin(c, c.c.id == o.c.contact_id))
        .where(o.c.status == OutboxStatus.UNCERTAIN, o.c.id > after_id)
        .order_by(o.c.id)
        .limit(limit)
    )
    out = []
    for r in conn.execute(q).mappings():
        row = dict(r)
        detail = row.pop("trace_detail") or {}
        row["provider"] = detail.get("provider") if isinstance(detail, dict) else None
        out.append(row)
    return out


def count_uncertain(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).where(o.c.status == OutboxStatus.UNCERTAIN)).scalar_one())


def _ids_filter(ids: Sequence[int] | None) -> list[Any]:
    return [] if ids is None else [o.c.id.in_(list(ids))]


def take_for_resend(
    conn: sa.Connection, ids: Sequence[int] | None, *, statuses: Sequence[str], now: datetime, reason: str
) -> list[dict[str, Any]]:
    """Rows in ``statuses`` (all of them when ``ids`` is None) back to ``pending``, due now."""
    if ids is not None and not ids:
        return []
    rows = conn.execute(
        sa.update(o)
        .where(o.c.status.in_(list(statuses)), *_ids_filter(ids))
        .values(
            status=OutboxStatus.PENDING,
            next_attempt_at=now,
            lease_owner=None,
            lease_until=None,
            handed_off_at=None,
            error=reason,
        )
        .returning(*o.c)
    )
    return [dict(r) for r in rows.mappings()]


def take_for_mark_sent(conn: sa.Connection, ids: Sequence[int] | None) -> list[dict[str, Any]]:
    """Uncertain rows (all when ``ids`` is None) to ``sent``; the caller records their events."""
    if ids is not None and not ids:
        return []
    rows = conn.execute(
        sa.update(o)
        .where(o.c.status == OutboxStatus.UNCERTAIN, *_ids_filter(ids))
        .values(status=OutboxStatus.SENT, error="marked as sent by an operator (was uncertain)")
        .returning(*o.c)
    )
    return [dict(r) for r in rows.mappings()]


def statuses_of(conn: sa.Connection, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {int(i): str(s) for i, s in conn.execute(sa.select(o.c.id, o.c.status).where(o.c.id.in_(list(ids))))}


class SqlUncertainMessages:
    """The uncertain-message port on one connection (the caller owns the transaction)."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def uncertain(self, *, limit: int) -> list[dict[str, Any]]:
        return list_uncertain(self.conn, limit=limit)

    def count_uncertain(self) -> int:
        return count_uncertain(self.conn)

    def resend(
        self, ids: Sequence[int] | None, *, statuses: Sequence[str], now: datetime, reason: str
    ) -> list[int]:
        rows = take_for_resend(self.conn, ids, statuses=statuses, now=now, reason=reason)
        finish(self.conn, [Outcome(r, OutboxStatus.PENDING, error=r["error"], next_attempt_at=now,
                                   trace_action="message.resent") for r in rows], now)
        return [int(r["id"]) for r in rows]

    def mark_sent(self, ids: Sequence[int] | None, *, now: datetime) -> list[int]:
        rows = take_for_mark_sent(self.conn, ids)
        finish(self.conn, [Outcome(r, OutboxStatus.SENT, error=r["error"], extra={"marked_by_operator": True},
                                   trace_action="message.marked_sent") for r in rows], now)  # message.sent
        return [int(r["id"]) for r in rows]

    def statuses(self, ids: Sequence[int]) -> dict[int, str]:
        return statuses_of(self.conn, ids)
