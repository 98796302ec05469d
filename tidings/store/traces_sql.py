"""SQL of "why did this contact get this?": messages, their trace, enrolments, conversions
(the ``MessageTraces`` port, ``application/ports/journeys.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.store import schema
from tidings.store.attribution import credit

O = schema.outbox  # noqa: E741
T = schema.traces
E = schema.events


class SqlMessageTraces:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def _rows(self, q: sa.Select[Any]) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def contact_exists(self, contact_id: int) -> bool:
        c = schema.contacts
        return self.conn.execute(sa.select(c.c.id).where(c.c.id == contact_id)).first() is not None

    def journey_keys(self) -> dict[int, str]:
        j = schema.journeys
        return {int(i): str(k) for i, k in self.conn.execute(sa.select(j.c.id, j.c.key))}

    def message(self, contact_id: int, message_id: int) -> dict[str, Any] | None:
        rows = self._rows(sa.select(O).where(O.c.id == message_id, O.c.contact_id == contact_id))
        return rows[0] if rows else None

    def messages(self, contact_id: int, limit: int) -> list[dict[str, Any]]:
        return self._rows(sa.select(O).where(O.c.contact_id == contact_id).order_by(O.c.id.desc()).limit(limit))

    def trace(self, trace_id: int) -> dict[str, Any] | None:
        rows = self._rows(sa.select(T).where(T.c.id == trace_id))
        return rows[0] if rows else None

    def path(self, enrollment_id: int, upto: int, limit: int) -> list[dict[str, Any]]:
        q = sa.select(T).where(T.c.enrollment_id == enrollment_id, T.c.id <= upto)
        return self._rows(q.order_by(T.c.id.desc()).limit(limit))

    def changes(self, contact_id: int, actions: Sequence[str], limit: int) -> list[dict[str, Any]]:
        q = sa.select(T).where(T.c.contact_id == contact_id, T.c.action.in_(list(actions)))
        return self._rows(q.order_by(T.c.id.desc()).limit(limit))

    def enrollments(self, contact_id: int) -> list[dict[str, Any]]:
        e = schema.enrollments
        return self._rows(sa.select(e).where(e.c.contact_id == contact_id).order_by(e.c.id))

    def conversion_events(self, contact_id: int, limit: int) -> list[dict[str, Any]]:
        q = sa.select(E.c.id, E.c.name, E.c.properties, E.c.occurred_at, E.c.value).where(
            E.c.contact_id == contact_id,
            sa.or_(
                E.c.name == "journey.converted",
                sa.and_(
                    E.c.value.is_not(None),
                    sa.not_(E.c.name.like("message.%")),
                    sa.not_(E.c.name.like("journey.%")),
                ),
            ),
        )
        return self._rows(q.order_by(E.c.occurred_at.desc(), E.c.id.desc()).limit(limit))

    def credit(self, contact_id: int, at: datetime) -> dict[str, Any] | None:
        return credit(self.conn, contact_id, at)
