"""The ``DataExportSource`` port on SQL: every row stored about one contact, for the personal
data export (``application/privacy/data_export.py``). Long tables (events, outbox, traces) are
read with ``yield_per`` so an export streams instead of loading them whole."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from tidings.store import schema

#: rows fetched at a time from the long tables
YIELD_PER = 500

C = schema.contacts


class SqlDataExport:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def _rows(self, q: sa.Select[Any]) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in self.conn.execute(q)]

    def _stream(self, q: sa.Select[Any]) -> Iterator[dict[str, Any]]:
        for r in self.conn.execute(q.execution_options(yield_per=YIELD_PER)):
            yield dict(r._mapping)

    def profile(self, contact_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(sa.select(C).where(C.c.id == contact_id)).first()
        if row is None:
            return None
        out = dict(row._mapping)
        t = schema.contact_tags
        out["tags"] = list(
            self.conn.execute(sa.select(t.c.tag).where(t.c.contact_id == contact_id).order_by(t.c.tag)).scalars()
        )
        return out

    def aliases(self, contact_id: int) -> list[dict[str, Any]]:
        a = schema.contact_aliases
        q = sa.select(a.c.kind, a.c.value, a.c.created_at).where(a.c.contact_id == contact_id)
        return self._rows(q.order_by(a.c.created_at, a.c.kind, a.c.value))

    def consents(self, contact_id: int) -> list[dict[str, Any]]:
        t = schema.consents
        q = sa.select(
            t.c.channel, t.c.status, t.c.source, t.c.recorded_at, t.c.proof, t.c.topics, t.c.paused_until
        ).where(t.c.contact_id == contact_id)
        return self._rows(q.order_by(t.c.channel))

    def events(self, contact_id: int) -> Iterator[dict[str, Any]]:
        e = schema.events
        q = sa.select(
            e.c.id, e.c.name, e.c.occurred_at, e.c.received_at, e.c.source, e.c.value, e.c.message_id, e.c.properties
        ).where(e.c.contact_id == contact_id)
        return self._stream(q.order_by(e.c.id))

    def messages(self, contact_id: int) -> Iterator[dict[str, Any]]:
        o, j = schema.outbox, schema.journeys
        q = (
            sa.select(
                o.c.id, o.c.kind, o.c.channel, o.c.category, o.c.template, j.c.key.label("journey"),
                o.c.journey_version, o.c.step_id, o.c.status, o.c.recipient, o.c.subject, o.c.created_at,
                o.c.sent_at, o.c.error, o.c.trace_id, o.c.rendered,
            )
            .select_from(o.outerjoin(j, j.c.id == o.c.journey_id))
            .where(o.c.contact_id == contact_id)
        )
        return self._stream(q.order_by(o.c.id))

    def traces(self, contact_id: int) -> Iterator[dict[str, Any]]:
        t, j = schema.traces, schema.journeys
        q = (
            sa.select(
                t.c.id, t.c.at, j.c.key.label("journey"), t.c.journey_version, t.c.enrollment_id, t.c.step_id,
                t.c.stimulus, t.c.action, t.c.outbox_id, t.c.detail,
            )
            .select_from(t.outerjoin(j, j.c.id == t.c.journey_id))
            .where(t.c.contact_id == contact_id)
        )
        return self._stream(q.order_by(t.c.id))

    def tasks(self, contact_id: int) -> list[dict[str, Any]]:
        t = schema.tasks
        q = sa.select(
            t.c.id, t.c.title, t.c.body, t.c.owner, t.c.team, t.c.status, t.c.due_at, t.c.created_at, t.c.completed_at
        ).where(t.c.contact_id == contact_id)
        return self._rows(q.order_by(t.c.id))

    def segments(self, contact_id: int) -> list[dict[str, Any]]:
        m, s = schema.segment_memberships, schema.segments
        q = (
            sa.select(s.c.key, s.c.name, m.c.entered_at, m.c.exited_at)
            .select_from(m.join(s, s.c.id == m.c.segment_id))
            .where(m.c.contact_id == contact_id)
        )
        return self._rows(q.order_by(m.c.entered_at, m.c.id))

    def enrolments(self, contact_id: int) -> list[dict[str, Any]]:
        e, j = schema.enrollments, schema.journeys
        q = (
            sa.select(
                e.c.id, j.c.key.label("journey"), e.c.version, e.c.status, e.c.end_reason, e.c.step_id,
                e.c.entered_at, e.c.ended_at,
            )
            .select_from(e.outerjoin(j, j.c.id == e.c.journey_id))
            .where(e.c.contact_id == contact_id)
        )
        return self._rows(q.order_by(e.c.id))

    def scores(self, contact_id: int) -> list[dict[str, Any]]:
        s, m = schema.contact_scores, schema.scoring_models
        q = (
            sa.select(m.c.key.label("model"), s.c.score, s.c.stage, s.c.updated_at)
            .select_from(s.outerjoin(m, m.c.id == s.c.model_id))
            .where(s.c.contact_id == contact_id)
        )
        return self._rows(q.order_by(s.c.model_id))
