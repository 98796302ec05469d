"""The journey runtime: stimuli from storage -> the pure state machine -> one commit per batch.

Two ways work arrives:
- :meth:`JourneyEngine.process_contact`: a queued contact. Under a lock on the contact, its
  segment memberships are refreshed, then its unprocessed events are taken in id order; each
  goes to the contact's running enrolments (waits, goals, exits) and to the triggers of the
  active journeys (new enrolments). Events are marked processed and the queue row dropped in the
  same transaction as every transition they caused.
- :meth:`JourneyEngine.fire_due_timers`: due timer rows, claimed in batches (``SKIP LOCKED``),
  fired in due order per contact, deleted in the transaction that commits their transitions
  (``timers.py``); API requests (manual enrolment, signals) below.

The shared half (journey versions, batches, advancing and entering enrolments) is ``runs.py``.

Time only comes from the injected clock; nothing here sleeps. The machine is pure, so a
crash anywhere rolls back to the last commit and the same work is redone with the same
idempotency keys.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tidings.application.analytics import rollups
from tidings.application.control import chains
from tidings.application.ingest.batch import Batch, Live
from tidings.application.journeys import datetriggers, paused
from tidings.application.journeys.timers import TimerFiring
from tidings.application.ports.engine import EVENTS_PER_PASS, EngineStore
from tidings.application.scoring.scores import score_events
from tidings.domain.control.loops import cause_of_event
from tidings.domain.journeys import series
from tidings.domain.journeys.fanout import fan_out_event
from tidings.domain.journeys.model import (
    EnrollmentState,
    Entry,
    EventStimulus,
    JourneyDoc,
    PriorEnrollment,
    SentRecord,
    Signal,
)
from tidings.domain.journeys.signalnames import accepted_signals
from tidings.domain.journeys.timing import contact_zone
from tidings.domain.journeys.triggers import (
    manual_entry,
)
from tidings.domain.snapshot import ContactSnapshot, EventRecord
from tidings.domain.statuses import EnrolmentStatus

log = logging.getLogger("tidings.engine")


class EngineError(ValueError):
    """A request to the engine that cannot be honoured (unknown journey, paused, refused entry)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code



def _refresh_segments_many(
    tx: EngineStore,
    snapshots: Mapping[int, ContactSnapshot],
    pending: Mapping[int, Sequence[EventRecord]],
    now: datetime,
) -> tuple[dict[int, ContactSnapshot], dict[int, list[EventRecord]]]:
    from tidings.application.segments.memberships import refresh_contacts_in

    # the worker processes these contacts now: their segment.* events need no queue row of their own
    return refresh_contacts_in(tx.storage.segments, snapshots, pending, now, enqueue=False)


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


class JourneyEngine(TimerFiring):
    """The journey runtime the worker and the API use: queued contacts, timers, API requests."""

    # ----------------------------------------------------------------- queued contacts

    def has_claimable(self) -> bool:
        """Look before taking the write lock: an idle worker polls without writing (SQLite)."""
        with self.storage.reading() as tx:
            return tx.enrolments.has_claimable_contacts(self.clock.now())

    def claim_contacts(self, limit: int = 50, exclude: Sequence[int] = ()) -> list[int]:
        now = self.clock.now()
        if not self.has_claimable():
            return []
        with self.storage.writing() as tx:
            return tx.enrolments.claim_contacts(self.owner, now, self.lease, limit, exclude)

    def process_contact(self, tx: EngineStore, contact_id: int, now: datetime) -> int:
        """All pending work of one contact, in one transaction. Returns the transitions made.

        A batch of one (:meth:`process_contacts`): the worker's path when a batch failed.
        """
        return self.process_contacts(tx, [contact_id], now)

    def process_contacts(self, tx: EngineStore, contact_ids: Sequence[int], now: datetime) -> int:
        """:meth:`process_contact` for a batch of contacts in one transaction, with batched queries.

        The same steps and the same guarantees, for every contact of the batch: contact rows
        locked in ascending id order (two workers never advance one contact at once), one
        snapshot per contact loaded once and shared by the segment refresh and the journeys
        (patched with the refresh's memberships and ``segment.*`` events), and the queue rows
        dropped by ``EnrolmentRepository.finish_contacts`` under the queue protocol of ``store/queue.py``
        (events that arrived meanwhile, committed or not, keep their contact queued).
        Any exception rolls back the whole batch; the worker then redoes it one contact per
        transaction. Returns the transitions made.
        """
        ids = sorted(set(contact_ids))
        if not ids:
            return 0
        repo = tx.enrolments
        repo.lock_contacts(ids)
        pending = repo.unprocessed_events(ids, EVENTS_PER_PASS)
        heads = tx.journey_heads()
        snaps = tx.snapshots(ids, events=True, journeys=True, max_events=SNAPSHOT_EVENTS)
        records = {cid: [_record(r) for r in rows] for cid, rows in pending.items()}
        changed, added = _refresh_segments_many(tx, snaps, records, now)
        added = {cid: chains.attribute_segment_events(records.get(cid, ()), new) for cid, new in added.items()}
        snaps.update(changed)
        for cid, new in added.items():  # segment.* events: in the snapshot, and delivered now
            if len(records.get(cid, ())) < EVENTS_PER_PASS:  # else next pass, in id order
                records[cid] = [*records.get(cid, ()), *new]
            evs = sorted((*snaps[cid].events, *new), key=lambda e: (e.occurred_at, e.id or 0))
            snaps[cid] = replace(snaps[cid], events=tuple(evs[-SNAPSHOT_EVENTS:]))
        batch = self._batch(tx, now, heads)
        todo = [cid for cid in ids if records.get(cid) and cid in snaps]
        if todo:
            pre = self._prefetch(tx, heads, todo, now)
            for cid in todo:
                self._deliver_events(batch, heads, snaps[cid], records[cid], pre)
        batch.flush()
        if self.analytics is not None:  # the rollup hook: same transaction, one batch
            rollups.feed(self.analytics(tx.connection), [e for cid in ids for e in records.get(cid, ())])
        if self.scoring is not None:  # the scoring hook: same transaction, so an event scores once
            score_events(self.scoring(tx.connection), snaps, records, now)
        repo.mark_processed([int(e.id) for cid in ids for e in records.get(cid, ()) if e.id is not None], now)
        repo.finish_contacts(ids, now)
        return batch.transitions

    def _prefetch(
        self, tx: EngineStore, heads: Mapping[int, Mapping[str, Any]], contact_ids: Sequence[int], now: datetime
    ) -> _Prefetched:
        """Running enrolments, prior enrolments and recent sends of these contacts (3 queries at most)."""
        active = self._active_docs(tx, heads)
        lives: dict[int, list[tuple[Live, JourneyDoc]]] = defaultdict(list)
        for r in tx.enrolments.enrollments(contact_ids=list(contact_ids)):
            jid, cid = int(r["journey_id"]), int(r["contact_id"])
            if jid not in heads or heads[jid]["status"] == "archived":
                continue
            live = Live(int(r["id"]), cid, jid, int(r["version"]), EnrollmentState.from_dict(r["state"]))
            lives[cid].append((live, self.doc(tx, jid, live.version)))
        priors = self._priors(tx, contact_ids, [jid for jid, _, _ in active])
        any_caps = self._needs_recent([doc for ls in lives.values() for _, doc in ls]) or self._needs_recent(
            [doc for _, _, doc in active]
        )
        recent = self._recent(tx, contact_ids, now) if any_caps else None
        return _Prefetched(active, lives, priors, recent)

    def _deliver_events(
        self,
        batch: Batch,
        heads: Mapping[int, Mapping[str, Any]],
        contact: ContactSnapshot,
        events: list[EventRecord],
        pre: _Prefetched | None = None,
    ) -> None:
        if pre is None:
            pre = self._prefetch(batch.tx, heads, [contact.id], batch.now)
        rank = self.policy.rank  # priorities: the first journey listed takes a contested slot
        active = sorted(pre.active, key=lambda a: rank(a[2].key))
        lives = sorted(pre.lives.get(contact.id, ()), key=lambda ld: rank(ld[1].key))
        priors = pre.priors
        recent = pre.recent.get(contact.id, []) if pre.recent is not None else None
        journeys = [((jid, version), doc) for jid, version, doc in active]
        for event in events:

            def advance(live: Live, doc: JourneyDoc, stimulus: EventStimulus, event: EventRecord = event) -> None:
                if paused.hold_event(self, batch, live, doc, event, contact, recent):
                    return  # its journey is paused: held until resume (paused.py)
                self.advance_enrolment(batch, live, doc, stimulus, contact, recent)

            def enter(journey: tuple[int, int], doc: JourneyDoc, entry: Entry, event: EventRecord = event) -> None:
                jid, version = journey
                origin = cause_of_event(event.name, event.properties)
                new = self._enter(
                    batch, jid, version, doc, contact, entry, priors[(contact.id, jid)], recent, origin=origin
                )
                if new is not None:
                    lives.append((new, doc))

            fan_out_event(
                event, lives, journeys, lambda: contact, batch.now,
                state_of=lambda live: live.state, advance=advance, enter=enter,
            )  # fmt: skip
            for jid, _, doc in active:
                for trigger in datetriggers.date_triggers(doc):
                    if datetriggers.relevant(trigger, event):
                        datetriggers.replan_contact(batch.runs, jid, doc, trigger, contact, batch.now)

    # ----------------------------------------------------------------- API-driven stimuli

    def enroll(
        self, tx: EngineStore, journey_key: str, contact_id: int, key: str, now: datetime
    ) -> dict[str, Any]:
        """Manual / API enrolment (the journey's manual trigger, or none)."""
        heads = tx.journey_heads()
        jid = next((j for j, h in heads.items() if h["key"] == journey_key), None)
        if jid is None:
            raise EngineError("not_found", f"no journey {journey_key!r}")
        if heads[jid]["status"] != "active" or not heads[jid]["current_version"]:
            raise EngineError(
                "conflict", f"journey {journey_key!r} is {heads[jid]['status']}: it takes no entries"
            )
        tx.enrolments.lock_contacts([contact_id])
        contact = tx.snapshot(contact_id)
        if contact is None:
            raise EngineError("not_found", f"no contact {contact_id}")
        version = int(heads[jid]["current_version"])
        doc = self.doc(tx, jid, version)
        batch = self._batch(tx, now, heads)
        priors = self._priors(tx, [contact_id], [jid])[(contact_id, jid)]
        live = self._enter(
            batch,
            jid,
            version,
            doc,
            contact,
            manual_entry(doc, key),
            priors,
            self._recent(tx, [contact_id], now).get(contact_id, [])
            if self._needs_recent([doc])
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

    def self_service(self, tx: EngineStore, enrollment_id: int, now: datetime) -> dict[str, Any] | None:
        """What the contact's self-service page shows of one enrolment: its journey, whether it
        still runs, the signals it takes, and the next dates of its series (None: no enrolment)."""
        rows = tx.enrolments.enrollments(ids=[enrollment_id], live_only=False)
        if not rows:
            return None
        r = rows[0]
        state = EnrollmentState.from_dict(r["state"])
        doc = self.doc(tx, int(r["journey_id"]), int(r["version"]))
        contact = tx.snapshot(int(r["contact_id"]))
        dates: list[datetime] = []
        tz = contact_zone(contact, doc.settings.timezone) if contact is not None else None
        if contact is not None and state.status != EnrolmentStatus.ENDED:
            for step in doc.steps.values():
                if step.type == "repeat" and step.id in state.series:
                    st = state.series[step.id]
                    dates += series.upcoming(step, st, contact, state.variables, now, doc.settings.timezone)
        return {
            "enrollment_id": enrollment_id,
            "contact_id": int(r["contact_id"]),
            "journey": doc.name,
            "running": state.status != EnrolmentStatus.ENDED,
            "signals": sorted(accepted_signals(doc)),
            "upcoming": [d.astimezone(tz) for d in sorted(dates)],  # in the contact's zone
            "locale": (contact.locale if contact is not None else None) or "en",
        }

    def signal(
        self, tx: EngineStore, enrollment_id: int, name: str, data: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        """A self-service signal to a running enrolment (recorded and ignored if it has ended)."""
        contact_id = tx.enrolments.contact_of(enrollment_id)
        if contact_id is None:
            raise EngineError("not_found", f"no enrolment {enrollment_id}")
        tx.enrolments.lock_contacts([contact_id])
        r = tx.enrolments.enrollments(ids=[enrollment_id], live_only=False, for_update=True)[0]
        heads = tx.journey_heads()
        live = Live(
            int(r["id"]),
            int(r["contact_id"]),
            int(r["journey_id"]),
            int(r["version"]),
            EnrollmentState.from_dict(r["state"]),
        )
        doc = self.doc(tx, live.journey_id, live.version)
        contact = tx.snapshot(live.contact_id)
        if contact is None:
            raise EngineError("not_found", f"no contact {live.contact_id}")
        batch = self._batch(tx, now, heads)
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
