"""Rows about contacts for the privacy tests: a known contact with consent, events, messages,
traces, a task, a segment and an enrolment; old and new rows of every retention kind."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tidings.store import schema


def contact(conn: sa.Connection, now: datetime, *, email: str | None = None, anonymous: bool = False,
            at: datetime | None = None) -> int:
    at = at or now
    key = conn.execute(sa.insert(schema.contacts).values(
        email=email, first_name="Ann" if email else None, attributes={"plan": "=1+2"}, anonymous=anonymous,
        created_at=at, updated_at=at,
    )).inserted_primary_key
    assert key is not None
    return int(key[0])


def journey(conn: sa.Connection, now: datetime, key: str = "welcome") -> int:
    pk = conn.execute(sa.insert(schema.journeys).values(
        key=key, name=key.title(), status="active", created_at=now, updated_at=now,
    )).inserted_primary_key
    assert pk is not None
    return int(pk[0])


def enrolment(conn: sa.Connection, cid: int, jid: int, now: datetime, status: str) -> int:
    pk = conn.execute(sa.insert(schema.enrollments).values(
        contact_id=cid, journey_id=jid, version=1, status=status, step_id="s1", state={}, entered_at=now,
        updated_at=now, ended_at=now if status == "ended" else None,
    )).inserted_primary_key
    assert pk is not None
    return int(pk[0])


def event(conn: sa.Connection, cid: int, at: datetime, name: str = "Page Viewed", *, processed: bool = True) -> None:
    conn.execute(sa.insert(schema.events).values(
        contact_id=cid, name=name, properties={"path": "/pricing", "note": "=HYPERLINK(1)"}, occurred_at=at,
        received_at=at, processed_at=at if processed else None,
    ))


def outbox(conn: sa.Connection, cid: int, at: datetime, key: str, status: str = "sent",
           enrollment_id: int | None = None, journey_id: int | None = None) -> int:
    pk = conn.execute(sa.insert(schema.outbox).values(
        contact_id=cid, idempotency_key=key, kind="message", channel="email", template="hello",
        journey_id=journey_id, enrollment_id=enrollment_id, payload={}, status=status, next_attempt_at=at,
        recipient="ann@example.com", subject="Hello", rendered={"text": "Hi Ann"}, created_at=at,
        sent_at=at if status == "sent" else None,
    )).inserted_primary_key
    assert pk is not None
    return int(pk[0])


def trace(conn: sa.Connection, cid: int, at: datetime, enrollment_id: int | None, outbox_id: int | None = None,
          journey_id: int | None = None) -> None:
    conn.execute(sa.insert(schema.traces).values(
        contact_id=cid, enrollment_id=enrollment_id, journey_id=journey_id, step_id="s1", stimulus="event",
        action="send", detail={"because": "Signed Up"}, outbox_id=outbox_id, at=at,
    ))


def inbox(conn: sa.Connection, at: datetime) -> None:
    conn.execute(sa.insert(schema.inbox).values(
        channel="email", recipient="ann@example.com", subject="Hello", headers={}, received_at=at,
    ))


def known_contact(conn: sa.Connection, now: datetime) -> dict[str, Any]:
    """A contact with one row of every kind the export holds."""
    cid = contact(conn, now, email="ann@example.com")
    conn.execute(sa.insert(schema.contact_tags).values(contact_id=cid, tag="vip", created_at=now))
    conn.execute(sa.insert(schema.consents).values(
        contact_id=cid, channel="email", status="granted", source="form", recorded_at=now,
        proof={"form": "newsletter", "text": "Send me news", "ip": "203.0.113.9", "user_agent": "UA/1"},
        topics={},
    ))
    jid = journey(conn, now)
    eid = enrolment(conn, cid, jid, now, "ended")
    for i in range(3):
        event(conn, cid, now - timedelta(minutes=i), name=f"Step {i}")
    oid = outbox(conn, cid, now, "k1", enrollment_id=eid, journey_id=jid)
    trace(conn, cid, now, eid, oid, journey_id=jid)
    conn.execute(sa.insert(schema.tasks).values(contact_id=cid, title="Call Ann", status="open", created_at=now))
    sid = conn.execute(sa.insert(schema.segments).values(
        key="vips", name="VIPs", rule={}, created_at=now, updated_at=now,
    )).inserted_primary_key
    assert sid is not None
    conn.execute(sa.insert(schema.segment_memberships).values(contact_id=cid, segment_id=sid[0], entered_at=now))
    return {"contact_id": cid, "journey_id": jid}
