"""The journey runtime: stimuli from storage -> the pure state machine -> one commit per batch.

Two ways work arrives:
- :meth:`JourneyEngine.process_contact`: a queued contact. Under a lock on the contact, its
  segment memberships are refreshed, then its unprocessed events are taken in id order; each
  goes to the contact's running enrolments (waits, goals, exits) and to the triggers of the
  active journeys (new enrolments). Events are marked processed and the queue row dropped in the
  same transaction as every transition they caused.
- :meth:`JourneyEngine.fire_due_timers`: due timer rows, claimed in batches (``SKIP LOCKED``),
  fired in due order per contact, deleted in the transaction that commits their transitions.

Time only comes from the injected clock; nothing here sleeps. The machine is pure, so a
crash anywhere rolls back to the last commit and the same work is redone with the same
idempotency keys.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tidings.application.ingest.batch import Batch, Live
from tidings.application.journeys import datetriggers, paused
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.machine import advance
from tidings.domain.journeys.model import (
    EngineContext,
    EnrollmentState,
    Entry,
    EventStimulus,
    JourneyDoc,
    PriorEnrollment,
    SentRecord,
    Signal,
    Stimulus,
    TimerDue,
    Transition,
)
from tidings.domain.journeys.triggers import date_trigger_entry, manual_entry, match_triggers, may_enter
from tidings.domain.snapshot import ContactSnapshot, EventRecord
from tidings.store import enrollments as est
from tidings.store import journeys as jst
from tidings.store import schema
from tidings.store.bulk_snapshots import load_snapshots
from tidings.store.db import read_only
from tidings.store.fastpath import Fast
from tidings.store.snapshots import load_snapshot

log = logging.getLogger("tidings.engine")


class EngineError(ValueError):
    """A request to the engine that cannot be honoured (unknown journey, paused, refused entry)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def needs_history(doc: JourneyDoc) -> bool:
    """Does anything in this journey read the contact's event history (so load it)?"""
    s = doc.settings
    if any(c.rule is not None for c in (*s.exit, *s.suppress, *s.goal)):
        return True
    return any(
        step.rules or step.type in ("behaviour", "wait_until", "branch") for step in doc.steps.values()
    )


def _refresh_segments_many(
    conn: sa.Connection,
    snapshots: Mapping[int, ContactSnapshot],
    pending: Mapping[int, Sequence[EventRecord]],
    now: datetime,
) -> tuple[dict[int, ContactSnapshot], dict[int, list[EventRecord]]]:
    from tidings.application.segments.memberships import refresh_contacts

    # the worker processes these contacts now: their segment.* events need no queue row of their own
    return refresh_contacts(conn, snapshots, pending, now, enqueue=False)


#: most recent events in a contact's snapshot on the event path (as ``store.snapshots.load_snapshot``).
SNAPSHOT_EVENTS = 5000


@dataclass
class _Prefetched:
    """What event delivery reads besides the snapshot, loaded once for a batch of contacts."""

    active: list[tuple[int, int, JourneyDoc]]
    lives: dict[int, list[tuple[Live, JourneyDoc]]]
    priors: dict[tuple[int, int], list[PriorEnrollment]]
    recent: dict[int, list[SentRecord]] | None


def _record(row: Mapping[str, Any]) -> EventRecord:
    return EventRecord(
        name=row["name"],
        occurred_at=row["occurred_at"],
        properties=row["properties"] or {},
        value=row["value"],
        id=row["id"],
    )


class JourneyEngine:
    """Stateless between transactions except for a cache of immutable journey versions."""

    def __init__(
        self, engine: sa.Engine, clock: Any, owner: str = "worker", lease: timedelta = timedelta(seconds=60)
    ) -> None:
        self.db = engine
        self.clock = clock
        self.owner = owner
        self.lease = lease
        self._docs: dict[tuple[int, int], JourneyDoc] = {}

    # ----------------------------------------------------------------- documents

    def doc(self, conn: sa.Connection, journey_id: int, version: int) -> JourneyDoc:
        key = (journey_id, version)
        doc = self._docs.get(key)
        if doc is None:
            row = jst.get_version(conn, journey_id, version)
            if row is None:
                raise LookupError(f"journey {journey_id} has no version {version}")
            doc = parse_journey(str(row["source"]))
            self._docs[key] = doc
        return doc

    def _active_docs(
        self, conn: sa.Connection, heads: Mapping[int, Mapping[str, Any]]
    ) -> list[tuple[int, int, JourneyDoc]]:
        out = []
        for jid, h in heads.items():
            if h["status"] == "active" and h["current_version"]:
                out.append((jid, int(h["current_version"]), self.doc(conn, jid, int(h["current_version"]))))
        return out

    def _batch(self, conn: sa.Connection, now: datetime, heads: Mapping[int, Mapping[str, Any]]) -> Batch:
        b = Batch(conn, now, {jid: str(h["status"]) for jid, h in heads.items()})
        b.enroll_other = lambda batch, key, contact, ekey, cause: self._enroll_other(
            batch, heads, key, contact, ekey, cause
        )
        return b

    def context(self, batch: Batch, live: Live, recent: Sequence[SentRecord] | None) -> EngineContext:
        sends = batch.sends.get(live.contact_id)
        if recent is not None and sends:
            recent = [*recent, *sends]
        return EngineContext(
            enrollment_id=live.id,
            journey_version=live.version,
            recent_sends=recent,
            journey_id=live.journey_id,
        )

    def advance_enrolment(
        self,
        batch: Batch,
        live: Live,
        doc: JourneyDoc,
        stimulus: Stimulus,
        contact: ContactSnapshot,
        recent: Sequence[SentRecord] | None,
    ) -> Transition | None:
        """Advance one enrolment; a bug in the machine ends that enrolment visibly, not the worker."""
        try:
            tr = advance(
                doc, live.state, stimulus, contact, batch.now, context=self.context(batch, live, recent)
            )
        except Exception as exc:  # noqa: BLE001 - isolate one enrolment's failure
            log.exception("journey %s enrolment %s failed on %s", doc.key, live.id, stimulus.name)
            state = EnrollmentState.from_dict(live.state.to_dict())
            state.status, state.end_reason, state.waiting = "ended", "error", None
            batch.updates[live.id] = {
                "_id": live.id,
                "status": "ended",
                "end_reason": "error",
                "step_id": state.step_id,
                "state": state.to_dict(),
                "updated_at": batch.now,
                "ended_at": batch.now,
                "version": live.version,
            }
            batch.cancel.add(live.id)
            live.state = state
            batch.trace_note(
                live.contact_id,
                live.journey_id,
                live.version,
                stimulus.name,
                "error",
                {"error": f"{type(exc).__name__}: {exc}"},
                live.id,
                state.step_id,
            )
            return None
        batch.apply(live, doc, tr, contact)
        return tr

    # ----------------------------------------------------------------- entering

    def _enter(
        self,
        batch: Batch,
        journey_id: int,
        version: int,
        doc: JourneyDoc,
        contact: ContactSnapshot,
        entry: Entry,
        priors: list[PriorEnrollment],
        recent: Sequence[SentRecord] | None,
        cause: Mapping[str, Any] | None = None,
    ) -> Live | None:
        ok, reason = may_enter(doc, priors, entry.key, batch.now)
        if not ok:
            batch.trace_note(
                contact.id,
                journey_id,
                version,
                "entry",
                "entry_refused",
                {
                    "reason": reason,
                    "key": entry.key,
                    "trigger": entry.trigger_index,
                    **({"cause": dict(cause)} if cause else {}),
                },
            )
            return None
        eid = est.insert_enrollments(
            batch.conn,
            [
                {
                    "contact_id": contact.id,
                    "journey_id": journey_id,
                    "version": version,
                    "enroll_key": entry.key,
                    "status": "active",
                    "step_id": None,
                    "state": {"journey": doc.key, "key": entry.key},
                    "entered_at": batch.now,
                    "updated_at": batch.now,
                }
            ],
        )[0]
        live = Live(eid, contact.id, journey_id, version, EnrollmentState(journey=doc.key, key=entry.key))
        priors.append(PriorEnrollment("active", None, batch.now, None, entry.key))
        try:
            tr = advance(doc, None, entry, contact, batch.now, context=self.context(batch, live, recent))
        except Exception as exc:  # noqa: BLE001
            log.exception("journey %s: entry of contact %s failed", doc.key, contact.id)
            batch.updates[eid] = {
                "_id": eid,
                "status": "ended",
                "end_reason": "error",
                "step_id": None,
                "state": live.state.to_dict(),
                "updated_at": batch.now,
                "ended_at": batch.now,
                "version": version,
            }
            batch.trace_note(
                contact.id,
                journey_id,
                version,
                "entry",
                "error",
                {"error": f"{type(exc).__name__}: {exc}"},
                eid,
            )
            return None
        if cause:
            batch.trace_note(contact.id, journey_id, version, "entry", "enrolled_by", dict(cause), eid)
        batch.apply(live, doc, tr, contact)
        return live

    def _priors(
        self, conn: sa.Connection, contact_ids: Sequence[int], journey_ids: Sequence[int]
    ) -> dict[tuple[int, int], list[PriorEnrollment]]:
        out: dict[tuple[int, int], list[PriorEnrollment]] = defaultdict(list)
        for r in est.prior_enrollments(conn, contact_ids, journey_ids):
            out[(int(r["contact_id"]), int(r["journey_id"]))].append(
                PriorEnrollment(r["status"], r["end_reason"], r["entered_at"], r["ended_at"], r["enroll_key"])
            )
        return out

    def _enroll_other(
        self,
        batch: Batch,
        heads: Mapping[int, Mapping[str, Any]],
        key: str,
        contact: ContactSnapshot,
        enroll_key: str,
        cause: dict[str, Any],
    ) -> None:
        jid = next((j for j, h in heads.items() if h["key"] == key), None)
        if jid is None or heads[jid]["status"] != "active" or not heads[jid]["current_version"]:
            batch.trace_note(
                contact.id,
                jid,
                None,
                "entry",
                "entry_refused",
                {"reason": f"journey {key!r} is not active", "cause": cause},
            )
            return
        version = int(heads[jid]["current_version"])
        doc = self.doc(batch.conn, jid, version)
        priors = self._priors(batch.conn, [contact.id], [jid])[(contact.id, jid)]
        self._enter(batch, jid, version, doc, contact, manual_entry(doc, enroll_key), priors, None, cause)

    # ----------------------------------------------------------------- queued contacts

    def has_claimable(self) -> bool:
        """Look before taking the write lock: an idle worker polls without writing (SQLite)."""
        with self.db.connect() as raw:
            conn = read_only(raw)
            with conn.begin():
                return est.has_claimable_contacts(conn, self.clock.now())

    def claim_contacts(self, limit: int = 50, exclude: Sequence[int] = ()) -> list[int]:
        now = self.clock.now()
        if not self.has_claimable():
            return []
        with self.db.begin() as conn:
            return est.claim_contacts(conn, self.owner, now, self.lease, limit, exclude)

    def process_contact(self, conn: sa.Connection, contact_id: int, now: datetime) -> int:
        """All pending work of one contact, in one transaction. Returns the transitions made.

        A batch of one (:meth:`process_contacts`): the worker's path when a batch failed.
        """
        return self.process_contacts(conn, [contact_id], now)

    def process_contacts(self, conn: sa.Connection, contact_ids: Sequence[int], now: datetime) -> int:
        """:meth:`process_contact` for a batch of contacts in one transaction, with batched queries.

        The same steps and the same guarantees, for every contact of the batch: contact rows
        locked in ascending id order (two workers never advance one contact at once), one
        snapshot per contact loaded once and shared by the segment refresh and the journeys
        (patched with the refresh's memberships and ``segment.*`` events), and the queue rows
        dropped by ``est.finish_contacts`` under the queue protocol of ``store/queue.py``
        (events that arrived meanwhile, committed or not, keep their contact queued).
        Any exception rolls back the whole batch; the worker then redoes it one contact per
        transaction. Returns the transitions made.
        """
        ids = sorted(set(contact_ids))
        if not ids:
            return 0
        Fast(conn).lock_contacts(ids)
        pending = est.unprocessed_events_many(conn, ids)
        heads = jst.journey_heads(conn)
        snaps = load_snapshots(conn, ids, events=True, journeys=True, max_events=SNAPSHOT_EVENTS)
        records = {cid: [_record(r) for r in rows] for cid, rows in pending.items()}
        changed, added = _refresh_segments_many(conn, snaps, records, now)
        snaps.update(changed)
        for cid, new in added.items():  # segment.* events: in the snapshot, and delivered now
            if len(records.get(cid, ())) < est.EVENTS_PER_PASS:  # else next pass, in id order
                records[cid] = [*records.get(cid, ()), *new]
            evs = sorted((*snaps[cid].events, *new), key=lambda e: (e.occurred_at, e.id or 0))
            snaps[cid] = replace(snaps[cid], events=tuple(evs[-SNAPSHOT_EVENTS:]))
        batch = self._batch(conn, now, heads)
        todo = [cid for cid in ids if records.get(cid) and cid in snaps]
        if todo:
            pre = self._prefetch(conn, heads, todo, now)
            for cid in todo:
                self._deliver_events(batch, heads, snaps[cid], records[cid], pre)
        batch.flush()
        est.mark_processed(conn, [int(e.id) for cid in ids for e in records.get(cid, ()) if e.id is not None], now)
        est.finish_contacts(conn, ids, now)
        return batch.transitions

    def _prefetch(
        self, conn: sa.Connection, heads: Mapping[int, Mapping[str, Any]], contact_ids: Sequence[int], now: datetime
    ) -> _Prefetched:
        """Running enrolments, prior enrolments and recent sends of these contacts (3 queries at most)."""
        active = self._active_docs(conn, heads)
        lives: dict[int, list[tuple[Live, JourneyDoc]]] = defaultdict(list)
        for r in est.load_enrollments(conn, contact_ids=list(contact_ids)):
            jid, cid = int(r["journey_id"]), int(r["contact_id"])
            if jid not in heads or heads[jid]["status"] == "archived":
                continue
            live = Live(int(r["id"]), cid, jid, int(r["version"]), EnrollmentState.from_dict(r["state"]))
            lives[cid].append((live, self.doc(conn, jid, live.version)))
        priors = self._priors(conn, contact_ids, [jid for jid, _, _ in active])
        any_caps = any(doc.settings.frequency_caps for ls in lives.values() for _, doc in ls) or any(
            doc.settings.frequency_caps for _, _, doc in active
        )
        recent = self._recent(conn, contact_ids, now) if any_caps else None
        return _Prefetched(active, lives, priors, recent)

    def _deliver_events(
        self,
        batch: Batch,
        heads: Mapping[int, Mapping[str, Any]],
        contact: ContactSnapshot,
        events: list[EventRecord],
        pre: _Prefetched | None = None,
    ) -> None:
        conn = batch.conn
        if pre is None:
            pre = self._prefetch(conn, heads, [contact.id], batch.now)
        active = pre.active
        lives = list(pre.lives.get(contact.id, ()))
        priors = pre.priors
        recent = pre.recent.get(contact.id, []) if pre.recent is not None else None
        for event in events:
            for live, doc in list(lives):
                if live.state.status == "ended":
                    continue
                if paused.hold_event(self, batch, live, doc, event, contact, recent):
                    continue  # its journey is paused: held until resume (services/paused.py)
                self.advance_enrolment(batch, live, doc, EventStimulus(event), contact, recent)
            for jid, version, doc in active:
                for entry in match_triggers(doc, event, contact, batch.now):
                    new = self._enter(
                        batch, jid, version, doc, contact, entry, priors[(contact.id, jid)], recent
                    )
                    if new is not None:
                        lives.append((new, doc))
            for jid, _, doc in active:
                for trigger in datetriggers.date_triggers(doc):
                    if datetriggers.relevant(trigger, event):
                        datetriggers.replan_contact(conn, jid, doc, trigger, contact, batch.now)

    def _recent(
        self, conn: sa.Connection, contact_ids: Sequence[int], now: datetime
    ) -> dict[int, list[SentRecord]]:
        out: dict[int, list[SentRecord]] = defaultdict(list)
        for r in est.recent_sends(conn, contact_ids, now - timedelta(days=31)):
            out[int(r["contact_id"])].append(
                SentRecord(r["channel"] or "", r["sent_at"] or r["created_at"], r["category"])
            )
        return out

    # ----------------------------------------------------------------- timers

    def fire_due_timers(self, limit: int = 500) -> int:
        """Claim and fire up to ``limit`` due timers in one transaction. Returns how many fired."""
        now = self.clock.now()
        with self.db.connect() as raw:
            conn = read_only(raw)
            with conn.begin():
                due = est.next_due(conn)
            if due is None or due > now:
                return 0
        with self.db.begin() as conn:
            now = self.clock.now()
            rows = Fast(conn).due_timers(now, limit)
            if not rows:
                return 0
            self.fire(conn, rows, now)
            return len(rows)

    def fire(self, conn: sa.Connection, rows: Sequence[Mapping[str, Any]], now: datetime) -> Batch:
        contact_ids = sorted({int(r["contact_id"]) for r in rows})
        Fast(conn).lock_contacts(contact_ids)
        heads = jst.journey_heads(conn)
        batch = self._batch(conn, now, heads)
        enr = {
            int(r["id"]): r
            for r in Fast(conn).enrollments(
                [int(r["enrollment_id"]) for r in rows if r["enrollment_id"] is not None]
            )
        }
        docs: dict[int, JourneyDoc] = {}
        lives: dict[int, Live] = {}
        for eid, er in enr.items():
            jid, version = int(er["journey_id"]), int(er["version"])
            lives[eid] = Live(
                eid, int(er["contact_id"]), jid, version, EnrollmentState.from_dict(er["state"])
            )
            docs[eid] = self.doc(conn, jid, version)
        date_jids = {
            int((r["payload"] or {}).get("journey_id", 0)) for r in rows if r["enrollment_id"] is None
        }
        date_docs = {
            jid: self.doc(conn, jid, int(heads[jid]["current_version"]))
            for jid in date_jids
            if jid in heads and heads[jid]["current_version"]
        }
        all_docs = [*docs.values(), *date_docs.values()]
        snaps = load_snapshots(conn, contact_ids, events=any(needs_history(d) for d in all_docs))
        recent = (
            self._recent(conn, contact_ids, now) if any(d.settings.frequency_caps for d in all_docs) else None
        )
        priors = self._priors(conn, contact_ids, sorted(date_docs)) if date_docs else {}
        # index order is by due time only (an id tie-break would sort every due row): order here
        for r in sorted(rows, key=lambda row: (row["due_at"], row["id"])):
            batch.fired.append(int(r["id"]))
            contact = snaps.get(int(r["contact_id"]))
            if contact is None:
                continue
            rec = recent.get(contact.id, []) if recent is not None else None
            if r["enrollment_id"] is None:
                self._fire_date_trigger(batch, r, heads, date_docs, contact, priors, rec)
                continue
            eid = int(r["enrollment_id"])
            live = lives.get(eid)
            if live is None:
                continue
            if heads.get(live.journey_id, {}).get("status") == "paused":
                batch.fired.pop()  # raced with a pause: hold it instead
                est.park_journey_timers(conn, live.journey_id)
                continue
            if paused.is_held(r):  # events/signals held during a pause, applied on resume
                paused.release(self, batch, live, docs[eid], r, contact, rec)
                continue
            payload = {k: v for k, v in (r["payload"] or {}).items() if k != est.PARKED_KEY}
            self.advance_enrolment(
                batch, live, docs[eid], TimerDue(int(r["id"]), str(r["kind"]), payload), contact, rec
            )
        batch.flush()
        return batch

    def _fire_date_trigger(
        self,
        batch: Batch,
        r: Mapping[str, Any],
        heads: Mapping[int, Mapping[str, Any]],
        date_docs: Mapping[int, JourneyDoc],
        contact: ContactSnapshot,
        priors: dict[tuple[int, int], list[PriorEnrollment]],
        recent: Sequence[SentRecord] | None,
    ) -> None:
        payload = r["payload"] or {}
        jid = int(payload.get("journey_id", 0))
        doc = date_docs.get(jid)
        if doc is None or heads[jid]["status"] != "active":
            return
        index = int(payload.get("trigger", -1))
        trigger = next((t for t in doc.triggers if t.index == index), None)
        if trigger is None:
            return
        version = int(heads[jid]["current_version"])
        entry = date_trigger_entry(doc, trigger, contact, r["due_at"])
        if entry is not None:
            self._enter(
                batch, jid, version, doc, contact, entry, priors.setdefault((contact.id, jid), []), recent
            )
        due = datetriggers.next_date_trigger(doc, trigger, contact, r["due_at"])
        if due is not None:
            est.insert_timers(batch.conn, [datetriggers.timer_row(jid, doc, trigger, contact.id, due, False)])

    # ----------------------------------------------------------------- API-driven stimuli

    def enroll(
        self, conn: sa.Connection, journey_key: str, contact_id: int, key: str, now: datetime
    ) -> dict[str, Any]:
        """Manual / API enrolment (the journey's manual trigger, or none)."""
        heads = jst.journey_heads(conn)
        jid = next((j for j, h in heads.items() if h["key"] == journey_key), None)
        if jid is None:
            raise EngineError("not_found", f"no journey {journey_key!r}")
        if heads[jid]["status"] != "active" or not heads[jid]["current_version"]:
            raise EngineError(
                "conflict", f"journey {journey_key!r} is {heads[jid]['status']}: it takes no entries"
            )
        est.lock_contacts(conn, [contact_id])
        contact = load_snapshot(conn, contact_id)
        if contact is None:
            raise EngineError("not_found", f"no contact {contact_id}")
        version = int(heads[jid]["current_version"])
        doc = self.doc(conn, jid, version)
        batch = self._batch(conn, now, heads)
        priors = self._priors(conn, [contact_id], [jid])[(contact_id, jid)]
        live = self._enter(
            batch,
            jid,
            version,
            doc,
            contact,
            manual_entry(doc, key),
            priors,
            self._recent(conn, [contact_id], now).get(contact_id, [])
            if doc.settings.frequency_caps
            else None,
        )
        refusal = next((t["detail"]["reason"] for t in batch.traces if t["action"] == "entry_refused"), None)
        batch.flush()
        if live is None:
            raise EngineError("conflict", f"contact {contact_id} may not enter {journey_key!r}: {refusal}")
        return {
            "enrollment_id": live.id,
            "journey": journey_key,
            "version": version,
            "key": key,
            "status": live.state.status,
            "step": live.state.step_id,
        }

    def signal(
        self, conn: sa.Connection, enrollment_id: int, name: str, data: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        """A self-service signal to a running enrolment (recorded and ignored if it has ended)."""
        e = schema.enrollments
        row = conn.execute(sa.select(e.c.contact_id).where(e.c.id == enrollment_id)).first()
        if row is None:
            raise EngineError("not_found", f"no enrolment {enrollment_id}")
        est.lock_contacts(conn, [int(row[0])])
        r = est.load_enrollments(conn, ids=[enrollment_id], live_only=False, for_update=True)[0]
        heads = jst.journey_heads(conn)
        live = Live(
            int(r["id"]),
            int(r["contact_id"]),
            int(r["journey_id"]),
            int(r["version"]),
            EnrollmentState.from_dict(r["state"]),
        )
        doc = self.doc(conn, live.journey_id, live.version)
        contact = load_snapshot(conn, live.contact_id)
        if contact is None:
            raise EngineError("not_found", f"no contact {live.contact_id}")
        batch = self._batch(conn, now, heads)
        if (held := paused.hold_signal(self, batch, live, doc, Signal(name, dict(data)), contact)) is not None:
            return held
        tr = self.advance_enrolment(batch, live, doc, Signal(name, dict(data)), contact, None)
        batch.flush()
        return {
            "enrollment_id": live.id,
            "accepted": bool(tr and tr.changed),
            "status": live.state.status,
            "step": live.state.step_id,
            "waiting_until": live.state.waiting.until if live.state.waiting else None,
            "trace": [
                {"action": t.action, "step": t.step_id, "detail": dict(t.detail)}
                for t in (tr.trace if tr else [])
            ],
        }
