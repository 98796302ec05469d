"""A paused journey holds its people in place: nothing of it moves or sends until resume.

What a pause means (``application/journeys/journeys.pause`` / ``resume``):

- no new entries (the engine only matches triggers of *active* journeys);
- timers are parked (``EnrolmentRepository.park_journey_timers``), and so are the journey's
  messages still waiting in the outbox (``store/journey_runs_sql.SqlJourneyRuns.hold``);
- an event (or a self-service signal) that would *move* an enrolment is **held**: it is kept,
  in arrival order, in one parked timer of kind :data:`HELD_KIND` per enrolment, and applied on
  resume, when that timer fires (:func:`release`), before the enrolment's other timers;
- exit, suppression and goal criteria still end enrolments during the pause (a person who
  bought or complained must not get the held message after resume): ending an enrolment
  cancels its timers, the held ones included, and on resume the journey's parked outbox rows of
  enrolments that ended during the pause (:data:`ENDED_BY_CRITERIA`) are skipped instead of
  sent (``SqlJourneyRuns.release``).

The engine calls :func:`hold_event` before giving an event to an enrolment, :func:`hold_signal`
before a signal, and :func:`release` for a held timer (three one-line hooks in
``engine.py``); everything else lives here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from tidings.application.ingest.batch import Batch, Live
from tidings.domain.journeys.machine import advance, start_run
from tidings.domain.journeys.model import (
    EngineContext,
    EventStimulus,
    JourneyDoc,
    SentRecord,
    Signal,
    Stimulus,
    Transition,
)
from tidings.domain.journeys.timing import PARKED_AT, PARKED_KEY, iso
from tidings.domain.snapshot import ContactSnapshot, EventRecord
from tidings.domain.statuses import EnrolmentStatus, JourneyStatus


class Advancer(Protocol):
    """What a pause needs from the engine (``JourneyEngine`` is one): no import of engine.py here."""

    def context(self, batch: Batch, live: Live, recent: Sequence[SentRecord] | None) -> EngineContext: ...

    def advance_enrolment(
        self,
        batch: Batch,
        live: Live,
        doc: JourneyDoc,
        stimulus: Stimulus,
        contact: ContactSnapshot,
        recent: Sequence[SentRecord] | None,
    ) -> Transition | None: ...


#: timer kind of the stimuli held for one enrolment of a paused journey (payload ``held``: list)
HELD_KIND = "held"
#: end reasons that mean "the person should not get what was held" (criteria, owner, stop)
ENDED_BY_CRITERIA = ("exited", "suppressed", "converted", "owned", "signal")


# --------------------------------------------------------------------------- holding


def hold_event(
    engine: Advancer,
    batch: Batch,
    live: Live,
    doc: JourneyDoc,
    event: EventRecord,
    contact: ContactSnapshot,
    recent: Sequence[SentRecord] | None,
) -> bool:
    """Hold ``event`` for ``live`` if its journey is paused and the event would move it.

    Returns True when the event was held (the caller must not advance the enrolment with it).
    Criteria (exit, suppress, goal, owned) are never held: the caller advances and they end it.
    """
    if batch.journey_status.get(live.journey_id) != JourneyStatus.PAUSED:
        return False
    return _hold(engine, batch, live, doc, EventStimulus(event), _event_item(event), contact, recent)


def hold_signal(
    engine: Advancer,
    batch: Batch,
    live: Live,
    doc: JourneyDoc,
    signal: Signal,
    contact: ContactSnapshot,
) -> dict[str, Any] | None:
    """Hold a self-service signal to an enrolment of a paused journey (``stop`` is never held).

    Returns the signal API's answer when held (flushed here), None to let the engine apply it.
    """
    if signal.signal == "stop" or batch.journey_status.get(live.journey_id) != JourneyStatus.PAUSED:
        return None
    if live.state.status == EnrolmentStatus.ENDED:
        return None
    item = {"type": "signal", "signal": signal.signal, "data": dict(signal.data)}
    if not _hold(engine, batch, live, doc, signal, item, contact, None):
        return None
    batch.flush()
    return {
        "enrollment_id": live.id,
        "accepted": True,
        "held": True,
        "status": live.state.status,
        "step": live.state.step_id,
        "waiting_until": live.state.waiting.until if live.state.waiting else None,
        "trace": [{"action": "held", "step": live.state.step_id, "detail": {"reason": "journey paused"}}],
    }


def _hold(
    engine: Advancer,
    batch: Batch,
    live: Live,
    doc: JourneyDoc,
    stimulus: Stimulus,
    item: dict[str, Any],
    contact: ContactSnapshot,
    recent: Sequence[SentRecord] | None,
) -> bool:
    # re-read under a share lock, so a resume waits for this commit (resume takes the journey
    # row for update and unparks held timers: one written after it read "paused" would stay parked)
    if live.state.status == EnrolmentStatus.ENDED or batch.runs.journey_status(live.journey_id) != JourneyStatus.PAUSED:
        return False
    ctx = engine.context(batch, live, recent)  # the engine's own context recipe
    try:
        if isinstance(stimulus, EventStimulus):
            run = start_run(doc, live.state.copy(), contact, batch.now, ctx, stimulus.name)
            if run.check_criteria(event=stimulus.event):
                return False  # exits and goals still end enrolments during a pause
        timers = batch.runs.enrollment_timers(live.id)
        row = next((t for t in timers if t["kind"] == HELD_KIND), None)
        if row is not None and isinstance(stimulus, EventStimulus) and stimulus.event.name not in waited_for(doc):
            return False  # no step of this journey waits for it: it can change nothing
        if row is None:
            tr = advance(doc, live.state, stimulus, contact, batch.now, context=ctx)
            if not tr.changed:
                return False  # nothing would happen: nothing to hold
    except Exception:  # noqa: BLE001 - let the engine's own path record the failure
        return False
    if row is None:
        due = _first_due(timers, batch.now)
        batch.runs.add_timers(
            [
                {
                    "contact_id": live.contact_id,
                    "enrollment_id": live.id,
                    "kind": HELD_KIND,
                    "due_at": PARKED_AT,
                    "payload": {"journey": doc.key, "held": [item], PARKED_KEY: due.isoformat()},
                }
            ],
        )
        count = 1
    else:
        payload = dict(row["payload"] or {})
        held = [*payload.get("held", []), item]
        payload["held"] = held
        batch.runs.set_timer_payload(int(row["id"]), payload)
        count = len(held)
    batch.trace_note(
        live.contact_id,
        live.journey_id,
        live.version,
        stimulus.name,
        "held",
        {"reason": "journey paused", "held": count, **_describe(item)},
        live.id,
        live.state.step_id,
    )
    return True


def waited_for(doc: JourneyDoc) -> frozenset[str]:
    """Names of the events a waiting step of ``doc`` can resume on (after an earlier held one,
    only these are held: the rest could change nothing then either)."""
    names: set[str] = set()
    goals = {c.event for c in doc.settings.goal if c.event}
    for step in doc.steps.values():
        if step.type == "wait_event":
            names.add(str(step.config["event"]))
        elif step.type == "behaviour":
            action = step.config.get("action")
            if action == "converted":
                names |= {str(step.config["event"])} if step.config.get("event") else goals
            else:
                names.add(f"message.{action}")
    return frozenset(names)


def _first_due(timers: Sequence[Mapping[str, Any]], now: datetime) -> datetime:
    """When the held stimuli fall due on resume: now, or just before the enrolment's other
    (parked) timers if one of them came due earlier, so held stimuli are applied first."""
    due = now
    for t in timers:
        if t["kind"] == HELD_KIND:
            continue
        real = (t["payload"] or {}).get(PARKED_KEY)
        when = datetime.fromisoformat(real) if real else t["due_at"]
        if when <= due:
            due = when - timedelta(microseconds=1)
    return due


def _event_item(event: EventRecord) -> dict[str, Any]:
    return {
        "type": "event",
        "id": event.id,
        "name": event.name,
        "occurred_at": iso(event.occurred_at),
        "properties": dict(event.properties),
        "value": event.value,
    }


def _describe(item: Mapping[str, Any]) -> dict[str, Any]:
    if item["type"] == "event":
        return {"event": {"name": item["name"], "id": item["id"], "at": item["occurred_at"]}}
    return {"signal": item["signal"], "data": item["data"]}


# --------------------------------------------------------------------------- releasing


def is_held(row: Mapping[str, Any]) -> bool:
    return row.get("kind") == HELD_KIND


def release(
    engine: Advancer,
    batch: Batch,
    live: Live,
    doc: JourneyDoc,
    row: Mapping[str, Any],
    contact: ContactSnapshot,
    recent: Sequence[SentRecord] | None,
) -> None:
    """Apply a resumed journey's held stimuli to their enrolment, in the order they arrived."""
    items = list((row["payload"] or {}).get("held", []))
    batch.trace_note(
        live.contact_id,
        live.journey_id,
        live.version,
        "resume",
        "held_released",
        {"held": len(items)},
        live.id,
        live.state.step_id,
    )
    for item in items:
        if live.state.status == EnrolmentStatus.ENDED:
            break  # stimuli for an ended enrolment would only be recorded and ignored
        engine.advance_enrolment(batch, live, doc, _stimulus(item), contact, recent)


def _stimulus(item: Mapping[str, Any]) -> Stimulus:
    if item.get("type") == "signal":
        return Signal(str(item["signal"]), dict(item.get("data") or {}))
    return EventStimulus(
        EventRecord(
            name=str(item["name"]),
            occurred_at=datetime.fromisoformat(str(item["occurred_at"])),
            properties=dict(item.get("properties") or {}),
            value=item.get("value"),
            id=item.get("id"),
        )
    )
