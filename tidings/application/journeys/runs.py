"""Runs of enrolments: the shared half of the journey engine.

Journey versions (cached, immutable), one transaction's :class:`Batch`, the context of a
transition, advancing one enrolment through the pure machine and entering new ones.
``timers.py`` (timer rows) and ``engine.py`` (queued contacts, API requests) build on it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from tidings.application.control import chains, policies
from tidings.application.ingest.batch import Batch, Live
from tidings.application.ports.analytics import AnalyticsFactory
from tidings.application.ports.control import ControlFactory, ControlRepository
from tidings.application.ports.engine import EngineStorage, EngineStore
from tidings.application.ports.scoring import ScoringFactory
from tidings.domain.analytics.holdout import in_control_group
from tidings.domain.control.loops import Cause, LoopStop
from tidings.domain.control.policy import SendPolicy
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.machine import advance
from tidings.domain.journeys.model import (
    EngineContext,
    EnrollmentState,
    Entry,
    JourneyDoc,
    PriorEnrollment,
    SentRecord,
    Stimulus,
    Transition,
)
from tidings.domain.journeys.triggers import (
    manual_entry,
    may_enter,
)
from tidings.domain.snapshot import ContactSnapshot
from tidings.domain.statuses import EnrolmentStatus

log = logging.getLogger("tidings.engine")


def needs_history(doc: JourneyDoc) -> bool:
    """Does anything in this journey read the contact's event history (so load it)?"""
    s = doc.settings
    if any(c.rule is not None for c in (*s.exit, *s.suppress, *s.goal)):
        return True
    return any(
        step.rules or step.type in ("behaviour", "wait_until", "branch") for step in doc.steps.values()
    )


class Runs:
    """Stateless between transactions except for a cache of immutable journey versions."""


    def __init__(
        self,
        storage: EngineStorage,
        clock: Any,
        owner: str = "worker",
        lease: timedelta = timedelta(seconds=60),
        *,
        control: ControlFactory,
        analytics: AnalyticsFactory | None = None,
        scoring: ScoringFactory | None = None,
    ) -> None:
        #: opens the engine's transactions or joins the caller's (``store/engine_sql.py``)
        self.storage = storage
        self.clock = clock
        self.owner = owner
        self.lease = lease
        self._docs: dict[tuple[int, int], JourneyDoc] = {}
        #: the control repository on a transaction's connection (loop breaker, send policy).
        self.control = control
        #: the analytics repository the rollup hook feeds (None: no rollups, e.g. unit-level tests).
        self.analytics = analytics
        #: the scoring repository the scoring hook moves scores in (None: no scoring).
        self.scoring = scoring
        #: the global send policy, read at the start of every batch (``application/control``).
        self.policy = SendPolicy()

    # ----------------------------------------------------------------- documents

    def doc(self, tx: EngineStore, journey_id: int, version: int) -> JourneyDoc:
        key = (journey_id, version)
        doc = self._docs.get(key)
        if doc is None:
            source = tx.journey_source(journey_id, version)
            if source is None:
                raise LookupError(f"journey {journey_id} has no version {version}")
            doc = parse_journey(source)
            self._docs[key] = doc
        return doc

    def _active_docs(
        self, tx: EngineStore, heads: Mapping[int, Mapping[str, Any]]
    ) -> list[tuple[int, int, JourneyDoc]]:
        out = []
        for jid, h in heads.items():
            if h["status"] == "active" and h["current_version"]:
                out.append((jid, int(h["current_version"]), self.doc(tx, jid, int(h["current_version"]))))
        return out

    def _needs_recent(self, docs: Any) -> bool:
        """Recent sends are read when a journey cap or the global policy may count them."""
        return bool(self.policy.caps) or any(d.settings.frequency_caps for d in docs)

    def _batch(self, tx: EngineStore, now: datetime, heads: Mapping[int, Mapping[str, Any]]) -> Batch:
        self.policy = policies.load(self.control(tx.connection))
        b = Batch(tx, now, {jid: str(h["status"]) for jid, h in heads.items()})
        b.analytics = self.analytics(tx.connection) if self.analytics is not None else None
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
            rollouts=self._rollouts(batch, live),
            policy=self.policy,
        )

    def _rollouts(self, batch: Batch, live: Live) -> Mapping[str, str]:
        """Decided experiments of this journey (automatic rollouts and manual decisions); read once
        per batch, only for journeys with an experiment on a split step."""
        doc = self._docs.get((live.journey_id, live.version))
        if doc is None or not any(st.type == "split" and st.config.get("experiment") for st in doc.steps.values()):
            return {}
        if batch.rollouts is None:
            batch.rollouts = batch.tx.experiment_rollouts()
        return batch.rollouts.get(live.journey_id, {})

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
            state.status, state.end_reason, state.waiting = EnrolmentStatus.ENDED, "error", None
            batch.updates[live.id] = {
                "_id": live.id,
                "status": EnrolmentStatus.ENDED,
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
        origin: Cause | None = None,
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
        if origin is None and cause:
            origin = chains.enrol_cause(cause)
        admission = None
        repo: ControlRepository | None = None
        if origin is not None:  # the loop breaker (application/control/chains.py)
            repo = self.control(batch.tx.connection)
            admission = chains.admit(repo, doc, origin, self.policy.loop, batch.now)
            if isinstance(admission, LoopStop):
                batch.trace_note(
                    contact.id, journey_id, version, "entry", "loop_stopped",
                    {**admission.to_dict(), "cause": origin.to_dict()},
                )
                chains.alert_for(repo, admission, contact.id, batch.now, self.policy.notify_webhook)
                return None
        eid = batch.tx.enrolments.insert_enrollments(
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
        if isinstance(admission, chains.Admission) and repo is not None:
            chains.record(repo, eid, contact.id, doc, admission, batch.now)
        live = Live(eid, contact.id, journey_id, version, EnrollmentState(journey=doc.key, key=entry.key))
        control = doc.settings.control_group
        batch.entered(live, bool(control) and in_control_group(doc.key, contact.id, control))
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
        self, tx: EngineStore, contact_ids: Sequence[int], journey_ids: Sequence[int]
    ) -> dict[tuple[int, int], list[PriorEnrollment]]:
        out: dict[tuple[int, int], list[PriorEnrollment]] = defaultdict(list)
        for r in tx.enrolments.prior_enrollments(contact_ids, journey_ids):
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
        doc = self.doc(batch.tx, jid, version)
        priors = self._priors(batch.tx, [contact.id], [jid])[(contact.id, jid)]
        self._enter(batch, jid, version, doc, contact, manual_entry(doc, enroll_key), priors, None, cause)

    def _recent(
        self, tx: EngineStore, contact_ids: Sequence[int], now: datetime
    ) -> dict[int, list[SentRecord]]:
        out: dict[int, list[SentRecord]] = defaultdict(list)
        for r in tx.enrolments.recent_sends(contact_ids, now - timedelta(days=31)):
            out[int(r["contact_id"])].append(
                SentRecord(r["channel"] or "", r["sent_at"] or r["created_at"], r["category"])
            )
        return out
