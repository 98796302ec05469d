"""In-memory enrolments, timers and held messages of journeys (twin of ``journey_runs_sql.py``)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tidings.domain.journeys.timing import PARKED_AT, PARKED_KEY
from tidings.store.journey_runs_sql import migration_trace
from tidings.store.memory.state import MemoryStore
from tidings.store.snapshots import snapshot_from_row

if TYPE_CHECKING:
    from tidings.domain.snapshot import ContactSnapshot


class MemoryJourneyRuns:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def enrollment_counts(self, journey_id: int) -> list[tuple[int, str, str | None, int]]:
        counts: dict[tuple[int, str, str | None], int] = {}
        for e in self.store.state.enrollments.values():
            if e["journey_id"] == journey_id:
                k = (int(e["version"]), str(e["status"]), e["step_id"])
                counts[k] = counts.get(k, 0) + 1
        return [(*k, n) for k, n in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or ""))]

    def waiting(self, journey_id: int, *, not_version: int, version: int | None = None) -> list[dict[str, Any]]:
        s = self.store.state
        return [
            {k: copy.deepcopy(e[k]) for k in ("id", "contact_id", "version", "step_id", "state")}
            for _, e in sorted(s.enrollments.items())
            if e["journey_id"] == journey_id
            and e["status"] == "waiting"
            and e["version"] != not_version
            and (version is None or e["version"] == version)
        ]

    def move(self, journey_id: int, moves: Sequence[Mapping[str, Any]], now: datetime) -> None:
        s = self.store.state
        for m in moves:
            e = s.enrollments[int(m["enrollment_id"])]
            e.update(version=m["to_version"], step_id=m["to_step"], state=copy.deepcopy(m["state"]), updated_at=now)
            s.traces.append({"id": s.next_id("traces")} | migration_trace(journey_id, m, now) | {"outbox_id": None})

    def _timers(self, journey_id: int) -> list[dict[str, Any]]:
        s = self.store.state
        mine = {i for i, e in s.enrollments.items() if e["journey_id"] == journey_id}
        return [
            t
            for t in s.timers.values()
            if t["enrollment_id"] in mine
            or (
                t["enrollment_id"] is None
                and t["kind"] == "date_trigger"
                and (t["payload"] or {}).get("journey_id") == journey_id
            )
        ]

    def _held_messages(self, journey_id: int, parked: bool) -> list[dict[str, Any]]:
        return [
            o
            for o in self.store.state.outbox.values()
            if o["journey_id"] == journey_id
            and o["status"] == "pending"
            and (o["next_attempt_at"] >= PARKED_AT) == parked
        ]

    def hold(self, journey_id: int) -> tuple[int, int]:
        timers = [t for t in self._timers(journey_id) if t["due_at"] < PARKED_AT]
        for t in timers:
            t["payload"] = {**(t["payload"] or {}), PARKED_KEY: t["due_at"].isoformat()}
            t["due_at"] = PARKED_AT
        messages = self._held_messages(journey_id, parked=False)
        for o in messages:
            o["next_attempt_at"] = PARKED_AT
        return len(timers), len(messages)

    def release(self, journey_id: int, now: datetime, *, skip_ended_by: Sequence[str]) -> dict[str, int]:
        timers = [t for t in self._timers(journey_id) if t["due_at"] >= PARKED_AT]
        for t in timers:
            payload = dict(t["payload"] or {})
            held = payload.pop(PARKED_KEY, None)
            t["due_at"] = datetime.fromisoformat(held) if held else t["due_at"]
            t["payload"] = payload
        enrollments = self.store.state.enrollments
        ended = {i for i, e in enrollments.items() if e["status"] == "ended" and e["end_reason"] in skip_ended_by}
        skipped = released = 0
        for o in self._held_messages(journey_id, parked=True):
            if o["enrollment_id"] in ended:
                o.update(status="skipped", error="enrolment ended while the journey was paused", next_attempt_at=now)
                skipped += 1
            else:
                o["next_attempt_at"] = now
                released += 1
        return {"released_timers": len(timers), "released_messages": released, "skipped_messages": skipped}

    def drop_date_triggers(self, journey_id: int, *, contact_id: int | None = None, trigger: int | None = None) -> None:
        s = self.store.state
        s.timers = {
            i: t
            for i, t in s.timers.items()
            if not (
                t["kind"] == "date_trigger"
                and t["enrollment_id"] is None
                and (t["payload"] or {}).get("journey_id") == journey_id
                and (contact_id is None or t["contact_id"] == contact_id)
                and (trigger is None or (t["payload"] or {}).get("trigger") == trigger)
            )
        }

    def contact_snapshots(self, after_id: int, limit: int, *, events: bool) -> list[ContactSnapshot]:
        """Without event history: the memory adapter keeps no events but the change events."""
        s = self.store.state
        ids = sorted(i for i in s.contacts if i > after_id)[:limit]
        return [
            snapshot_from_row(s.contacts[i], frozenset(s.contact_tags.get(i, [])), {}, (), frozenset(), {})
            for i in ids
        ]

    def segment_rules(self) -> dict[str, Any]:
        return copy.deepcopy(self.store.state.segment_rules)

    def add_timers(self, rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:
            self.store.add_timer(dict(row))

    def enrollment_timers(self, enrollment_id: int) -> list[dict[str, Any]]:
        timers = self.store.state.timers
        return [
            {k: copy.deepcopy(timers[i][k]) for k in ("id", "kind", "due_at", "payload")}
            for i in sorted(timers)
            if timers[i]["enrollment_id"] == enrollment_id
        ]

    def set_timer_payload(self, timer_id: int, payload: Mapping[str, Any]) -> None:
        self.store.state.timers[timer_id]["payload"] = copy.deepcopy(dict(payload))

    def journey_status(self, journey_id: int) -> str | None:
        journey = self.store.state.journeys.get(journey_id)
        return None if journey is None else str(journey["status"])
