"""SQL read models of the HTTP API's read-only routes (messages, inbox, journeys' versions and
enrolments, the test clock's pending work): the queries ``tidings/api`` used to build itself.

``SqlApiReads(conn)`` answers on the caller's connection; it implements
``tidings.application.ports.readmodels.ApiReads``. Rows are plain dicts (``RowMapping`` turned
into ``dict``), so the routes shape them exactly as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.store import schema
from tidings.store.campaigns_sql import pending_campaign_work
from tidings.store.sources_sql import SqlCheckouts


class SqlApiReads:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    # ------------------------------------------------------------------ system

    def ping(self) -> None:
        self.conn.execute(sa.text("SELECT 1"))

    def pending_work(self, now: datetime) -> dict[str, int]:
        """How much work is due and not yet done: queued contacts, due timers, due deliveries."""
        conn = self.conn
        q = schema.contact_queue
        t = schema.timers
        o = schema.outbox
        return {
            "queued_contacts": conn.execute(sa.select(sa.func.count()).select_from(q)).scalar_one(),
            "due_timers": conn.execute(sa.select(sa.func.count()).where(t.c.due_at <= now)).scalar_one(),
            "due_deliveries": conn.execute(
                sa.select(sa.func.count()).where(o.c.status.in_(("pending", "sending")), o.c.next_attempt_at <= now)
            ).scalar_one(),
            # time-relative segments the scheduled refresher must re-evaluate (issue: segments)
            "due_segment_refreshes": conn.execute(
                sa.select(sa.func.count()).where(schema.segments.c.next_refresh_at <= now)
            ).scalar_one(),
            # watched checkouts whose quiet period is over: Cart Abandoned is due (vendor sources)
            "due_abandoned_checkouts": SqlCheckouts(conn).due_count(now),
            # campaigns to start, enqueue, decide or finish (issue: campaigns)
            "due_campaigns": pending_campaign_work(conn, now),
        }

    def next_timer_due(self) -> datetime | None:
        value: datetime | None = self.conn.execute(sa.select(sa.func.min(schema.timers.c.due_at))).scalar_one_or_none()
        return value

    # ------------------------------------------------------------------ inbox

    def inbox_page(
        self, *, channel: str | None, recipient: str | None, limit: int, before: int | None
    ) -> list[dict[str, Any]]:
        """Inbox summaries newest first (no bodies)."""
        t = schema.inbox
        q = (
            sa.select(t.c.id, t.c.channel, t.c.sender, t.c.recipient, t.c.subject, t.c.message_ref, t.c.received_at)
            .order_by(t.c.id.desc())
            .limit(limit)
        )
        if channel:
            q = q.where(t.c.channel == channel)
        if recipient:
            q = q.where(t.c.recipient == recipient)
        if before:
            q = q.where(t.c.id < before)
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def inbox_item(self, item_id: int) -> dict[str, Any] | None:
        t = schema.inbox
        row = self.conn.execute(sa.select(t).where(t.c.id == item_id)).mappings().first()
        return dict(row) if row is not None else None

    # ------------------------------------------------------------------ messages

    def messages_page(
        self, fields: Sequence[str], filters: dict[str, Any], *, limit: int, before: int | None
    ) -> list[dict[str, Any]]:
        """Outbox rows (only ``fields``) newest first; ``filters`` are column == value."""
        o = schema.outbox
        q = sa.select(*(o.c[f] for f in fields)).order_by(o.c.id.desc()).limit(limit)
        for col, value in filters.items():
            if value is not None:
                q = q.where(o.c[col] == value)
        if before:
            q = q.where(o.c.id < before)
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def message(self, message_id: int) -> dict[str, Any] | None:
        o = schema.outbox
        row = self.conn.execute(sa.select(o).where(o.c.id == message_id)).mappings().first()
        return dict(row) if row is not None else None

    def message_events(self, contact_id: int, since: datetime) -> list[dict[str, Any]]:
        """The contact's ``message.*`` events since ``since``, in id order."""
        e = schema.events
        q = (
            sa.select(e.c.id, e.c.name, e.c.properties, e.c.occurred_at)
            .where(e.c.contact_id == contact_id, e.c.name.like("message.%"), e.c.occurred_at >= since)
            .order_by(e.c.id)
        )
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def message_traces(self, contact_id: int, message_id: int) -> list[dict[str, Any]]:
        tr = schema.traces
        q = (
            sa.select(tr.c.id, tr.c.action, tr.c.detail, tr.c.stimulus, tr.c.at)
            .where(tr.c.contact_id == contact_id, tr.c.outbox_id == message_id)
            .order_by(tr.c.id)
        )
        return [dict(r) for r in self.conn.execute(q).mappings()]

    # ------------------------------------------------------------------ journeys

    def journey_version(self, journey_id: int, version: int) -> dict[str, Any] | None:
        v = schema.journey_versions
        row = (
            self.conn.execute(sa.select(v).where(v.c.journey_id == journey_id, v.c.version == version))
            .mappings()
            .first()
        )
        return dict(row) if row is not None else None

    def enrollments_page(
        self, journey_id: int, *, status: str | None, step: str | None, after_id: int, limit: int
    ) -> list[dict[str, Any]]:
        e = schema.enrollments
        q = sa.select(e).where(e.c.journey_id == journey_id, e.c.id > after_id)
        if status:
            q = q.where(e.c.status == status)
        if step:
            q = q.where(e.c.step_id == step)
        return [dict(r) for r in self.conn.execute(q.order_by(e.c.id).limit(limit)).mappings()]

    def enrollment(self, enrollment_id: int) -> dict[str, Any] | None:
        """The enrolment with its journey's key (``journey_key``)."""
        e, j = schema.enrollments, schema.journeys
        q = sa.select(e, j.c.key.label("journey_key")).join(j, j.c.id == e.c.journey_id).where(e.c.id == enrollment_id)
        row = self.conn.execute(q).mappings().first()
        return dict(row) if row is not None else None
