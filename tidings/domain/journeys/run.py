"""One enrolment transition being computed (:class:`Run`) and the status edges it may take.

Pure. Below both ``machine.py`` (stimuli) and ``steps.py`` (step execution): the machine hands
the run the step executor, so neither of them imports the other through this module.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from tidings.domain.journeys import conditions
from tidings.domain.journeys.effects import Conversion, Effect
from tidings.domain.journeys.model import (
    END,
    Criterion,
    EngineContext,
    EnrollmentState,
    IllegalTransition,
    JourneyDoc,
    Step,
    TimerRequest,
    TraceEntry,
    Transition,
    Waiting,
)
from tidings.domain.journeys.timing import iso
from tidings.domain.snapshot import ContactSnapshot, EventRecord
from tidings.domain.statuses import EnrolmentStatus

#: (status, input) -> status. "new" is the status before entry.
ACTIVE, WAITING, ENDED = EnrolmentStatus.ACTIVE, EnrolmentStatus.WAITING, EnrolmentStatus.ENDED
EDGES: dict[tuple[str, str], EnrolmentStatus] = {
    ("new", "enter"): ACTIVE,
    (ACTIVE, "step"): ACTIVE,
    (ACTIVE, "wait"): WAITING,
    (WAITING, "wait"): WAITING,  # a re-planned wait (signal) or a still-closed send window
    (WAITING, "resume"): ACTIVE,
    (ACTIVE, "end"): ENDED,
    (WAITING, "end"): ENDED,
}

MAX_STEPS_PER_TRANSITION = 1000


def move(status: str, action: str) -> EnrolmentStatus:
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


#: runs one step and returns the id of the next one (None: the run waits or ended); ``steps.execute``.
StepExecutor = Callable[["Run", Step, int], str | None]


class Run:
    """One transition being computed: the mutable scratchpad of ``machine.advance``.

    It walks steps through the ``execute`` function it is given (``steps.execute``), so
    ``steps.py`` can depend on this module without this module depending on ``steps.py``.
    """

    def __init__(
        self,
        doc: JourneyDoc,
        state: EnrollmentState,
        contact: ContactSnapshot,
        now: datetime,
        ctx: EngineContext,
        stimulus: str,
        *,
        execute: StepExecutor,
    ) -> None:
        self.doc = doc
        self._execute = execute
        self.state = state
        self.contact = contact
        self.now = now
        self.ctx = ctx
        self.stimulus = stimulus
        self.effects: list[Effect] = []
        self.timers: list[TimerRequest] = []
        self.trace: list[TraceEntry] = []
        self.moves: list[tuple[str, str]] = []
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
        self.state.status = self.status

    @property
    def ended(self) -> bool:
        return self.status == ENDED

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
        for _ in range(MAX_STEPS_PER_TRANSITION):
            if self.ended or self.status == WAITING:
                return
            if target == END:
                self.moves.append((self.state.step_id or "", ""))
                self.end("completed", self.state.step_id)
                return
            step = self.doc.steps[target]
            if self.check_criteria(step_id=step.id):
                return
            self.moves.append((self.state.step_id or "", step.id))
            self.set_status("step")
            visit = self.state.visits.get(step.id, 0) + 1
            self.state.visits[step.id] = visit
            self.state.step_id = step.id
            nxt = self._execute(self, step, visit)
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
            moves=self.moves,
        )
