"""SQL of the control capability: enrolment causes, alerts, the control settings (policy, pauses).

:class:`SqlControl` implements ``application/ports/control.ControlRepository`` on one connection.

Settings live in ``app_state`` under ``control.policy`` (the send policy document) and
``control.sending`` (the kill switch: ``{"all": bool, "channels": [...], "by": ..., "at": ...}``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tidings.domain.control import POLICY_KEY, SENDING_KEY
from tidings.domain.statuses import EnrolmentStatus, JourneyStatus
from tidings.store import schema

__all__ = ["POLICY_KEY", "SENDING_KEY", "SqlControl", "paused_channels"]


C, A, S = schema.enrollment_causes, schema.alerts, schema.app_state


class SqlControl:
    """The control repository on one connection (the caller's transaction)."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    # --------------------------------------------------------------------------- settings

    def get_setting(self, key: str) -> Any:
        return self.conn.execute(sa.select(S.c.value).where(S.c.key == key)).scalar()

    def put_setting(self, key: str, value: Any, now: datetime) -> None:
        done = self.conn.execute(sa.update(S).where(S.c.key == key).values(value=value, updated_at=now)).rowcount
        if not done:
            self.conn.execute(sa.insert(S).values(key=key, value=value, updated_at=now))

    # --------------------------------------------------------------------------- causes

    def parent_of(self, enrollment_id: int) -> Mapping[Any, Any] | None:
        """The parent enrolment's journey key, entry time and chain (None when it has no cause row)."""
        e, j = schema.enrollments, schema.journeys
        q = (
            sa.select(e.c.id, e.c.entered_at, j.c.key, C.c.chain)
            .select_from(e.join(j, j.c.id == e.c.journey_id).outerjoin(
                # contact_id too: co-located on Citus (migration 0023)
                C, sa.and_(C.c.enrollment_id == e.c.id, C.c.contact_id == e.c.contact_id)))
            .where(e.c.id == enrollment_id)
        )
        return self.conn.execute(q).mappings().first()

    def insert_cause(self, row: Mapping[str, Any]) -> None:
        self.conn.execute(sa.insert(C).values(**row))

    def enrolments_caused_by(self, kind: str, value: str) -> list[int]:
        """Enrolments whose cause is ``(kind, value)``, and every enrolment they caused in turn."""
        found = list(
            self.conn.execute(sa.select(C.c.enrollment_id).where(C.c.kind == kind, C.c.value == value)).scalars()
        )
        seen = set(found)
        frontier = found
        while frontier:
            nxt = [
                int(i)
                for i in self.conn.execute(
                    sa.select(C.c.enrollment_id).where(C.c.parent_enrollment_id.in_(frontier))
                ).scalars()
                if int(i) not in seen
            ]
            seen.update(nxt)
            frontier = nxt
        return sorted(seen)

    def live_enrolments(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """Of ``ids``, those still running, with their contact and journey key."""
        if not ids:
            return []
        e, j = schema.enrollments, schema.journeys
        q = (
            sa.select(e.c.id, e.c.contact_id, e.c.journey_id, e.c.version, e.c.step_id, e.c.state, j.c.key)
            .select_from(e.join(j, j.c.id == e.c.journey_id))
            .where(e.c.id.in_(list(ids)), e.c.status != EnrolmentStatus.ENDED)
            .order_by(e.c.id)
        )
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def end_enrolments(self, rows: Iterable[Mapping[str, Any]], reason: str, now: datetime) -> None:
        e, t = schema.enrollments, schema.timers
        for r in rows:
            state = dict(r["state"] or {})
            state.update(status=EnrolmentStatus.ENDED, end_reason=reason, waiting=None)
            self.conn.execute(
                sa.update(e)
                .where(e.c.id == r["id"])
                .values(status=EnrolmentStatus.ENDED, end_reason=reason, state=state, updated_at=now, ended_at=now)
            )
            self.conn.execute(sa.delete(t).where(t.c.enrollment_id == r["id"]))
            o = schema.outbox
            self.conn.execute(
                sa.update(o)
                .where(o.c.enrollment_id == r["id"], o.c.status == "pending")
                .values(status="skipped", error=f"enrolment {reason}")
            )

    def insert_traces(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self.conn.execute(sa.insert(schema.traces), [dict(r) for r in rows])

    # --------------------------------------------------------------------------- alerts

    def raise_alert(
        self,
        *,
        kind: str,
        severity: str,
        fingerprint: str,
        message: str,
        detail: Mapping[str, Any],
        contact_id: int | None,
        now: datetime,
    ) -> tuple[int, bool]:
        """One open alert per fingerprint: a repeat counts up. Returns (id, created)."""
        row = self.conn.execute(
            sa.select(A.c.id).where(A.c.fingerprint == fingerprint, A.c.acknowledged_at.is_(None)).limit(1)
        ).first()
        if row is not None:
            self.conn.execute(
                sa.update(A)
                .where(A.c.id == row[0])
                .values(count=A.c.count + 1, last_at=now, detail=dict(detail), contact_id=contact_id)
            )
            return int(row[0]), False
        new = self.conn.execute(
            sa.insert(A)
            .values(
                kind=kind,
                severity=severity,
                fingerprint=fingerprint[:400],
                message=message,
                detail=dict(detail),
                count=1,
                contact_id=contact_id,
                created_at=now,
                last_at=now,
            )
            .returning(A.c.id)
        ).scalar_one()
        return int(new), True

    def list_alerts(self, *, include_acknowledged: bool = False, limit: int = 200) -> list[dict[str, Any]]:
        q = sa.select(A).order_by(A.c.last_at.desc(), A.c.id.desc()).limit(limit)
        if not include_acknowledged:
            q = q.where(A.c.acknowledged_at.is_(None))
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def acknowledge(self, alert_id: int, by: str, now: datetime) -> bool:
        done = self.conn.execute(
            sa.update(A)
            .where(A.c.id == alert_id, A.c.acknowledged_at.is_(None))
            .values(acknowledged_at=now, acknowledged_by=by)
        ).rowcount
        return bool(done)

    def get_alert(self, alert_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(sa.select(A).where(A.c.id == alert_id)).mappings().first()
        return dict(row) if row else None

    def queue_webhook(self, contact_id: int, url: str, key: str, body: Mapping[str, Any], now: datetime) -> None:
        """An alert notification: an outbox webhook row (signed, retried, SSRF-guarded by delivery)."""
        o = schema.outbox
        insert = postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert
        self.conn.execute(
            insert(o)
            .values(
                contact_id=contact_id,
                idempotency_key=key,
                kind="webhook",
                channel="webhook",
                category="transactional",
                payload={"url": url, "method": "POST", "body": dict(body), "headers": {}},
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                recipient=url,
            )
            .on_conflict_do_nothing()  # the idempotency key; on Citus (key, contact_id): no target
        )

    # --------------------------------------------------------------------------- held messages

    def held_messages(self, channels: Sequence[str] | None) -> list[dict[str, Any]]:
        """Pending outbox messages (per channel) that a pause holds: what resume would send."""
        o = schema.outbox
        q = (
            sa.select(o.c.channel, sa.func.count().label("count"), sa.func.min(o.c.next_attempt_at).label("oldest"))
            .where(o.c.status == "pending")
            .group_by(o.c.channel)
            .order_by(o.c.channel)
        )
        if channels is not None:
            q = q.where(o.c.channel.in_(list(channels)))
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def published_sources(self, *, active_only: bool = False) -> list[tuple[str, str]]:
        """(key, source) of the current version of every journey not archived (or only active)."""
        j, v = schema.journeys, schema.journey_versions
        q = (
            sa.select(j.c.key, v.c.source)
            .select_from(j.join(v, sa.and_(v.c.journey_id == j.c.id, v.c.version == j.c.current_version)))
            .where(j.c.status == JourneyStatus.ACTIVE if active_only else j.c.status != JourneyStatus.ARCHIVED)
            .order_by(j.c.key)
        )
        return [(str(k), str(src)) for k, src in self.conn.execute(q)]

    def segment_rules(self) -> dict[str, Any]:
        return {str(k): rule for k, rule in self.conn.execute(sa.select(schema.segments.c.key, schema.segments.c.rule))}


def paused_channels(conn: sa.Connection) -> tuple[bool, list[str]]:
    """The kill switch for the delivery loop: (everything paused, channels paused)."""
    s = conn.execute(sa.select(S.c.value).where(S.c.key == SENDING_KEY)).scalar() or {}
    return bool(s.get("all")), list(s.get("channels") or [])
