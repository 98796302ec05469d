"""Run the real state machine on a virtual clock against scripted contacts and behaviour.

Channels are replaced by a recorder: each send is logged in the timeline and answered with
``message.sent``/``message.delivered`` events, then ``message.opened``/``clicked``/
``complained`` as the scenario's behaviour says. Scripted events and signals arrive at offsets
(or some time after a message). Nothing here reads the wall clock or does I/O: the web app and
recipe tests reuse :func:`simulate`.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from tidings.domain.journeys.effects import AssignOwner, Conversion, SendMessage, UpdateContact
from tidings.domain.journeys.fanout import fan_out_event
from tidings.domain.journeys.machine import advance
from tidings.domain.journeys.model import (
    ContactChanged,
    EngineContext,
    EnrollmentState,
    Entry,
    JourneyDoc,
    PriorEnrollment,
    SentRecord,
    Signal,
    Stimulus,
    TimerDue,
    TraceEntry,
    Transition,
)
from tidings.domain.journeys.scenarios import (
    BEHAVIOUR_KEYS,
    DEFAULT_HORIZON,
    DEFAULT_START,
    EXPECT_KEYS,
    OUTCOMES,
    SCENARIO_KEYS,
    ScenarioError,
    _known,
    _offset,
    _when,
    apply_change,
    build_contact,
    parse_change,
)
from tidings.domain.journeys.timing import from_iso
from tidings.domain.journeys.triggers import manual_entry, may_enter, next_date_trigger
from tidings.domain.snapshot import ContactSnapshot, EventRecord
from tidings.domain.statuses import EnrolmentStatus

MAX_STIMULI = 20_000

@dataclass
class TimelineEntry:
    at: datetime
    step: str
    channel: str
    template: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "step": self.step,
            "channel": self.channel,
            "template": self.template,
        }


@dataclass
class ScenarioResult:
    name: str
    contact: Mapping[str, Any]
    timeline: list[TimelineEntry]
    outcome: str
    failed_expectations: list[str]
    #: everything else a person may want to see (not part of the JSON contract)
    end_reason: str | None = None
    trace: list[tuple[datetime, str, TraceEntry]] = field(default_factory=list)
    effects: list[tuple[datetime, str, dict[str, Any]]] = field(default_factory=list)
    start: datetime = DEFAULT_START
    #: the scenario's scripted contact changes, as applied: (time, the change).
    changes: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "contact": dict(self.contact),
            "timeline": [t.to_dict() for t in self.timeline],
            "changes": [{"at": at.isoformat(), "change": dict(c)} for at, c in self.changes],
            "outcome": self.outcome,
            "failed_expectations": list(self.failed_expectations),
        }


@dataclass
class SimulationResult:
    scenarios: list[ScenarioResult]
    unreached_steps: list[str]
    untaken_branches: list[str]

    @property
    def ok(self) -> bool:
        return not any(s.failed_expectations for s in self.scenarios)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenarios": [s.to_dict() for s in self.scenarios],
            "coverage": {"unreached_steps": self.unreached_steps, "untaken_branches": self.untaken_branches},
        }


# --------------------------------------------------------------------------- the run


@dataclass(order=True)
class _Item:
    at: datetime
    seq: int
    kind: str = field(compare=False)  # event | signal | timer | entry
    data: Any = field(compare=False)
    enrollment: str | None = field(compare=False, default=None)


class _Scenario:
    def __init__(self, doc: JourneyDoc, raw: Mapping[str, Any], index: int, start: datetime,
                 horizon: timedelta, policy: Any = None) -> None:  # fmt: skip
        self.doc = doc
        self.policy = policy
        self.raw = raw
        self.name = str(raw.get("name") or f"scenario {index + 1}")
        _known(raw, SCENARIO_KEYS, self.name)
        if not isinstance(raw.get("behaviour") or {}, Mapping):
            raise ScenarioError(f"{self.name}.behaviour: a mapping such as {{opens: true, clicks: false}}")
        _known(raw.get("behaviour") or {}, BEHAVIOUR_KEYS, f"{self.name}.behaviour")
        for i, exp in enumerate(raw.get("expect") or []):
            if not isinstance(exp, Mapping):
                raise ScenarioError(f"{self.name}.expect.{i}: an expectation is a mapping")
            _known(exp, EXPECT_KEYS, f"{self.name}.expect.{i}")
            if "outcome" in exp and exp["outcome"] not in OUTCOMES:
                raise ScenarioError(f"{self.name}.expect.{i}.outcome: one of {', '.join(OUTCOMES)}")
        self.start = _when(raw["start"], f"{self.name}.start") if raw.get("start") else start
        self.horizon = _offset(raw["horizon"], f"{self.name}.horizon") if raw.get("horizon") else horizon
        self.contact = build_contact(raw.get("contact") or {}, index)
        self.events: list[EventRecord] = list(self.contact.events)
        self.queue: list[_Item] = []
        self.seq = 0
        self.now = self.start
        self.states: dict[str, EnrollmentState] = {}
        self.order: list[str] = []
        self.sends: list[SentRecord] = []
        self.timeline: list[TimelineEntry] = []
        self.changes: list[tuple[datetime, dict[str, Any]]] = []
        self.trace: list[tuple[datetime, str, TraceEntry]] = []
        self.effects: list[tuple[datetime, str, dict[str, Any]]] = []
        self.first_send: dict[str, datetime] = {}
        self.pending_after: list[tuple[Mapping[str, Any], str]] = []
        self.behaviour = dict(raw.get("behaviour") or {})
        self.message_seq = 0

    # ------------------------------------------------------------ queue
    def push(self, at: datetime, kind: str, data: Any, enrollment: str | None = None) -> None:
        self.seq += 1
        heapq.heappush(self.queue, _Item(max(at, self.now), self.seq, kind, data, enrollment))

    def snapshot(self) -> ContactSnapshot:
        journeys = dict(self.contact.journeys)
        latest = [self.states[e] for e in self.order if e in self.states][-1:]
        for st in latest:  # the latest enrolment in this journey, as the store's snapshot says it
            journeys[self.doc.key] = f"ended:{st.end_reason or ''}" if st.status == EnrolmentStatus.ENDED else st.status
        return replace(self.contact, events=tuple(self.events), journeys=journeys)

    # ------------------------------------------------------------ setup
    def script(self) -> None:
        enter = self.raw.get("enter", "manual")
        if enter == "manual" or enter is None:
            self.push(self.start, "entry", manual_entry(self.doc))
        elif isinstance(enter, Mapping) and "event" in enter:
            ev = enter["event"]
            at = self.start + _offset(enter.get("at"), f"{self.name}.enter.at")
            self.push(at, "event", self._event(ev, at, f"{self.name}.enter.event"))
        elif isinstance(enter, Mapping) and "date_trigger" in enter:
            trig = self.doc.triggers[int(enter["date_trigger"])]
            due = next_date_trigger(self.doc, trig, self.snapshot(), self.start)
            if due is not None:
                self.push(due, "entry", Entry(trig.index, None, due.date().isoformat()))
        elif enter != "events":
            raise ScenarioError(f"{self.name}.enter: manual | events | {{event: ...}} | {{date_trigger: N}}")
        for i, ev in enumerate(self.raw.get("events") or []):
            where = f"{self.name}.events.{i}"
            if not isinstance(ev, Mapping) or not ev.get("name"):
                raise ScenarioError(f"{where}: an event needs a name")
            if isinstance(ev.get("after"), Mapping):
                ref = ev["after"].get("message")
                if not ref:
                    raise ScenarioError(f"{where}.after: name a message (template or step id)")
                _offset(ev["after"].get("delay"), where)
                self.pending_after.append((ev, str(ref)))
                continue
            at = self.start + _offset(ev.get("at"), where + ".at")
            self.push(at, "event", self._event(ev, at, where))
        for i, raw_change in enumerate(self.raw.get("changes") or []):
            offset, change = parse_change(raw_change, f"{self.name}.changes.{i}")
            self.push(self.start + offset, "change", change)
        for i, sig in enumerate(self.raw.get("signals") or []):
            where = f"{self.name}.signals.{i}"
            if not isinstance(sig, Mapping) or not sig.get("name"):
                raise ScenarioError(f"{where}: a signal needs a name")
            at = self.start + _offset(sig.get("at"), where + ".at")
            self.push(at, "signal", Signal(str(sig["name"]), dict(sig.get("data") or {})))

    def _event(self, ev: Mapping[str, Any], at: datetime, where: str) -> EventRecord:
        if not isinstance(ev, Mapping) or not ev.get("name"):
            raise ScenarioError(f"{where}: an event needs a name")
        value = ev.get("value")
        return EventRecord(str(ev["name"]), at, dict(ev.get("properties") or {}),
                           float(value) if value is not None else None)  # fmt: skip

    # ------------------------------------------------------------ main loop
    def run(self) -> None:
        self.script()
        end = self.start + self.horizon
        for _ in range(MAX_STIMULI):
            if not self.queue:
                return
            item = heapq.heappop(self.queue)
            if item.at > end:
                return
            self.now = item.at
            if item.kind == "entry":
                self._enter(item.data, None)
            elif item.kind == "event":
                self._on_event(item.data)
            elif item.kind == "signal":
                for eid in self._live():
                    self._apply(eid, item.data)
            elif item.kind == "timer" and item.enrollment in self.states:
                self._apply(item.enrollment, item.data)
            elif item.kind == "change":
                self._change(item.data)

    def _change(self, change: dict[str, Any]) -> None:
        """A scripted change: the contact changes, running enrolments see it, then its events."""
        self.contact, events = apply_change(self.contact, change)
        self.changes.append((self.now, change))
        for eid in self._live():
            self._apply(eid, ContactChanged())
        for name, props in events:
            self.push(self.now, "event", EventRecord(name, self.now, props))

    def _live(self) -> list[str]:
        return [eid for eid in self.order if self.states[eid].status != EnrolmentStatus.ENDED]

    def _enter(self, entry: Entry, _event: EventRecord | None) -> None:
        prior = [
            PriorEnrollment(
                s.status,
                s.end_reason,
                from_iso(s.entered_at or self.now.isoformat()),
                from_iso(s.ended_at) if s.ended_at else None,
                s.key,
            )  # fmt: skip
            for s in self.states.values()
        ]
        ok, why = may_enter(self.doc, prior, entry.key, self.now)
        if not ok:
            self.trace.append((self.now, "-", TraceEntry(None, "not_entered", {"reason": why})))
            return
        eid = f"sim-{len(self.order) + 1}"
        self.order.append(eid)
        self._apply(eid, entry, new=True)

    def _on_event(self, event: EventRecord) -> None:
        self.events.append(event)
        self._react_to_event(event)
        fan_out_event(
            event, [(eid, self.doc) for eid in self.order], [(None, self.doc)], self.snapshot, self.now,
            state_of=self.states.__getitem__,
            advance=lambda eid, _doc, stimulus: self._apply(eid, stimulus),
            enter=lambda _journey, _doc, entry: self._enter(entry, event),
        )  # fmt: skip

    def _react_to_event(self, event: EventRecord) -> None:
        """Scripted behaviour that depends on messages: events 'after' a message."""
        if event.name != "message.sent":
            return
        props = event.properties
        still = []
        for ev, ref in self.pending_after:
            if ref in (props.get("template"), props.get("step")):
                at = self.now + _offset(ev["after"].get("delay"), f"{self.name}.events.after")
                self.push(at, "event", self._event(ev, at, self.name))
            else:
                still.append((ev, ref))
        self.pending_after = still

    def _apply(self, eid: str, stimulus: Stimulus, new: bool = False) -> None:
        state = None if new else self.states[eid]
        ctx = EngineContext(enrollment_id=eid, journey_version=1, recent_sends=tuple(self.sends), policy=self.policy)
        t = advance(self.doc, state, stimulus, self.snapshot(), self.now, context=ctx)
        self.states[eid] = t.state
        for entry in t.trace:
            self.trace.append((self.now, eid, entry))
        if t.cancel_timers:
            self.queue = [i for i in self.queue if not (i.kind == "timer" and i.enrollment == eid)]
            heapq.heapify(self.queue)
        for timer in t.timers:
            self.push(timer.due_at, "timer", TimerDue(None, timer.kind, timer.payload), eid)
        self._perform(t)

    # ------------------------------------------------------------ the recorder
    def _perform(self, t: Transition) -> None:
        for effect in t.effects:
            self.effects.append((self.now, effect.kind, {"step": effect.step_id, **effect.payload()}))
            if isinstance(effect, SendMessage):
                self._send(effect)
            elif isinstance(effect, UpdateContact):
                self._update(effect)
            elif isinstance(effect, AssignOwner) and effect.owner:
                self.contact = replace(self.contact, owner=effect.owner)
            elif isinstance(effect, Conversion):
                pass

    def _send(self, m: SendMessage) -> None:
        self.timeline.append(TimelineEntry(self.now, m.step_id, m.channel, m.template))
        self.sends.append(SentRecord(m.channel, self.now, m.category))
        self.message_seq += 1
        props = {
            "message_id": f"m{self.message_seq}",
            "channel": m.channel,
            "template": m.template,
            "journey": self.doc.key,
            "step": m.step_id,
            "machine": False,
            "category": m.category,
        }
        self.push(self.now, "event", EventRecord("message.sent", self.now, props))
        self.push(self.now, "event", EventRecord("message.delivered", self.now, props))
        how = self._behaviour_for(m)
        if how["opens"]:
            at = self.now + _offset(how["open_after"], f"{self.name}.behaviour.open_after")
            self.push(at, "event", EventRecord("message.opened", at, props))
            if how["clicks"]:
                at2 = self.now + _offset(how["click_after"], f"{self.name}.behaviour.click_after")
                self.push(at2, "event", EventRecord("message.clicked", at2, props))
        if how["complains"]:
            at = self.now + _offset(how["open_after"], f"{self.name}.behaviour.open_after")
            self.push(at, "event", EventRecord("message.complained", at, props))

    def _behaviour_for(self, m: SendMessage) -> dict[str, Any]:
        b = self.behaviour
        how = {
            "opens": bool(b.get("opens", False)),
            "clicks": bool(b.get("clicks", False)),
            "complains": False,
            "open_after": b.get("open_after", "1h"),
            "click_after": b.get("click_after", "2h"),
        }
        complains = b.get("complains") or []
        how["complains"] = complains is True or m.template in complains or m.step_id in complains
        per = b.get("messages") or {}
        for ref in (m.template, m.step_id):
            if isinstance(per.get(ref), Mapping):
                how.update({k: v for k, v in per[ref].items() if k in how})
        return how

    def _update(self, u: UpdateContact) -> None:
        change: dict[str, Any] = {"set": dict(u.set_attributes), "add_tags": u.add_tags, "remove_tags": u.remove_tags}
        if u.stage:
            change["lifecycle_stage"] = u.stage
        after, events = apply_change(self.contact, change)
        self.contact = replace(after, score=after.score + u.score_delta)
        for name, props in events:
            self.push(self.now, "event", EventRecord(name, self.now, props))

    # ------------------------------------------------------------ result
    def outcome(self) -> tuple[str, str | None]:
        if not self.order:
            return "exited", "not entered"
        state = self.states[self.order[0]]
        if state.status != EnrolmentStatus.ENDED:
            return "waiting", None
        reason = state.end_reason or "completed"
        return (
            "converted" if reason == "converted" else "completed" if reason == "completed" else "exited"
        ), reason

    def check(self, outcome: str) -> list[str]:
        failed = []
        for i, exp in enumerate(self.raw.get("expect") or []):
            if not isinstance(exp, Mapping):
                raise ScenarioError(f"{self.name}.expect.{i}: an expectation is a mapping")
            if "outcome" in exp and exp["outcome"] != outcome:
                failed.append(f"expected outcome {exp['outcome']}, got {outcome}")
            if "message" in exp:
                ref = str(exp["message"])
                hits = [t for t in self.timeline if ref in (t.template, t.step)]
                if exp.get("at") is not None:
                    want = self.start + _offset(exp["at"], f"{self.name}.expect.{i}.at")
                    if not any(t.at == want for t in hits):
                        got = ", ".join(_rel(t.at - self.start) for t in hits) or "never"
                        failed.append(f"expected message {ref} at +{_rel(want - self.start)}, sent at: {got}")
                elif not hits:
                    failed.append(f"expected message {ref}, never sent")
                if exp.get("count") is not None and len(hits) != int(exp["count"]):
                    failed.append(f"expected {exp['count']} x message {ref}, got {len(hits)}")
            if "no_message" in exp:
                ref = str(exp["no_message"])
                hits = [t for t in self.timeline if ref in (t.template, t.step)]
                if hits:
                    failed.append(f"expected no message {ref}, sent at +{_rel(hits[0].at - self.start)}")
            if "messages" in exp and len(self.timeline) != int(exp["messages"]):
                failed.append(f"expected {exp['messages']} messages, got {len(self.timeline)}")
        return failed


def _rel(delta: timedelta) -> str:
    total = int(delta.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return "".join(parts) or "0h"


def _taken(trace: Sequence[tuple[datetime, str, TraceEntry]]) -> set[str]:
    taken: set[str] = set()
    for _, _, e in trace:
        d = e.detail
        if e.action == "branch":
            taken.add(f"{e.step_id}:{d.get('taken')}")
        elif e.action == "split":
            taken.add(f"{e.step_id}:variant:{d.get('variant')}")
        elif e.action == "behaviour":
            taken.add(f"{e.step_id}:{d.get('outcome')}")
        elif e.action == "series_done":  # a series over when planned leaves by its done edge
            taken.add(f"{e.step_id}:done")
        elif e.action == "resume" and d.get("edge") not in (None, "retry"):
            taken.add(f"{e.step_id}:{d.get('edge')}")
    return taken


def simulate(
    doc: JourneyDoc,
    scenarios: Sequence[Mapping[str, Any]],
    *,
    start: datetime = DEFAULT_START,
    horizon: timedelta = DEFAULT_HORIZON,
    policy: Any = None,
) -> SimulationResult:
    """Run each scenario from a fresh contact; report timelines, outcomes, expectations, coverage.

    ``policy`` (``domain.control.policy.SendPolicy``): the global send policy, applied as at run time.
    """
    results: list[ScenarioResult] = []
    reached: set[str] = set()
    taken: set[str] = set()
    for i, raw in enumerate(scenarios):
        if not isinstance(raw, Mapping):
            raise ScenarioError(f"scenario {i + 1}: a scenario is a mapping")
        sc = _Scenario(doc, raw, i, start, horizon, policy)
        sc.run()
        outcome, reason = sc.outcome()
        for state in sc.states.values():
            reached.update(state.visits)
        taken |= _taken(sc.trace)
        results.append(
            ScenarioResult(
                sc.name,
                dict(raw.get("contact") or {}),
                sc.timeline,
                outcome,
                sc.check(outcome),
                reason,
                sc.trace,
                sc.effects,
                sc.start,
                sc.changes,
            )  # fmt: skip
        )
    branching = [
        f"{sid}:{label}"
        for sid, step in doc.steps.items()
        if len(step.edges) > 1 or step.type in ("branch", "split", "behaviour", "wait_event")
        for label in step.edges
    ]
    return SimulationResult(
        results,
        unreached_steps=[sid for sid in doc.steps if sid not in reached],
        untaken_branches=[b for b in branching if b not in taken],
    )


def run_contact(
    doc: JourneyDoc, contact: ContactSnapshot, entry: Entry, start: datetime, horizon: timedelta
) -> list[TimelineEntry]:
    """The real machine on one given contact (a stored one: the blast-radius preview), entering
    by ``entry`` at ``start``, nobody opening or clicking: what it would send until ``start + horizon``."""
    sc = _Scenario(doc, {"name": f"contact {contact.id}", "enter": "events"}, 0, start, horizon)
    sc.contact = contact
    sc.events = list(contact.events)
    sc.push(start, "entry", entry)
    sc.run()
    return sc.timeline
