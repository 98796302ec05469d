"""Cross-journey simulation: the set of published journeys run together on a virtual clock.

Every scenario contact lives through all the journeys at once: the real state machine, the
global send policy (caps, quiet hours, priorities: ``EngineContext.policy``), chains between
journeys (tags, fields and events their steps raise, enrol steps) and the loop breaker
(``domain/control/loops.py``). The report is one timeline per contact across journeys.
Pure: no clock reads, no I/O.

Scenario file (as ``tidings simulate``'s, without ``expect``)::

    start: 2026-03-02T09:00:00Z
    horizon: 14d
    scenarios:
      - name: new customer
        contact: {email: a@example.com, timezone: Europe/Paris, tags: [vip]}
        events: [{name: signed_up, at: 0h}, {name: order.placed, at: 2d, properties: {total: 40}}]
        enter: [welcome]            # optional: manual entries into these journeys at start
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from tidings.domain.control.loops import Cause, ChainLink, LoopLimit, cause_of_event, check, extend
from tidings.domain.control.policy import SendPolicy
from tidings.domain.journeys.machine import advance
from tidings.domain.journeys.model import (
    EngineContext,
    EnrollmentState,
    EnrollOther,
    Entry,
    EventStimulus,
    JourneyDoc,
    PriorEnrollment,
    SendMessage,
    SentRecord,
    Stimulus,
    TimerDue,
    Transition,
    UpdateContact,
)
from tidings.domain.journeys.simulate import ScenarioError, _Item, _offset, build_contact
from tidings.domain.journeys.timing import from_iso
from tidings.domain.journeys.triggers import manual_entry, match_triggers, may_enter
from tidings.domain.snapshot import ContactSnapshot, EventRecord

MAX_STIMULI = 20_000
KEYS = {"name", "contact", "events", "enter", "start", "horizon"}


@dataclass(frozen=True, slots=True)
class Happening:
    at: datetime
    journey: str
    kind: str  # entered | message | capped | skipped | loop_stopped | ended | not_entered
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "journey": self.journey, "kind": self.kind, **dict(self.detail)}


@dataclass
class ContactTimeline:
    name: str
    contact: Mapping[str, Any]
    happenings: list[Happening]

    @property
    def messages(self) -> list[Happening]:
        return [h for h in self.happenings if h.kind == "message"]

    def to_dict(self) -> dict[str, Any]:
        per: dict[str, int] = {}
        for h in self.messages:
            per[h.journey] = per.get(h.journey, 0) + 1
        return {
            "name": self.name,
            "contact": dict(self.contact),
            "messages": len(self.messages),
            "messages_per_journey": per,
            "loops_stopped": sum(1 for h in self.happenings if h.kind == "loop_stopped"),
            "timeline": [h.to_dict() for h in self.happenings],
        }


@dataclass
class _Enrolment:
    id: int
    doc: JourneyDoc
    state: EnrollmentState
    chain: tuple[ChainLink, ...]


class _Contact:
    def __init__(self, docs: Sequence[JourneyDoc], policy: SendPolicy, raw: Mapping[str, Any], index: int,
                 start: datetime, horizon: timedelta) -> None:  # fmt: skip
        self.name = str(raw.get("name") or f"contact {index + 1}")
        unknown = set(raw) - KEYS
        if unknown:
            raise ScenarioError(f"{self.name}: unknown field(s) {sorted(unknown)}")
        self.docs = sorted(docs, key=lambda d: policy.rank(d.key))
        self.by_key = {d.key: d for d in docs}
        self.policy = policy
        self.raw = raw
        self.start, self.end = start, start + horizon
        self.contact: ContactSnapshot = build_contact(raw.get("contact") or {}, index)
        self.events: list[EventRecord] = list(self.contact.events)
        self.queue: list[_Item] = []
        self.seq = 0
        self.now = start
        self.enrolments: dict[int, _Enrolment] = {}
        self.sends: list[SentRecord] = []
        self.happened: list[Happening] = []

    def push(self, at: datetime, kind: str, data: Any, enrollment: int | None = None) -> None:
        self.seq += 1
        ref = str(enrollment) if enrollment is not None else None
        heapq.heappush(self.queue, _Item(max(at, self.now), self.seq, kind, data, ref))

    def note(self, journey: str, kind: str, **detail: Any) -> None:
        self.happened.append(Happening(self.now, journey, kind, detail))

    def snapshot(self) -> ContactSnapshot:
        return replace(self.contact, events=tuple(self.events))

    # ------------------------------------------------------------ script and loop
    def script(self) -> None:
        for i, ev in enumerate(self.raw.get("events") or []):
            where = f"{self.name}.events.{i}"
            if not isinstance(ev, Mapping) or not ev.get("name"):
                raise ScenarioError(f"{where}: an event needs a name")
            at = self.start + _offset(ev.get("at"), where + ".at")
            self.push(at, "event", EventRecord(str(ev["name"]), at, dict(ev.get("properties") or {})))
        for key in self.raw.get("enter") or []:
            if key not in self.by_key:
                raise ScenarioError(f"{self.name}.enter: no published journey {key!r}")
            self.push(self.start, "entry", (key, manual_entry(self.by_key[key]), None))

    def run(self) -> ContactTimeline:
        self.script()
        for _ in range(MAX_STIMULI):
            if not self.queue:
                break
            item = heapq.heappop(self.queue)
            if item.at > self.end:
                break
            self.now = item.at
            if item.kind == "event":
                self.on_event(item.data)
            elif item.kind == "entry":
                key, entry, cause = item.data
                self.enter(self.by_key[key], entry, cause)
            elif item.kind == "timer" and item.enrollment is not None:
                self.apply(self.enrolments[int(item.enrollment)], item.data)
        return ContactTimeline(self.name, dict(self.raw.get("contact") or {}), self.happened)

    def on_event(self, event: EventRecord) -> None:
        self.events.append(event)
        live = [e for e in self.enrolments.values() if e.state.status != "ended"]
        for enr in sorted(live, key=lambda e: self.policy.rank(e.doc.key)):
            self.apply(enr, EventStimulus(event))
        cause = cause_of_event(event.name, event.properties)
        for doc in self.docs:
            for entry in match_triggers(doc, event, self.snapshot(), self.now):
                self.enter(doc, entry, cause)

    # ------------------------------------------------------------ entering (loop breaker)
    def enter(self, doc: JourneyDoc, entry: Entry, cause: Cause | None) -> None:
        priors = [
            PriorEnrollment(
                e.state.status,
                e.state.end_reason,
                from_iso(e.state.entered_at or self.now.isoformat()),
                from_iso(e.state.ended_at) if e.state.ended_at else None,
                e.state.key,
            )  # fmt: skip
            for e in self.enrolments.values()
            if e.doc.key == doc.key
        ]
        ok, why = may_enter(doc, priors, entry.key, self.now)
        if not ok:
            self.note(doc.key, "not_entered", reason=why)
            return
        limit = LoopLimit(*doc.settings.loop_limit) if doc.settings.loop_limit else self.policy.loop
        parent = self.enrolments.get(cause.parent_enrollment) if cause and cause.parent_enrollment else None
        chain = extend(parent.chain if parent else (), ChainLink(doc.key, None, self.now), limit.window)
        stop = check(chain, limit)
        if stop is not None:
            self.note(doc.key, "loop_stopped", chain=stop.text, rounds=stop.rounds, limit=limit.rounds)
            return
        eid = len(self.enrolments) + 1
        enr = _Enrolment(
            eid, doc, EnrollmentState(journey=doc.key, key=entry.key), (*chain[:-1], ChainLink(doc.key, eid, self.now))
        )
        self.enrolments[eid] = enr
        self.note(doc.key, "entered", enrollment=eid, **({"cause": cause.to_dict()} if cause else {}))
        self.apply(enr, entry, new=True)

    def apply(self, enr: _Enrolment, stimulus: Stimulus, new: bool = False) -> None:
        ctx = EngineContext(enrollment_id=enr.id, recent_sends=tuple(self.sends), policy=self.policy)
        was_live = not new and enr.state.status != "ended"
        t = advance(enr.doc, None if new else enr.state, stimulus, self.snapshot(), self.now, context=ctx)
        enr.state = t.state
        if t.cancel_timers:
            self.queue = [i for i in self.queue if not (i.kind == "timer" and i.enrollment == str(enr.id))]
            heapq.heapify(self.queue)
        for timer in t.timers:
            self.push(timer.due_at, "timer", TimerDue(None, timer.kind, timer.payload), enr.id)
        for entry in t.trace:
            d = entry.detail
            if entry.action == "wait" and str(d.get("reason", "")).endswith(("cap", "quiet_hours")):
                self.note(enr.doc.key, "capped", step=entry.step_id, reason=d.get("reason"), until=d.get("until"))
            elif entry.action == "send_skipped":
                self.note(enr.doc.key, "skipped", step=entry.step_id, reason=d.get("reason"))
        self.perform(enr, t)
        if t.state.status == "ended" and (new or was_live):
            self.note(enr.doc.key, "ended", reason=t.state.end_reason)

    def perform(self, enr: _Enrolment, t: Transition) -> None:
        by = {"journey": enr.doc.key, "enrollment": enr.id}
        for effect in t.effects:
            if isinstance(effect, SendMessage):
                self.sends.append(SentRecord(effect.channel, self.now, effect.category))
                self.note(enr.doc.key, "message", step=effect.step_id, channel=effect.channel,
                          template=effect.template, category=effect.category)  # fmt: skip
                props = {"channel": effect.channel, "template": effect.template, "journey": enr.doc.key,
                         "step": effect.step_id, "category": effect.category}  # fmt: skip
                self.push(self.now, "event", EventRecord("message.sent", self.now, props))
            elif isinstance(effect, UpdateContact):
                self.update(effect, by)
            elif isinstance(effect, EnrollOther) and effect.journey_key in self.by_key:
                cause = Cause("enrol", effect.journey_key, enr.id, enr.doc.key)
                target = self.by_key[effect.journey_key]
                self.push(self.now, "entry", (target.key, manual_entry(target, effect.key), cause))

    def update(self, u: UpdateContact, by: Mapping[str, Any]) -> None:
        c = self.contact
        changed = {f"attributes.{k}": {"from": c.attributes.get(k), "to": v}
                   for k, v in u.set_attributes.items() if c.attributes.get(k) != v}  # fmt: skip
        tags = (set(c.tags) | set(u.add_tags)) - set(u.remove_tags)
        self.contact = replace(c, attributes={**c.attributes, **u.set_attributes}, tags=frozenset(tags),
                               lifecycle_stage=u.stage or c.lifecycle_stage, score=c.score + u.score_delta)  # fmt: skip
        if changed:
            self.push(self.now, "event", EventRecord("contact.updated", self.now, {"changed": changed, "by": dict(by)}))
        for tag in sorted(set(u.add_tags) - set(c.tags)):
            self.push(self.now, "event", EventRecord("tag.added", self.now, {"tag": tag, "by": dict(by)}))
        for tag in sorted(set(u.remove_tags) & set(c.tags)):
            self.push(self.now, "event", EventRecord("tag.removed", self.now, {"tag": tag, "by": dict(by)}))


def simulate_all(
    docs: Sequence[JourneyDoc],
    scenarios: Sequence[Mapping[str, Any]],
    policy: SendPolicy,
    *,
    start: datetime,
    horizon: timedelta,
) -> list[ContactTimeline]:
    """Every scenario contact through every journey at once; one timeline each."""
    out = []
    for i, raw in enumerate(scenarios):
        if not isinstance(raw, Mapping):
            raise ScenarioError(f"scenario {i + 1}: a scenario is a mapping")
        out.append(_Contact(docs, policy, raw, i, start, horizon).run())
    return out
