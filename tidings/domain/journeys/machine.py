"""The journey state machine: (doc, state, stimulus, contact, now, context) -> Transition.

Pure: no I/O, no clock reads, no randomness (A/B assignment hashes the contact and step).
Enrolment statuses move along the edges declared in :data:`EDGES` only; anything else raises
:class:`IllegalTransition`. Every state change and every effect is explained by a trace entry.
Step execution lives in ``steps.py``; this module owns statuses, stimuli and criteria.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tidings.domain.journeys import conditions
from tidings.domain.journeys.model import (
    END,
    ContactChanged,
    Conversion,
    Criterion,
    Effect,
    EngineContext,
    EnrollmentState,
    Entry,
    EventStimulus,
    IllegalTransition,
    JourneyDoc,
    Signal,
    Stimulus,
    TimerDue,
    TimerRequest,
    TraceEntry,
    Transition,
    Waiting,
)
from tidings.domain.journeys.timing import iso
from tidings.domain.snapshot import ContactSnapshot, EventRecord

#: (status, input) -> status. "new" is the status before entry.
EDGES: dict[tuple[str, str], str] = {
    ("new", "enter"): "active",
    ("active", "step"): "active",
    ("active", "wait"): "waiting",
    ("waiting", "wait"): "waiting",  # a re-planned wait (signal) or a still-closed send window
    ("waiting", "resume"): "active",
    ("active", "end"): "ended",
    ("waiting", "end"): "ended",
}

MAX_STEPS_PER_TRANSITION = 1000


def move(status: str, action: str) -> str:
    try:
        return EDGES[(status, action)]
    except KeyError:
        raise IllegalTransition(f"an enrolment that is {status} cannot {action}") from None


def event_detail(event: EventRecord) -> dict[str, Any]:
    return {
        "name": event.name,
        "id": event.id,
        "at": iso(event.occurred_at),
        "properties": dict(event.properties),
    }


class Run:
    """One transition being computed: the mutable scratchpad of :func:`advance`."""

    def __init__(
        self,
        doc: JourneyDoc,
        state: EnrollmentState,
        contact: ContactSnapshot,
        now: datetime,
        ctx: EngineContext,
        stimulus: str,
    ) -> None:
        self.doc = doc
        self.state = state
        self.contact = contact
        self.now = now
        self.ctx = ctx
        self.stimulus = stimulus
        self.effects: list[Effect] = []
        self.timers: list[TimerRequest] = []
        self.trace: list[TraceEntry] = []
        self.cancel_timers = False
        self.status: str = state.status if state.entered_at else "new"

    # ----------------------------------------------------------------- bookkeeping
    def note(self, step_id: str | None, action: str, **detail: Any) -> None:
        self.trace.append(TraceEntry(step_id, action, detail))

    def emit(self, effect: Effect, action: str, **detail: Any) -> None:
        self.effects.append(effect)
        detail.setdefault("idempotency_key", effect.idempotency_key)
        detail.setdefault("journey_version", self.ctx.journey_version)
        self.trace.append(TraceEntry(effect.step_id, action, detail, effect_index=len(self.effects) - 1))

    def key(self, step_id: str, visit: int) -> str:
        return f"{self.ctx.enrollment_id}:{step_id}:{visit}"

    def set_status(self, action: str) -> None:
        self.status = move(self.status, action)
        self.state.status = self.status  # type: ignore[assignment]

    @property
    def ended(self) -> bool:
        return self.status == "ended"

    def end(self, reason: str, step_id: str | None = None, **detail: Any) -> None:
        self.set_status("end")
        self.state.end_reason = reason
        self.state.ended_at = iso(self.now)
        self.state.waiting = None
        self.cancel_timers = True
        self.note(step_id or self.state.step_id, "ended", reason=reason, **detail)

    def wait(
        self, kind: str, step_id: str, until: datetime | None, event: str | None = None, **detail: Any
    ) -> None:
        self.set_status("wait")
        self.state.tokens += 1
        token = self.state.tokens
        self.state.waiting = Waiting(kind, step_id, token, iso(until) if until else None, event)
        self.cancel_timers = True
        if until is not None:
            self.timers.append(
                TimerRequest(
                    until,
                    "timeout" if kind == "event" else "wait",
                    {"journey": self.doc.key, "step": step_id, "token": token, "wait": kind},
                )
            )
        self.note(step_id, "wait", kind=kind, until=iso(until) if until else None, event=event, **detail)

    def resume(self) -> Waiting:
        waiting = self.state.waiting
        assert waiting is not None
        self.set_status("resume")
        self.state.waiting = None
        self.cancel_timers = True
        return waiting

    # ----------------------------------------------------------------- criteria
    def check_criteria(self, event: EventRecord | None = None, step_id: str | None = None) -> bool:
        """Owned-contact rule, suppression, exit, goal: end the enrolment and return True if one holds."""
        s = self.doc.settings
        sid = step_id or self.state.step_id
        if self.contact.owner and not s.allow_owned and s.category == "marketing":
            self.end("owned", sid, owner=self.contact.owner)
            return True
        for reason, criteria in (("suppressed", s.suppress), ("exited", s.exit), ("converted", s.goal)):
            for i, criterion in enumerate(criteria):
                hit = self._criterion(criterion, event)
                if hit is None:
                    continue
                if reason == "converted":
                    revenue = None
                    if event is not None and criterion.revenue:
                        raw = event.properties.get(criterion.revenue, event.value)
                        revenue = float(raw) if isinstance(raw, int | float) else None
                    elif event is not None and event.value is not None:
                        revenue = event.value
                    self.emit(
                        Conversion(
                            sid or "goal", f"{self.ctx.enrollment_id}:goal", goal="goal", revenue=revenue
                        ),
                        "conversion",
                        criterion=i,
                        **hit,
                    )
                self.end(reason, sid, criterion=i, **hit)
                return True
        return False

    def _criterion(self, c: Criterion, event: EventRecord | None) -> dict[str, Any] | None:
        if c.event is not None:
            if event is None or event.name != c.event:
                return None
            if c.where is not None and not conditions.matches_event(c.where, event, self.now):
                return None
            if c.rule is not None and not conditions.evaluate(c.rule, self.contact, self.now):
                return None
            return {"event": event_detail(event), "source": c.source}
        if c.rule is not None and conditions.evaluate(c.rule, self.contact, self.now):
            return {"rule": c.source, "explain": conditions.explain(c.rule, self.contact, self.now)}
        return None

    # ----------------------------------------------------------------- walking
    def run_from(self, target: str) -> None:
        """Execute steps from ``target`` until the enrolment waits or ends."""
        from tidings.domain.journeys.steps import execute

        for _ in range(MAX_STEPS_PER_TRANSITION):
            if self.ended or self.status == "waiting":
                return
            if target == END:
                self.end("completed", self.state.step_id)
                return
            step = self.doc.steps[target]
            if self.check_criteria(step_id=step.id):
                return
            self.set_status("step")
            visit = self.state.visits.get(step.id, 0) + 1
            self.state.visits[step.id] = visit
            self.state.step_id = step.id
            nxt = execute(self, step, visit)
            if nxt is None:
                return
            target = nxt
        self.end("error", self.state.step_id, error="too many steps in one transition")

    def continue_after(self, step_id: str, edge: str, **detail: Any) -> None:
        step = self.doc.steps[step_id]
        target = step.edges.get(edge, END)
        self.note(step_id, "resume", edge=edge, next=target, **detail)
        self.run_from(target)

    def result(self, changed: bool = True) -> Transition:
        return Transition(
            state=self.state,
            effects=self.effects,
            timers=self.timers,
            cancel_timers=self.cancel_timers,
            trace=self.trace,
            stimulus=self.stimulus,
            changed=changed,
        )


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
    run = Run(doc, state.copy(), contact, now, context, stimulus.name)
    if state.status == "ended" or isinstance(stimulus, Entry):
        run.note(
            state.step_id,
            "ignored",
            reason="enrolment ended" if state.status == "ended" else "already enrolled",
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
    run = Run(doc, state, contact, now, ctx, "entry")
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
    run.note(None, "entered", **detail)
    if run.check_criteria(step_id=None):
        return run.result()
    run.run_from(doc.start)
    return run.result()


def _timer(run: Run, timer: TimerDue) -> Transition:
    waiting = run.state.waiting
    if waiting is None or run.status != "waiting" or timer.payload.get("token") != waiting.token:
        run.note(run.state.step_id, "stale_timer", stimulus=_describe(timer))
        return run.result(changed=False)
    if run.check_criteria():
        return run.result()
    from tidings.domain.journeys.steps import behaviour_outcome, execute

    step = run.doc.steps[waiting.step_id]
    if waiting.kind in ("window", "cap"):
        run.resume()
        run.note(step.id, "resume", edge="retry", reason=waiting.kind)
        nxt = execute(run, step, run.state.visits.get(step.id, 1))
        if nxt is not None:
            run.run_from(nxt)
        return run.result()
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
    if run.check_criteria(event=event):
        return run.result()
    waiting = run.state.waiting
    if waiting is None:
        return run.result(changed=False)
    step = run.doc.steps[waiting.step_id]
    from tidings.domain.journeys.steps import behaviour_matches, wait_event_matches

    if waiting.kind == "event" and wait_event_matches(run, step, event):
        run.resume()
        run.continue_after(step.id, "event", event=event_detail(event))
        return run.result()
    if waiting.kind == "behaviour" and behaviour_matches(run, step, event):
        run.resume()
        run.continue_after(step.id, "then", event=event_detail(event))
        return run.result()
    return run.result(changed=False)


def _signal(run: Run, sig: Signal) -> Transition:
    if sig.signal == "stop":
        run.end("signal", detail=_describe(sig))
        return run.result()
    waiting = run.state.waiting
    as_event = EventRecord(name=f"signal.{sig.signal}", occurred_at=run.now, properties=dict(sig.data))
    if sig.signal not in run.doc.settings.signals:
        if waiting is not None and waiting.kind == "event" and waiting.event == as_event.name:
            return _event(run, as_event)
        run.note(
            run.state.step_id, "signal_refused", signal=sig.signal, accepted=sorted(run.doc.settings.signals)
        )
        return run.result(changed=False)
    run.state.variables.update(dict(sig.data))
    run.note(run.state.step_id, "signal", signal=sig.signal, data=dict(sig.data))
    if waiting is not None and waiting.kind == "event" and waiting.event == as_event.name:
        return _event(run, as_event)
    if waiting is not None and waiting.kind == "date":
        from tidings.domain.journeys.steps import replan_date

        replan_date(run, run.doc.steps[waiting.step_id])
    return run.result()
