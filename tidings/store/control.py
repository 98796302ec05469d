"""SQL of the control capability: enrolment causes, alerts, the control settings (policy, pauses).

Settings live in ``app_state`` under ``control.policy`` (the send policy document) and
``control.sending`` (the kill switch: ``{"all": bool, "channels": [...], "by": ..., "at": ...}``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tidings.store import schema

POLICY_KEY = "control.policy"
SENDING_KEY = "control.sending"

C, A, S = schema.enrollment_causes, schema.alerts, schema.app_state


# --------------------------------------------------------------------------- settings


def get_setting(conn: sa.Connection, key: str) -> Any:
    return conn.execute(sa.select(S.c.value).where(S.c.key == key)).scalar()


def put_setting(conn: sa.Connection, key: str, value: Any, now: datetime) -> None:
    done = conn.execute(sa.update(S).where(S.c.key == key).values(value=value, updated_at=now)).rowcount
    if not done:
        conn.execute(sa.insert(S).values(key=key, value=value, updated_at=now))


# --------------------------------------------------------------------------- causes


def parent_of(conn: sa.Connection, enrollment_id: int) -> Mapping[Any, Any] | None:
    """The parent enrolment's journey key, entry time and chain (None when it has no cause row)."""
    e, j = schema.enrollments, schema.journeys
    q = (
        sa.select(e.c.id, e.c.entered_at, j.c.key, C.c.chain)
        .select_from(e.join(j, j.c.id == e.c.journey_id).outerjoin(C, C.c.enrollment_id == e.c.id))
        .where(e.c.id == enrollment_id)
    )
    return conn.execute(q).mappings().first()


def insert_cause(conn: sa.Connection, row: Mapping[str, Any]) -> None:
    conn.execute(sa.insert(C).values(**row))


def enrolments_caused_by(conn: sa.Connection, kind: str, value: str) -> list[int]:
    """Enrolments whose cause is ``(kind, value)``, and every enrolment they caused in turn."""
    found = list(conn.execute(sa.select(C.c.enrollment_id).where(C.c.kind == kind, C.c.value == value)).scalars())
    seen = set(found)
    frontier = found
    while frontier:
        nxt = [
            int(i)
            for i in conn.execute(sa.select(C.c.enrollment_id).where(C.c.parent_enrollment_id.in_(frontier))).scalars()
            if int(i) not in seen
        ]
        seen.update(nxt)
        frontier = nxt
    return sorted(seen)


def live_enrolments(conn: sa.Connection, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Of ``ids``, those still running, with their contact and journey key."""
    if not ids:
        return []
    e, j = schema.enrollments, schema.journeys
    q = (
        sa.select(e.c.id, e.c.contact_id, e.c.journey_id, e.c.version, e.c.step_id, e.c.state, j.c.key)
        .select_from(e.join(j, j.c.id == e.c.journey_id))
        .where(e.c.id.in_(list(ids)), e.c.status != "ended")
        .order_by(e.c.id)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def end_enrolments(conn: sa.Connection, rows: Iterable[Mapping[str, Any]], reason: str, now: datetime) -> None:
    e, t = schema.enrollments, schema.timers
    for r in rows:
        state = dict(r["state"] or {})
        state.update(status="ended", end_reason=reason, waiting=None)
        conn.execute(
            sa.update(e)
            .where(e.c.id == r["id"])
            .values(status="ended", end_reason=reason, state=state, updated_at=now, ended_at=now)
        )
        conn.execute(sa.delete(t).where(t.c.enrollment_id == r["id"]))
        o = schema.outbox
        conn.execute(
            sa.update(o)
            .where(o.c.enrollment_id == r["id"], o.c.status == "pending")
            .values(status="skipped", error=f"enrolment {reason}")
        )


def insert_traces(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        conn.execute(sa.insert(schema.traces), [dict(r) for r in rows])


# --------------------------------------------------------------------------- alerts


def raise_alert(
    conn: sa.Connection,
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
    row = conn.execute(
        sa.select(A.c.id).where(A.c.fingerprint == fingerprint, A.c.acknowledged_at.is_(None)).limit(1)
    ).first()
    if row is not None:
        conn.execute(
            sa.update(A)
            .where(A.c.id == row[0])
            .values(count=A.c.count + 1, last_at=now, detail=dict(detail), contact_id=contact_id)
        )
        return int(row[0]), False
    new = conn.execute(
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


def list_alerts(conn: sa.Connection, *, include_acknowledged: bool = False, limit: int = 200) -> list[dict[str, Any]]:
    q = sa.select(A).order_by(A.c.last_at.desc(), A.c.id.desc()).limit(limit)
    if not include_acknowledged:
        q = q.where(A.c.acknowledged_at.is_(None))
    return [dict(r) for r in conn.execute(q).mappings()]


def acknowledge(conn: sa.Connection, alert_id: int, by: str, now: datetime) -> bool:
    done = conn.execute(
        sa.update(A)
        .where(A.c.id == alert_id, A.c.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by=by)
    ).rowcount
    return bool(done)


def get_alert(conn: sa.Connection, alert_id: int) -> dict[str, Any] | None:
    row = conn.execute(sa.select(A).where(A.c.id == alert_id)).mappings().first()
    return dict(row) if row else None


def queue_webhook(
    conn: sa.Connection, contact_id: int, url: str, key: str, body: Mapping[str, Any], now: datetime
) -> None:
    """An alert notification: an outbox webhook row (signed, retried, SSRF-guarded by delivery)."""
    o = schema.outbox
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
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
        .on_conflict_do_nothing(index_elements=[o.c.idempotency_key])
    )


# --------------------------------------------------------------------------- held messages


def held_messages(conn: sa.Connection, channels: Sequence[str] | None) -> list[dict[str, Any]]:
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
    return [dict(r) for r in conn.execute(q).mappings()]
