"""SQL for the worker: claims (queued contacts, due timers), enrolments, timers, outbox.

Every function runs inside the caller's transaction: the engine commits a batch of
transitions (state + trace + timers + outbox + contact changes) atomically.

Claims:
- queued contacts are *leased* (``lease_owner``/``lease_until``) in a short transaction, then
  processed one contact per transaction under a row lock on the contact (PostgreSQL), so a
  worker that dies loses only its lease, and two workers never advance one contact at once;
- due timers are claimed with ``FOR UPDATE SKIP LOCKED`` inside the very transaction that
  fires them and deletes them: a crash rolls the claim back with everything else, so the
  row lock *is* the lease (PostgreSQL drops it the moment the worker's connection dies).
SQLite has one writer at a time (``BEGIN IMMEDIATE``), where the same statements are simply
serial; ``with_for_update`` renders nothing there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tidings.domain.journeys.timing import PARKED_AT as PARKED_AT  # re-exported: the worker's callers
from tidings.domain.journeys.timing import PARKED_KEY as PARKED_KEY
from tidings.domain.statuses import EnrolmentStatus
from tidings.store import schema
from tidings.store.fastpath import Fast
from tidings.store.ingest_sql import insert_events as insert_events  # the engine's appended events
from tidings.store.queue import announce_events, busy_contacts, enqueue_statement

Q = schema.contact_queue
T = schema.timers
E = schema.enrollments
O = schema.outbox  # noqa: E741
EV = schema.events
C = schema.contacts

#: a contact's unprocessed events taken in one pass of the worker (the rest: the next pass).
EVENTS_PER_PASS = 1000

# --------------------------------------------------------------------------- contact queue


def claim_contacts(
    conn: sa.Connection, owner: str, now: datetime, lease: timedelta, limit: int, exclude: Iterable[int] = ()
) -> list[int]:
    """Lease up to ``limit`` queued contacts whose lease is free or expired (oldest first)."""
    q = (
        sa.select(Q.c.contact_id)
        .where(sa.or_(Q.c.lease_until.is_(None), Q.c.lease_until < now))
        .order_by(Q.c.queued_at, Q.c.contact_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    skip = list(exclude)
    if skip:
        q = q.where(Q.c.contact_id.not_in(skip))
    ids = [int(x) for x in conn.execute(q).scalars()]
    if ids:
        conn.execute(
            sa.update(Q).where(Q.c.contact_id.in_(ids)).values(lease_owner=owner, lease_until=now + lease)
        )
    return ids


def has_claimable_contacts(conn: sa.Connection, now: datetime) -> bool:
    q = sa.select(Q.c.contact_id).where(sa.or_(Q.c.lease_until.is_(None), Q.c.lease_until < now)).limit(1)
    return conn.execute(q).first() is not None


def release_contact(
    conn: sa.Connection, contact_id: int, until: datetime | None = None, owner: str | None = None
) -> None:
    """Give a leased contact back (after a failure): claimable again at once, or once ``until`` passes."""
    conn.execute(
        sa.update(Q).where(Q.c.contact_id == contact_id).values(lease_owner=owner, lease_until=until)
    )


def finish_contacts(conn: sa.Connection, contact_ids: Sequence[int], now: datetime) -> list[int]:
    """Drop the queue rows of processed contacts; re-queue those whose events arrived meanwhile.

    Under the queue protocol of ``store/queue.py``: one round trip tries for every contact's
    exclusive queue lock (never waits: try-locks cannot deadlock, whatever their order); a
    contact whose lock an uncommitted ingest holds keeps its queue row and gets its lease freed.
    The others' queue rows are deleted and *then* their unprocessed events checked in one query;
    those that still have some are re-queued.
    Returns the ids that keep (or got back) a queue row.
    """
    ids = sorted(set(contact_ids))
    if not ids:
        return []
    busy = busy_contacts(conn, ids)
    for cid in busy:
        release_contact(conn, cid)
    done = [cid for cid in ids if cid not in busy]
    if not done:
        return sorted(busy)
    conn.execute(sa.delete(Q).where(Q.c.contact_id.in_(done)))
    again = {
        int(x)
        for x in conn.execute(
            sa.select(EV.c.contact_id).where(EV.c.contact_id.in_(done), EV.c.processed_at.is_(None)).distinct()
        ).scalars()
    }
    enqueue(conn, again, now)
    return sorted(again | busy)


def enqueue(conn: sa.Connection, contact_ids: Iterable[int], now: datetime) -> None:
    ids = sorted(set(contact_ids))
    if not ids:
        return
    announce_events(conn, ids)
    conn.execute(enqueue_statement(conn), [{"contact_id": cid, "queued_at": now} for cid in ids])


def lock_contacts(conn: sa.Connection, contact_ids: Iterable[int]) -> None:
    """Serialise work on these contacts across workers (PostgreSQL row locks, ascending ids)."""
    ids = sorted(set(contact_ids))
    if ids and conn.dialect.name == "postgresql":
        conn.execute(sa.select(C.c.id).where(C.c.id.in_(ids)).order_by(C.c.id).with_for_update())


# --------------------------------------------------------------------------- events


def unprocessed_events(conn: sa.Connection, contact_id: int, limit: int = 1000) -> list[Mapping[Any, Any]]:
    q = (
        sa.select(EV.c.id, EV.c.name, EV.c.properties, EV.c.occurred_at, EV.c.value)
        .where(EV.c.contact_id == contact_id, EV.c.processed_at.is_(None))
        .order_by(EV.c.id)
        .limit(limit)
    )
    return list(conn.execute(q).mappings())


def unprocessed_events_many(
    conn: sa.Connection, contact_ids: Sequence[int], limit: int = EVENTS_PER_PASS
) -> dict[int, list[Mapping[Any, Any]]]:
    """:func:`unprocessed_events` of many contacts in one query: contact id -> events in id order."""
    out: dict[int, list[Mapping[Any, Any]]] = {}
    ids = sorted(set(contact_ids))
    if not ids:
        return out
    fast = Fast(conn)
    where, params = fast.in_("contact_id", ids)
    rows = fast.fetch(
        "SELECT id, contact_id, name, properties, occurred_at, value FROM events "
        f"WHERE {where} AND processed_at IS NULL ORDER BY id",
        params,
    )
    for i, cid, name, props, at, value in rows:
        got = out.setdefault(int(cid), [])
        if len(got) < limit:  # the rest stay unprocessed: finish_contacts re-queues the contact
            got.append(
                {
                    "id": int(i),
                    "contact_id": int(cid),
                    "name": name,
                    "properties": fast.parse_json(props) or {},
                    "occurred_at": fast.parse_time(at),
                    "value": None if value is None else float(value),
                }
            )
    return out


def mark_processed(conn: sa.Connection, event_ids: Sequence[int], now: datetime) -> None:
    if event_ids:
        conn.execute(sa.update(EV).where(EV.c.id.in_(list(event_ids))).values(processed_at=now))


# --------------------------------------------------------------------------- timers


def claim_due_timers(conn: sa.Connection, now: datetime, limit: int) -> list[Mapping[Any, Any]]:
    """Due timers, oldest first, locked for this transaction (others skip them)."""
    q = (
        sa.select(T.c.id, T.c.contact_id, T.c.enrollment_id, T.c.kind, T.c.due_at, T.c.payload)
        .where(T.c.due_at <= now)
        .order_by(T.c.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(conn.execute(q).mappings())


def next_due(conn: sa.Connection) -> datetime | None:
    return conn.execute(sa.select(sa.func.min(T.c.due_at))).scalar_one_or_none()


def delete_timers(conn: sa.Connection, ids: Sequence[int]) -> None:
    if ids:
        conn.execute(sa.delete(T).where(T.c.id.in_(list(ids))))


def insert_timers(conn: sa.Connection, rows: Sequence[Mapping[Any, Any]]) -> None:
    if rows:
        conn.execute(sa.insert(T), [dict(r) for r in rows])


def drop_date_trigger_timers(
    conn: sa.Connection, journey_id: int, contact_ids: Iterable[int] | None = None, trigger: int | None = None
) -> None:
    """Delete the journey's date-trigger timers (of these contacts, of this trigger index)."""
    q = sa.select(T.c.id, T.c.payload).where(T.c.kind == "date_trigger", T.c.enrollment_id.is_(None))
    if contact_ids is not None:
        q = q.where(T.c.contact_id.in_(list(contact_ids)))
    ids = [
        int(r.id)
        for r in conn.execute(q)
        if (r.payload or {}).get("journey_id") == journey_id
        and (trigger is None or (r.payload or {}).get("trigger") == trigger)
    ]
    for i in range(0, len(ids), 5000):
        delete_timers(conn, ids[i : i + 5000])


def park_journey_timers(conn: sa.Connection, journey_id: int) -> int:
    """Hold a paused journey's timers: due time moved to PARKED_AT, the real one kept in the payload."""
    rows = conn.execute(_journey_timer_query(journey_id).where(T.c.due_at < PARKED_AT)).mappings().all()
    params = [
        {
            "_id": r["id"],
            "due_at": PARKED_AT,
            "payload": {**(r["payload"] or {}), PARKED_KEY: r["due_at"].isoformat()},
        }
        for r in rows
    ]
    if params:
        conn.execute(
            sa.update(T)
            .where(T.c.id == sa.bindparam("_id"))
            .values(due_at=sa.bindparam("due_at"), payload=sa.bindparam("payload")),
            params,
        )
    return len(params)


def unpark_journey_timers(conn: sa.Connection, journey_id: int) -> int:
    rows = conn.execute(_journey_timer_query(journey_id).where(T.c.due_at >= PARKED_AT)).mappings().all()
    params = []
    for r in rows:
        payload = dict(r["payload"] or {})
        held = payload.pop(PARKED_KEY, None)
        due = datetime.fromisoformat(held) if held else r["due_at"]
        params.append({"_id": r["id"], "due_at": due, "payload": payload})
    if params:
        conn.execute(
            sa.update(T)
            .where(T.c.id == sa.bindparam("_id"))
            .values(due_at=sa.bindparam("due_at"), payload=sa.bindparam("payload")),
            params,
        )
    return len(params)


def _journey_timer_query(journey_id: int) -> sa.Select[Any]:
    in_journey = sa.select(E.c.id).where(E.c.journey_id == journey_id)
    return sa.select(T.c.id, T.c.due_at, T.c.payload).where(
        sa.or_(
            T.c.enrollment_id.in_(in_journey),
            sa.and_(T.c.enrollment_id.is_(None), T.c.kind == "date_trigger", _payload_journey(journey_id)),
        )
    )


def _payload_journey(journey_id: int) -> sa.ColumnElement[bool]:
    # date-trigger timers carry their journey in the payload; JSON paths differ per backend
    cond: sa.ColumnElement[bool] = T.c.payload["journey_id"].as_integer() == journey_id
    return cond


# --------------------------------------------------------------------------- enrolments


def load_enrollments(
    conn: sa.Connection,
    *,
    ids: Sequence[int] = (),
    contact_ids: Sequence[int] = (),
    live_only: bool = True,
    for_update: bool = False,
) -> list[Mapping[Any, Any]]:
    conds = []
    if ids:
        conds.append(E.c.id.in_(list(ids)))
    if contact_ids:
        conds.append(E.c.contact_id.in_(list(contact_ids)))
    if not conds:
        return []
    q = sa.select(E).where(sa.or_(*conds)).order_by(E.c.id)
    if live_only:
        q = q.where(E.c.status != EnrolmentStatus.ENDED)
    if for_update:
        q = q.with_for_update()
    return list(conn.execute(q).mappings())


def prior_enrollments(
    conn: sa.Connection, contact_ids: Sequence[int], journey_ids: Sequence[int]
) -> list[Mapping[Any, Any]]:
    if not contact_ids or not journey_ids:
        return []
    q = sa.select(
        E.c.id,
        E.c.contact_id,
        E.c.journey_id,
        E.c.enroll_key,
        E.c.status,
        E.c.end_reason,
        E.c.entered_at,
        E.c.ended_at,
    ).where(E.c.contact_id.in_(list(contact_ids)), E.c.journey_id.in_(list(journey_ids)))
    return list(conn.execute(q.order_by(E.c.id)).mappings())


def insert_enrollments(conn: sa.Connection, rows: Sequence[Mapping[Any, Any]]) -> list[int]:
    if not rows:
        return []
    result = conn.execute(
        sa.insert(E).returning(E.c.id, sort_by_parameter_order=True), [dict(r) for r in rows]
    )
    return [int(x) for x in result.scalars()]


# --------------------------------------------------------------------------- outbox


def insert_outbox(conn: sa.Connection, rows: Sequence[Mapping[Any, Any]]) -> dict[str, int]:
    """Insert effects; an idempotency key already present is left alone (exactly once).

    Returns idempotency key -> id of the rows inserted now.
    """
    if not rows:
        return {}
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(O)
        .on_conflict_do_nothing(index_elements=[O.c.idempotency_key])
        .returning(O.c.id, O.c.idempotency_key)
    )
    result = conn.execute(stmt, [dict(r) for r in rows])
    return {str(k): int(i) for i, k in result}


def recent_sends(conn: sa.Connection, contact_ids: Sequence[int], since: datetime) -> list[Mapping[Any, Any]]:
    """Messages of these contacts across all journeys since ``since`` (frequency caps)."""
    if not contact_ids:
        return []
    q = sa.select(O.c.contact_id, O.c.channel, O.c.category, O.c.created_at, O.c.sent_at).where(
        O.c.contact_id.in_(list(contact_ids)),
        O.c.kind == "message",
        O.c.status.in_(("pending", "sending", "sent", "delivered")),
        O.c.created_at >= since,
    )
    return list(conn.execute(q).mappings())
