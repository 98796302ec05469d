"""Timers: due timer rows claimed in batches (``SKIP LOCKED``), fired in due order per contact,
deleted in the transaction that commits their transitions; date triggers planned again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tidings.application.ingest.batch import Batch, Live
from tidings.application.journeys import datetriggers, paused
from tidings.application.journeys.runs import Runs, needs_history
from tidings.application.ports.engine import EngineStore
from tidings.domain.journeys.model import (
    EnrollmentState,
    JourneyDoc,
    PriorEnrollment,
    SentRecord,
    TimerDue,
)
from tidings.domain.journeys.timing import PARKED_KEY
from tidings.domain.journeys.triggers import (
    date_trigger_entry,
    next_date_trigger,
)
from tidings.domain.snapshot import ContactSnapshot


class TimerFiring(Runs):
    """:class:`Runs` that fire due timers."""

    def fire_due_timers(self, limit: int = 500) -> int:
        """Claim and fire up to ``limit`` due timers in one transaction. Returns how many fired."""
        now = self.clock.now()
        with self.storage.reading() as tx:
            due = tx.enrolments.next_due()
        if due is None or due > now:
            return 0
        with self.storage.writing() as tx:
            now = self.clock.now()
            rows = tx.enrolments.due_timers(now, limit)
            if not rows:
                return 0
            self.fire(tx, rows, now)
            return len(rows)

    def fire(self, tx: EngineStore, rows: Sequence[Mapping[str, Any]], now: datetime) -> Batch:
        """Fire these claimed timer rows on the caller's transaction (it deletes them, then commits)."""
        contact_ids = sorted({int(r["contact_id"]) for r in rows})
        tx.enrolments.lock_contacts(contact_ids)
        heads = tx.journey_heads()
        batch = self._batch(tx, now, heads)
        enr = {
            int(r["id"]): r
            for r in tx.enrolments.states(
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
            docs[eid] = self.doc(tx, jid, version)
        date_jids = {
            int((r["payload"] or {}).get("journey_id", 0)) for r in rows if r["enrollment_id"] is None
        }
        date_docs = {
            jid: self.doc(tx, jid, int(heads[jid]["current_version"]))
            for jid in date_jids
            if jid in heads and heads[jid]["current_version"]
        }
        all_docs = [*docs.values(), *date_docs.values()]
        snaps = tx.snapshots(contact_ids, events=any(needs_history(d) for d in all_docs))
        recent = self._recent(tx, contact_ids, now) if self._needs_recent(all_docs) else None
        priors = self._priors(tx, contact_ids, sorted(date_docs)) if date_docs else {}
        # index order is by due time only (an id tie-break would sort every due row): order here
        def rank(row: Mapping[str, Any]) -> int:  # priorities: the first journey listed takes a contested slot
            doc = docs.get(int(row["enrollment_id"] or 0))
            return self.policy.rank(doc.key) if doc is not None else 0

        for r in sorted(rows, key=lambda row: (row["due_at"], rank(row), row["id"])):
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
                tx.enrolments.park_journey_timers(live.journey_id)
                continue
            if paused.is_held(r):  # events/signals held during a pause, applied on resume
                paused.release(self, batch, live, docs[eid], r, contact, rec)
                continue
            payload = {k: v for k, v in (r["payload"] or {}).items() if k != PARKED_KEY}
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
        due = next_date_trigger(doc, trigger, contact, r["due_at"])
        if due is not None:
            batch.tx.enrolments.insert_timers([datetriggers.timer_row(jid, doc, trigger, contact.id, due, False)])
