"""The worker's enrolment repository (``EnrolmentRepository``): claims, events, enrolments, timers,
traces and outbox rows, on the caller's transaction.

The engine commits a batch of transitions (state + trace + timers + outbox + contact changes)
atomically; the hot statements go through ``bulk_sql.BulkSql`` (plain DB-API, executemany,
``unnest`` arrays and ``COPY`` on PostgreSQL), the rest through SQLAlchemy Core.

Claims:
- queued contacts are *leased* (``lease_owner``/``lease_until``) in a short transaction, then
  processed under a row lock on the contact (PostgreSQL), so a worker that dies loses only its
  lease, and two workers never advance one contact at once;
- due timers are claimed with ``FOR UPDATE SKIP LOCKED`` inside the very transaction that
  fires them and deletes them: a crash rolls the claim back with everything else, so the
  row lock *is* the lease (PostgreSQL drops it the moment the worker's connection dies).
SQLite has one writer at a time (``BEGIN IMMEDIATE``), where the same statements are simply
serial; ``with_for_update`` renders nothing there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import sqlalchemy as sa

from tidings.domain.journeys.timing import PARKED_AT, PARKED_KEY
from tidings.domain.statuses import EnrolmentStatus
from tidings.store import schema
from tidings.store.bulk_sql import BulkSql
from tidings.store.citus import for_update_by_shard, lock_contacts_statement
from tidings.store.ingest_sql import insert_events
from tidings.store.queue import busy_contacts, enqueue_contacts

Q = schema.contact_queue
T = schema.timers
E = schema.enrollments
O = schema.outbox  # noqa: E741
EV = schema.events
C = schema.contacts

#: columns of the bulk inserts (every row has every one of them).
TRACE_COLS = (
    "id", "contact_id", "enrollment_id", "journey_id", "journey_version", "step_id", "stimulus", "action",
    "detail", "outbox_id", "at",
)  # fmt: skip
OUTBOX_COLS = (
    "id", "contact_id", "idempotency_key", "kind", "channel", "category", "template", "journey_id",
    "journey_version", "enrollment_id", "step_id", "trace_id", "payload", "status", "attempts",
    "next_attempt_at", "recipient", "created_at",
)  # fmt: skip
TIMER_COLS = ("contact_id", "enrollment_id", "kind", "due_at", "payload")


class SqlEnrolments:
    """``EnrolmentRepository`` on one connection (the caller's transaction)."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    @cached_property
    def bulk(self) -> BulkSql:
        return BulkSql(self.conn)

    # ----------------------------------------------------------------- contact queue

    def has_claimable_contacts(self, now: datetime) -> bool:
        q = sa.select(Q.c.contact_id).where(sa.or_(Q.c.lease_until.is_(None), Q.c.lease_until < now)).limit(1)
        return self.conn.execute(q).first() is not None

    def claim_contacts(
        self, owner: str, now: datetime, lease: timedelta, limit: int, exclude: Iterable[int] = ()
    ) -> list[int]:
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
        ids = [int(x) for x in self.conn.execute(q).scalars()]
        if ids:
            self.conn.execute(
                sa.update(Q).where(Q.c.contact_id.in_(ids)).values(lease_owner=owner, lease_until=now + lease)
            )
        return ids

    def release_contact(self, contact_id: int, until: datetime | None = None, owner: str | None = None) -> None:
        self.conn.execute(
            sa.update(Q).where(Q.c.contact_id == contact_id).values(lease_owner=owner, lease_until=until)
        )

    def finish_contacts(self, contact_ids: Sequence[int], now: datetime) -> list[int]:
        """Under the queue protocol of ``store/queue.py``: one round trip tries for every contact's
        exclusive queue lock (never waits: try-locks cannot deadlock, whatever their order); a
        contact whose lock an uncommitted ingest holds keeps its queue row and gets its lease freed.
        The others' queue rows are deleted and *then* their unprocessed events checked in one
        query; those that still have some are re-queued."""
        ids = sorted(set(contact_ids))
        if not ids:
            return []
        busy = busy_contacts(self.conn, ids)
        for cid in busy:
            self.release_contact(cid)
        done = [cid for cid in ids if cid not in busy]
        if not done:
            return sorted(busy)
        self.conn.execute(sa.delete(Q).where(Q.c.contact_id.in_(done)))
        again = {
            int(x)
            for x in self.conn.execute(
                sa.select(EV.c.contact_id).where(EV.c.contact_id.in_(done), EV.c.processed_at.is_(None)).distinct()
            ).scalars()
        }
        self.enqueue(again, now)
        return sorted(again | busy)

    def enqueue(self, contact_ids: Iterable[int], now: datetime) -> None:
        enqueue_contacts(self.conn, contact_ids, now)

    def lock_contacts(self, contact_ids: Sequence[int]) -> None:
        ids = sorted(set(contact_ids))
        if ids and self.bulk.citus:
            self.bulk.fetch(*lock_contacts_statement(ids))
        elif ids and self.bulk.pg:
            self.bulk.fetch("SELECT id FROM contacts WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (ids,))

    # ----------------------------------------------------------------- events

    def unprocessed_events(self, contact_ids: Sequence[int], limit: int) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {}
        ids = sorted(set(contact_ids))
        if not ids:
            return out
        fast = self.bulk
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

    def mark_processed(self, event_ids: Sequence[int], now: datetime) -> None:
        if event_ids:
            self.conn.execute(sa.update(EV).where(EV.c.id.in_(list(event_ids))).values(processed_at=now))

    def append_events(self, rows: Sequence[Mapping[str, Any]], now: datetime) -> None:
        if not rows:
            return
        full = [{"occurred_at": now, "received_at": now, "source": "journey", "value": None, "message_id": None, **r}
                for r in rows]
        insert_events(self.conn, full)  # idempotent on message_id (event_receipts)
        self.enqueue({int(r["contact_id"]) for r in rows}, now)

    # ----------------------------------------------------------------- enrolments

    def enrollments(
        self,
        *,
        ids: Sequence[int] = (),
        contact_ids: Sequence[int] = (),
        live_only: bool = True,
        for_update: bool = False,
    ) -> list[dict[str, Any]]:
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
            return [dict(r) for r in for_update_by_shard(self.conn, q, E)]
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def states(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        if not ids:
            return []
        fast = self.bulk
        where, params = fast.in_("id", ids)
        rows = fast.fetch(f"SELECT id, contact_id, journey_id, version, state FROM enrollments WHERE {where}", params)
        return [
            {"id": r[0], "contact_id": r[1], "journey_id": r[2], "version": r[3], "state": fast.parse_json(r[4])}
            for r in rows
        ]

    def contact_of(self, enrollment_id: int) -> int | None:
        cid = self.conn.execute(sa.select(E.c.contact_id).where(E.c.id == enrollment_id)).scalar_one_or_none()
        return None if cid is None else int(cid)

    def prior_enrollments(self, contact_ids: Sequence[int], journey_ids: Sequence[int]) -> list[dict[str, Any]]:
        if not contact_ids or not journey_ids:
            return []
        q = sa.select(
            E.c.id, E.c.contact_id, E.c.journey_id, E.c.enroll_key, E.c.status, E.c.end_reason, E.c.entered_at,
            E.c.ended_at,
        ).where(E.c.contact_id.in_(list(contact_ids)), E.c.journey_id.in_(list(journey_ids)))  # fmt: skip
        return [dict(r) for r in self.conn.execute(q.order_by(E.c.id)).mappings()]

    def insert_enrollments(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        if not rows:
            return []
        result = self.conn.execute(
            sa.insert(E).returning(E.c.id, sort_by_parameter_order=True), [dict(r) for r in rows]
        )
        return [int(x) for x in result.scalars()]

    def update_enrollments(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        fast = self.bulk
        if fast.pg:  # one statement over arrays instead of one per row
            fast.run(
                "UPDATE enrollments AS e SET status = v.status, end_reason = v.end_reason, "
                "step_id = v.step_id, state = v.state::jsonb, updated_at = v.updated_at, "
                "ended_at = v.ended_at, version = v.version "
                "FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[], "
                "%b::timestamp[], %b::timestamp[], %b::int[]) "
                "AS v(id, status, end_reason, step_id, state, updated_at, ended_at, version) "
                "WHERE e.id = v.id",
                (
                    [r["_id"] for r in rows],
                    [r["status"] for r in rows],
                    [r["end_reason"] for r in rows],
                    [r["step_id"] for r in rows],
                    [fast.j(r["state"]) for r in rows],
                    [fast.t(r["updated_at"]) for r in rows],
                    [fast.t(r["ended_at"]) for r in rows],
                    [r["version"] for r in rows],
                ),
            )
            return
        fast.executemany(
            "UPDATE enrollments SET status = ?, end_reason = ?, step_id = ?, state = ?, "
            "updated_at = ?, ended_at = ?, version = ? WHERE id = ?",
            [
                (
                    r["status"], r["end_reason"], r["step_id"], fast.j(r["state"]), fast.t(r["updated_at"]),
                    fast.t(r["ended_at"]), r["version"], r["_id"],
                )  # fmt: skip
                for r in rows
            ],
        )

    # ----------------------------------------------------------------- timers

    def next_due(self) -> datetime | None:
        due: datetime | None = self.conn.execute(sa.select(sa.func.min(T.c.due_at))).scalar_one_or_none()
        return due

    def due_timers(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Without SQLAlchemy's row processing (plain DB-API: the timer path's hot read)."""
        fast = self.bulk
        lock = " FOR UPDATE SKIP LOCKED" if fast.pg else ""
        rows = fast.fetch(
            "SELECT id, contact_id, enrollment_id, kind, due_at, payload FROM timers "
            f"WHERE due_at <= {fast.ph} ORDER BY due_at LIMIT {int(limit)}{lock}",
            (fast.t(now),),
        )
        return [
            {
                "id": r[0],
                "contact_id": r[1],
                "enrollment_id": r[2],
                "kind": r[3],
                "due_at": fast.parse_time(r[4]),
                "payload": fast.parse_json(r[5]),
            }
            for r in rows
        ]

    def insert_timers(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.bulk.insert("timers", TIMER_COLS, rows)

    def delete_timers(self, ids: Sequence[int], enrollment_ids: Sequence[int] = ()) -> None:
        """In one statement (fired timers and those of enrolments whose wait was cancelled)."""
        if not ids and not enrollment_ids:
            return
        fast = self.bulk
        conds: list[str] = []
        params: tuple[Any, ...] = ()
        for col, values in (("id", ids), ("enrollment_id", enrollment_ids)):
            if values:
                where, p = fast.in_(col, list(values))
                conds.append(where)
                params += p
        fast.run(f"DELETE FROM timers WHERE {' OR '.join(conds)}", params)

    def park_journey_timers(self, journey_id: int) -> int:
        rows = self.conn.execute(_journey_timers(journey_id).where(T.c.due_at < PARKED_AT)).mappings().all()
        params = [
            {
                "_id": r["id"],
                "due_at": PARKED_AT,
                "payload": {**(r["payload"] or {}), PARKED_KEY: r["due_at"].isoformat()},
            }
            for r in rows
        ]
        self._set_timers(params)
        return len(params)

    def unpark_journey_timers(self, journey_id: int) -> int:
        """Give a resumed journey's timers their due time back (``JourneyRuns.release``)."""
        rows = self.conn.execute(_journey_timers(journey_id).where(T.c.due_at >= PARKED_AT)).mappings().all()
        params = []
        for r in rows:
            payload = dict(r["payload"] or {})
            held = payload.pop(PARKED_KEY, None)
            due = datetime.fromisoformat(held) if held else r["due_at"]
            params.append({"_id": r["id"], "due_at": due, "payload": payload})
        self._set_timers(params)
        return len(params)

    def _set_timers(self, params: list[dict[str, Any]]) -> None:
        if params:
            self.conn.execute(
                sa.update(T)
                .where(T.c.id == sa.bindparam("_id"))
                .values(due_at=sa.bindparam("due_at"), payload=sa.bindparam("payload")),
                params,
            )

    def drop_date_trigger_timers(
        self, journey_id: int, contact_ids: Iterable[int] | None = None, trigger: int | None = None
    ) -> None:
        """Delete the journey's date-trigger timers (of these contacts, of this trigger index)."""
        q = sa.select(T.c.id, T.c.payload).where(T.c.kind == "date_trigger", T.c.enrollment_id.is_(None))
        if contact_ids is not None:
            q = q.where(T.c.contact_id.in_(list(contact_ids)))
        ids = [
            int(r.id)
            for r in self.conn.execute(q)
            if (r.payload or {}).get("journey_id") == journey_id
            and (trigger is None or (r.payload or {}).get("trigger") == trigger)
        ]
        for i in range(0, len(ids), 5000):
            self.delete_timers(ids[i : i + 5000])

    # ----------------------------------------------------------------- traces and outbox

    def allocate_ids(self, counts: Mapping[str, int]) -> dict[str, list[int]]:
        return self.bulk.allocate_many(counts)

    def insert_outbox(self, rows: Sequence[Mapping[str, Any]]) -> int:
        return self.bulk.insert("outbox", OUTBOX_COLS, rows, on_conflict="idempotency_key")

    def existing_outbox(self, keys: Sequence[str]) -> dict[str, int]:
        if not keys:
            return {}
        where, params = self.bulk.in_("idempotency_key", list(keys))
        rows = self.bulk.fetch(f"SELECT idempotency_key, id FROM outbox WHERE {where}", params)
        return {str(k): int(i) for k, i in rows}

    def insert_traces(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.bulk.insert("traces", TRACE_COLS, rows)

    def recent_sends(self, contact_ids: Sequence[int], since: datetime) -> list[dict[str, Any]]:
        if not contact_ids:
            return []
        q = sa.select(O.c.contact_id, O.c.channel, O.c.category, O.c.created_at, O.c.sent_at).where(
            O.c.contact_id.in_(list(contact_ids)),
            O.c.kind == "message",
            O.c.status.in_(("pending", "sending", "sent", "delivered")),
            O.c.created_at >= since,
        )
        return [dict(r) for r in self.conn.execute(q).mappings()]


def _journey_timers(journey_id: int) -> sa.Select[Any]:
    """The journey's timers: its enrolments' and its date triggers' (journey in the payload)."""
    in_journey = sa.select(E.c.id).where(E.c.journey_id == journey_id)
    by_payload: sa.ColumnElement[bool] = T.c.payload["journey_id"].as_integer() == journey_id
    return sa.select(T.c.id, T.c.due_at, T.c.payload).where(
        sa.or_(
            T.c.enrollment_id.in_(in_journey),
            sa.and_(T.c.enrollment_id.is_(None), T.c.kind == "date_trigger", by_payload),
        )
    )
