"""In-memory twin of the worker's enrolment repository (``enrolments_sql.py``, ``EnrolmentRepository``).

The queue is ``MemoryState.queued_contacts`` (what the other memory repositories enqueue) with
the lease of each claimed contact in ``MemoryState.queue_leases``; the store's lock serialises
work on contacts, so ``lock_contacts`` has nothing to do.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from tidings.domain.journeys.timing import PARKED_AT, PARKED_KEY
from tidings.domain.statuses import EnrolmentStatus
from tidings.store.enrolments_sql import OUTBOX_COLS, TIMER_COLS, TRACE_COLS
from tidings.store.memory.state import MemoryStore, blank_row

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SENT = ("pending", "sending", "sent", "delivered")


class MemoryEnrolments:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    # ----------------------------------------------------------------- contact queue

    def _free(self, contact_id: int, now: datetime) -> bool:
        until = self.store.state.queue_leases.get(contact_id, {}).get("lease_until")
        return until is None or until < now

    def has_claimable_contacts(self, now: datetime) -> bool:
        return any(self._free(cid, now) for cid in self.store.state.queued_contacts)

    def claim_contacts(
        self, owner: str, now: datetime, lease: timedelta, limit: int, exclude: Iterable[int] = ()
    ) -> list[int]:
        s = self.store.state
        skip = set(exclude)
        free = [cid for cid in s.queued_contacts if cid not in skip and self._free(cid, now)]
        free.sort(key=lambda cid: (s.queue_leases.get(cid, {}).get("queued_at") or _EPOCH, cid))
        ids = free[:limit]
        for cid in ids:
            s.queue_leases.setdefault(cid, {}).update(lease_owner=owner, lease_until=now + lease)
        return ids

    def release_contact(self, contact_id: int, until: datetime | None = None, owner: str | None = None) -> None:
        s = self.store.state
        if contact_id in s.queued_contacts:
            s.queue_leases.setdefault(contact_id, {}).update(lease_owner=owner, lease_until=until)

    def finish_contacts(self, contact_ids: Sequence[int], now: datetime) -> list[int]:
        s = self.store.state
        done = sorted(set(contact_ids))
        for cid in done:
            s.queued_contacts.discard(cid)
            s.queue_leases.pop(cid, None)
        again = {int(e["contact_id"]) for e in s.events if e["contact_id"] in done and e["processed_at"] is None}
        self.enqueue(again, now)
        return sorted(again)

    def enqueue(self, contact_ids: Iterable[int], now: datetime) -> None:
        s = self.store.state
        for cid in set(contact_ids):
            if cid not in s.queued_contacts:
                s.queued_contacts.add(cid)
                s.queue_leases[cid] = {"queued_at": now, "lease_owner": None, "lease_until": None}

    def lock_contacts(self, contact_ids: Sequence[int]) -> None:
        """Nothing to do: the store's lock serialises the units of work."""

    # ----------------------------------------------------------------- events

    def unprocessed_events(self, contact_ids: Sequence[int], limit: int) -> dict[int, list[dict[str, Any]]]:
        ids = set(contact_ids)
        out: dict[int, list[dict[str, Any]]] = {}
        for e in sorted(self.store.state.events, key=lambda e: e["id"]):
            if e["contact_id"] in ids and e["processed_at"] is None:
                got = out.setdefault(int(e["contact_id"]), [])
                if len(got) < limit:
                    got.append(
                        {
                            "id": e["id"],
                            "contact_id": e["contact_id"],
                            "name": e["name"],
                            "properties": copy.deepcopy(e["properties"] or {}),
                            "occurred_at": e["occurred_at"],
                            "value": None if e["value"] is None else float(e["value"]),
                        }
                    )
        return out

    def mark_processed(self, event_ids: Sequence[int], now: datetime) -> None:
        ids = set(event_ids)
        for e in self.store.state.events:
            if e["id"] in ids:
                e["processed_at"] = now

    def append_events(self, rows: Sequence[Mapping[str, Any]], now: datetime) -> None:
        if not rows:
            return
        from tidings.store import schema

        s = self.store.state
        seen = {e["message_id"] for e in s.events if e["message_id"] is not None}
        for r in rows:
            if r.get("message_id") is not None and r["message_id"] in seen:
                continue
            seen.add(r.get("message_id"))
            row = {"occurred_at": now, "received_at": now, "source": "journey", "value": None, **copy.deepcopy(dict(r))}
            s.events.append(blank_row(schema.events) | row | {"id": s.next_id("events")})
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
        wanted, contacts = set(ids), set(contact_ids)
        return [
            copy.deepcopy(e)
            for _, e in sorted(self.store.state.enrollments.items())
            if (e["id"] in wanted or e["contact_id"] in contacts)
            and not (live_only and e["status"] == EnrolmentStatus.ENDED)
        ]

    def states(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        s = self.store.state
        return [
            {k: copy.deepcopy(s.enrollments[i][k]) for k in ("id", "contact_id", "journey_id", "version", "state")}
            for i in sorted(set(ids))
            if i in s.enrollments
        ]

    def contact_of(self, enrollment_id: int) -> int | None:
        e = self.store.state.enrollments.get(enrollment_id)
        return None if e is None else int(e["contact_id"])

    def prior_enrollments(self, contact_ids: Sequence[int], journey_ids: Sequence[int]) -> list[dict[str, Any]]:
        cols = ("id", "contact_id", "journey_id", "enroll_key", "status", "end_reason", "entered_at", "ended_at")
        contacts, journeys = set(contact_ids), set(journey_ids)
        return [
            {k: e[k] for k in cols}
            for _, e in sorted(self.store.state.enrollments.items())
            if e["contact_id"] in contacts and e["journey_id"] in journeys
        ]

    def insert_enrollments(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        from tidings.store import schema

        s = self.store.state
        out = []
        for r in rows:
            eid = s.next_id("enrollments")
            s.enrollments[eid] = blank_row(schema.enrollments) | copy.deepcopy(dict(r)) | {"id": eid}
            out.append(eid)
        return out

    def update_enrollments(self, rows: Sequence[Mapping[str, Any]]) -> None:
        s = self.store.state
        cols = ("status", "end_reason", "step_id", "state", "updated_at", "ended_at", "version")
        for r in rows:
            e = s.enrollments.get(int(r["_id"]))
            if e is not None:
                e.update({c: copy.deepcopy(r[c]) for c in cols})

    # ----------------------------------------------------------------- timers

    def next_due(self) -> datetime | None:
        return min((t["due_at"] for t in self.store.state.timers.values()), default=None)

    def due_timers(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        due = sorted((t for t in self.store.state.timers.values() if t["due_at"] <= now), key=lambda t: t["due_at"])
        cols = ("id", "contact_id", "enrollment_id", "kind", "due_at", "payload")
        return [{c: copy.deepcopy(t[c]) for c in cols} for t in due[:limit]]

    def insert_timers(self, rows: Sequence[Mapping[str, Any]]) -> None:
        from tidings.store import schema

        s = self.store.state
        for r in rows:
            tid = s.next_id("timers")
            s.timers[tid] = blank_row(schema.timers) | {c: copy.deepcopy(r[c]) for c in TIMER_COLS} | {"id": tid}

    def delete_timers(self, ids: Sequence[int], enrollment_ids: Sequence[int] = ()) -> None:
        s = self.store.state
        gone, enrolments = set(ids), set(enrollment_ids)
        s.timers = {i: t for i, t in s.timers.items() if i not in gone and t["enrollment_id"] not in enrolments}

    def park_journey_timers(self, journey_id: int) -> int:
        s = self.store.state
        mine = {i for i, e in s.enrollments.items() if e["journey_id"] == journey_id}
        n = 0
        for t in s.timers.values():
            payload = t["payload"] or {}
            ours = t["enrollment_id"] in mine or (
                t["enrollment_id"] is None and t["kind"] == "date_trigger" and payload.get("journey_id") == journey_id
            )
            if ours and t["due_at"] < PARKED_AT:
                t["payload"] = {**payload, PARKED_KEY: t["due_at"].isoformat()}
                t["due_at"] = PARKED_AT
                n += 1
        return n

    # ----------------------------------------------------------------- traces and outbox

    def allocate_ids(self, counts: Mapping[str, int]) -> dict[str, list[int]]:
        s = self.store.state
        return {t: [s.next_id(t) for _ in range(n)] for t, n in counts.items()}

    def insert_outbox(self, rows: Sequence[Mapping[str, Any]]) -> int:
        from tidings.store import schema

        s = self.store.state
        keys = {o["idempotency_key"] for o in s.outbox.values()}
        n = 0
        for r in rows:
            if r["idempotency_key"] in keys:
                continue
            keys.add(r["idempotency_key"])
            s.outbox[int(r["id"])] = blank_row(schema.outbox) | {c: copy.deepcopy(r[c]) for c in OUTBOX_COLS}
            n += 1
        return n

    def existing_outbox(self, keys: Sequence[str]) -> dict[str, int]:
        wanted = set(keys)
        outbox = self.store.state.outbox
        return {str(o["idempotency_key"]): int(i) for i, o in outbox.items() if o["idempotency_key"] in wanted}

    def insert_traces(self, rows: Sequence[Mapping[str, Any]]) -> None:
        from tidings.store import schema

        for r in rows:
            self.store.state.traces.append(blank_row(schema.traces) | {c: copy.deepcopy(r[c]) for c in TRACE_COLS})

    def recent_sends(self, contact_ids: Sequence[int], since: datetime) -> list[dict[str, Any]]:
        contacts = set(contact_ids)
        cols = ("contact_id", "channel", "category", "created_at", "sent_at")
        return [
            {c: o[c] for c in cols}
            for o in self.store.state.outbox.values()
            if o["contact_id"] in contacts
            and o["kind"] == "message"
            and o["status"] in _SENT
            and o["created_at"] >= since
        ]
