"""The journey state machine: (doc, state, stimulus, contact, now, context) -> Transition.

Pure: no I/O, no clock reads, no randomness (A/B assignment hashes the contact and step).
Enrolment statuses move along the edges declared in :data:`run.EDGES` only; anything else raises
:class:`IllegalTransition`. Every state change and every effect is explained by a trace entry.
The transition being computed is a :class:`run.Run`; step execution lives in ``steps.py``; this
module owns stimuli. Import order: ``run`` <- ``steps`` <- ``machine`` (no circle).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tidings.domain.journeys.behaviour import behaviour_matches, behaviour_outcome, replan_behaviour
from tidings.domain.journeys.context import correlated, event_value
from tidings.domain.journeys.model import (
    ContactChanged,
    EngineContext,
    EnrollmentState,
    Entry,
    EventStimulus,
    IllegalTransition,
    JourneyDoc,
    Signal,
    Stimulus,
    TimerDue,
    Transition,
)
from tidings.domain.journeys.run import EDGES, Run, event_detail, move
from tidings.domain.journeys.series import SERIES_SIGNALS, occurrence_due, plan, steer
from tidings.domain.journeys.signalnames import STOP, accepted_signals, as_event_name, named_signals
from tidings.domain.journeys.steps import execute, replan_date, wait_event_matches
from tidings.domain.journeys.timing import iso
from tidings.domain.snapshot import ContactSnapshot, EventRecord
from tidings.domain.statuses import EnrolmentStatus

__all__ = ["EDGES", "Run", "advance", "move", "start_run"]


def start_run(
    doc: JourneyDoc, state: EnrollmentState, contact: ContactSnapshot, now: datetime, ctx: EngineContext, stimulus: str
) -> Run:
    """A :class:`Run` that walks steps with ``steps.execute``."""
    return Run(doc, state, contact, now, ctx, stimulus, execute=execute)


def advance(
    doc: JourneyDoc,
    state: EnrollmentState | None,
    stimulus: Stimulus,
    contact: ContactSnapshot,
    now: datetime,
    *,
    context: EngineContext,
) -> Transition:
    """Apply one stimulus to one enrolment. ``state`` is None only for an :class:`Entry`."""
    if state is None:
        if not isinstance(stimulus, Entry):
            raise IllegalTransition(f"no enrolment to receive a {stimulus.name} stimulus")
        return _enter(doc, stimulus, contact, now, context)
    run = start_run(doc, state.copy(), contact, now, context, stimulus.name)
    if state.status == EnrolmentStatus.ENDED or isinstance(stimulus, Entry):
        run.note(
            state.step_id,
            "ignored",
            reason="enrolment ended" if state.status == EnrolmentStatus.ENDED else "already enrolled",
            stimulus=_describe(stimulus),
        )
        return run.result(changed=False)
    if isinstance(stimulus, TimerDue):
        return _timer(run, stimulus)
    if isinstance(stimulus, EventStimulus):
        return _event(run, stimulus.event)
    if isinstance(stimulus, Signal):
        return _signal(run, stimulus)
    if isinstance(stimulus, ContactChanged):
        if run.check_criteria():
            return run.result()
        return run.result(changed=False)
    raise TypeError(f"unknown stimulus {stimulus!r}")


def _describe(stimulus: Stimulus) -> dict[str, Any]:
    if isinstance(stimulus, EventStimulus):
        return {"event": event_detail(stimulus.event)}
    if isinstance(stimulus, TimerDue):
        return {"timer": stimulus.timer_id, "kind": stimulus.kind, "payload": dict(stimulus.payload)}
    if isinstance(stimulus, Signal):
        return {"signal": stimulus.signal, "data": dict(stimulus.data)}
    if isinstance(stimulus, Entry):
        return {"trigger": stimulus.trigger_index, "key": stimulus.key}
    return {}


def _enter(
    doc: JourneyDoc, entry: Entry, contact: ContactSnapshot, now: datetime, ctx: EngineContext
) -> Transition:
    state = EnrollmentState(journey=doc.key, key=entry.key, trigger_index=entry.trigger_index)
    run = start_run(doc, state, contact, now, ctx, "entry")
    run.set_status("enter")
    state.entered_at = iso(now)
    detail: dict[str, Any] = {
        "trigger": entry.trigger_index,
        "key": entry.key,
        "version": ctx.journey_version,
    }
    if entry.event is not None:
        detail["event"] = event_detail(entry.event)
        # variables start as the entry event's properties (e.g. an appointment's time); signals update them
        state.variables = dict(entry.event.properties)
        trigger = next((t for t in doc.triggers if t.index == entry.trigger_index), None)
        if trigger is not None and trigger.vars:
            state.variables.update({name: event_value(entry.event, src) for name, src in trigger.vars.items()})
    run.note(None, "entered", **detail)
    if run.check_criteria(step_id=None):
        return run.result()
    run.run_from(doc.start)
    return run.result()


def _timer(run: Run, timer: TimerDue) -> Transition:
    waiting = run.state.waiting
    if waiting is None or run.status != EnrolmentStatus.WAITING or timer.payload.get("token") != waiting.token:
        run.note(run.state.step_id, "stale_timer", stimulus=_describe(timer))
        return run.result(changed=False)
    if run.check_criteria():
        return run.result()
    step = run.doc.steps[waiting.step_id]
    if waiting.kind in ("window", "cap"):
        run.resume()
        run.note(step.id, "resume", edge="retry", reason=waiting.kind)
        nxt = execute(run, step, run.state.visits.get(step.id, 1))
        if nxt is not None:
            run.run_from(nxt)
        return run.result()
    if waiting.kind == "series":
        occurrence_due(run, step)
        return run.result()
    if waiting.kind == "behaviour" and not behaviour_outcome(run, step) and replan_behaviour(run, step):
        return run.result()  # the window counts from a delivery or open seen after it was planned
    run.resume()
    if waiting.kind == "event":
        run.continue_after(step.id, "timeout", reason="timeout")
    elif waiting.kind == "behaviour":
        hit = behaviour_outcome(run, step)
        run.continue_after(step.id, "then" if hit else "else", reason="window elapsed", found=hit)
    else:
        run.continue_after(step.id, "next", reason=waiting.kind, until=waiting.until)
    return run.result()


def _event(run: Run, event: EventRecord) -> Transition:
    if not correlated(run.doc.settings.correlate, event, run.state.key):
        run.note(run.state.step_id, "uncorrelated", key=run.state.key, event=event_detail(event))
        return run.result(changed=False)
    if run.check_criteria(event=event):
        return run.result()
    waiting = run.state.waiting
    if waiting is None:
        return run.result(changed=False)
    step = run.doc.steps[waiting.step_id]
    if waiting.kind == "event" and wait_event_matches(run, step, event):
        run.resume()
        run.state.resumed_by = event_detail(event)
        run.continue_after(step.id, "event", event=event_detail(event))
        return run.result()
    if waiting.kind == "behaviour" and behaviour_matches(run, step, event):
        run.resume()
        run.state.resumed_by = event_detail(event)
        run.continue_after(step.id, "then", event=event_detail(event))
        return run.result()
    if waiting.kind == "behaviour" and replan_behaviour(run, step):
        return run.result()
    return run.result(changed=False)


def _signal(run: Run, sig: Signal) -> Transition:
    """A wait for the signal resumes (and branches); a criterion naming it ends the enrolment;
    ``stop`` ends it; a signal in ``settings.signals`` updates the variables and re-plans a date wait."""
    waiting = run.state.waiting
    as_event = EventRecord(name=as_event_name(sig.signal), occurred_at=run.now, properties=dict(sig.data))
    waited = waiting is not None and waiting.kind == "event" and waiting.event == as_event.name
    accepted = sig.signal in run.doc.settings.signals
    if accepted:
        run.state.variables.update(dict(sig.data))
        run.note(run.state.step_id, "signal", signal=sig.signal, data=dict(sig.data))
    if waiting is not None and waiting.kind == "series":
        step = run.doc.steps[waiting.step_id]
        if sig.signal in SERIES_SIGNALS:
            steer(run, step, sig.signal)
            return run.result()
        if accepted:  # its data may move the anchor: every later occurrence is re-planned from it
            plan(run, step)
            return run.result()
    if waited or sig.signal in named_signals(run.doc):
        moved = _event(run, as_event)
        if moved.changed or not accepted:
            return moved
        return run.result()
    if sig.signal == STOP:
        run.end("signal", detail=_describe(sig))
        return run.result()
    if not accepted:
        run.note(run.state.step_id, "signal_refused", signal=sig.signal, accepted=sorted(accepted_signals(run.doc)))
        return run.result(changed=False)
    if waiting is not None and waiting.kind == "date":
        replan_date(run, run.doc.steps[waiting.step_id])
    return run.result()
