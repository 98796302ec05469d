"""SQL of a journey's enrolments, timers and held messages, as its lifecycle use cases need them
(describe, migrate, pause, resume). The worker's own SQL is in ``enrolments_sql.py``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tidings.domain.journeys.timing import PARKED_AT
from tidings.domain.statuses import EnrolmentStatus
from tidings.store import schema
from tidings.store.bulk_snapshots import load_snapshots
from tidings.store.enrolments_sql import SqlEnrolments

if TYPE_CHECKING:
    from tidings.domain.snapshot import ContactSnapshot

E = schema.enrollments
O = schema.outbox  # noqa: E741
TR = schema.traces


def migration_trace(journey_id: int, move: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The trace entry of one migrated enrolment (``move`` as in ``JourneyRuns.move``)."""
    return {
        "contact_id": move["contact_id"],
        "enrollment_id": move["enrollment_id"],
        "journey_id": journey_id,
        "journey_version": move["to_version"],
        "step_id": move["to_step"],
        "stimulus": "migration",
        "action": "migrated",
        "detail": {"from_version": move["from_version"], "from_step": move["from_step"]},
        "at": now,
    }


class SqlJourneyRuns:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def enrollment_counts(self, journey_id: int) -> list[tuple[int, str, str | None, int]]:
        q = (
            sa.select(E.c.version, E.c.status, E.c.step_id, sa.func.count())
            .where(E.c.journey_id == journey_id)
            .group_by(E.c.version, E.c.status, E.c.step_id)
            .order_by(E.c.version, E.c.status, E.c.step_id)
        )
        return [(int(v), str(s), st, int(n)) for v, s, st, n in self.conn.execute(q)]

    def waiting(self, journey_id: int, *, not_version: int, version: int | None = None) -> list[dict[str, Any]]:
        q = sa.select(E.c.id, E.c.contact_id, E.c.version, E.c.step_id, E.c.state).where(
            E.c.journey_id == journey_id, E.c.status == EnrolmentStatus.WAITING, E.c.version != not_version
        )
        if version is not None:
            q = q.where(E.c.version == version)
        return [dict(r) for r in self.conn.execute(q.order_by(E.c.id)).mappings()]

    def move(self, journey_id: int, moves: Sequence[Mapping[str, Any]], now: datetime) -> None:
        if not moves:
            return
        self.conn.execute(
            sa.update(E)
            .where(E.c.id == sa.bindparam("_id"))
            .values(
                version=sa.bindparam("_version"),
                step_id=sa.bindparam("_step"),
                state=sa.bindparam("_state"),
                updated_at=now,
            ),
            [
                {"_id": m["enrollment_id"], "_version": m["to_version"], "_step": m["to_step"], "_state": m["state"]}
                for m in moves
            ],
        )
        self.conn.execute(sa.insert(TR), [migration_trace(journey_id, m, now) for m in moves])

    def hold(self, journey_id: int) -> tuple[int, int]:
        timers = SqlEnrolments(self.conn).park_journey_timers(journey_id)
        result = self.conn.execute(
            sa.update(O)
            .where(O.c.journey_id == journey_id, O.c.status == "pending", O.c.next_attempt_at < PARKED_AT)
            .values(next_attempt_at=PARKED_AT)
        )
        return timers, int(result.rowcount or 0)

    def release(self, journey_id: int, now: datetime, *, skip_ended_by: Sequence[str]) -> dict[str, int]:
        timers = SqlEnrolments(self.conn).unpark_journey_timers(journey_id)
        held = O.c.journey_id == journey_id, O.c.status == "pending", O.c.next_attempt_at >= PARKED_AT
        ended = sa.select(E.c.id).where(E.c.status == EnrolmentStatus.ENDED, E.c.end_reason.in_(list(skip_ended_by)))
        skipped = self.conn.execute(
            sa.update(O)
            .where(*held, O.c.enrollment_id.in_(ended))
            .values(status="skipped", error="enrolment ended while the journey was paused", next_attempt_at=now)
        ).rowcount
        released = self.conn.execute(sa.update(O).where(*held).values(next_attempt_at=now)).rowcount
        return {
            "released_timers": timers,
            "released_messages": int(released or 0),
            "skipped_messages": int(skipped or 0),
        }

    def drop_date_triggers(self, journey_id: int, *, contact_id: int | None = None, trigger: int | None = None) -> None:
        contacts = None if contact_id is None else [contact_id]
        SqlEnrolments(self.conn).drop_date_trigger_timers(journey_id, contacts, trigger)

    def contact_snapshots(self, after_id: int, limit: int, *, events: bool) -> list[ContactSnapshot]:
        c = schema.contacts
        q = sa.select(c.c.id).where(c.c.id > after_id).order_by(c.c.id).limit(limit)
        ids = [int(x) for x in self.conn.execute(q).scalars()]
        snaps = load_snapshots(self.conn, ids, events=events)
        return [snaps[i] for i in ids if i in snaps]

    def segment_rules(self) -> dict[str, Any]:
        sg = schema.segments
        return {str(k): rule for k, rule in self.conn.execute(sa.select(sg.c.key, sg.c.rule))}

    def add_timers(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self.conn.execute(sa.insert(schema.timers), [dict(r) for r in rows])

    def enrollment_timers(self, enrollment_id: int) -> list[dict[str, Any]]:
        t = schema.timers
        q = sa.select(t.c.id, t.c.kind, t.c.due_at, t.c.payload).where(t.c.enrollment_id == enrollment_id)
        return [dict(r) for r in self.conn.execute(q.order_by(t.c.id)).mappings()]

    def set_timer_payload(self, timer_id: int, payload: Mapping[str, Any]) -> None:
        t = schema.timers
        self.conn.execute(sa.update(t).where(t.c.id == timer_id).values(payload=dict(payload)))

    def journey_status(self, journey_id: int) -> str | None:
        j = schema.journeys
        q = sa.select(j.c.status).where(j.c.id == journey_id).with_for_update(read=True)
        status = self.conn.execute(q).scalar_one_or_none()
        return None if status is None else str(status)
