"""The journey engine's vocabulary: documents, enrolment state, stimuli, effects, transitions.

These types are the contract between the pure core (``domain.journeys``) and the runtime
(worker, store, API, CLI). They are stable: add fields with defaults, never rename.

The functions that use them::

    from tidings.domain.journeys.document import parse_journey          # text -> JourneyDoc
    from tidings.domain.journeys.machine import advance                 # the state machine
    from tidings.domain.journeys.triggers import (
        match_triggers, next_date_trigger, date_trigger_entry, manual_entry, may_enter)
    from tidings.domain.journeys.simulate import simulate               # scenarios on a virtual clock

Runtime contract (what the worker does with a ``Transition``), in ONE transaction:

* write ``transition.state`` (``to_json()``) into ``enrollments.state`` and copy ``status``,
  ``end_reason``, ``step_id`` into their columns (``ended_at = now`` when status is ended);
* if ``cancel_timers``: delete this enrolment's timer rows, then insert ``timers``
  (kind, due_at, payload) with ``enrollment_id``; a ``TimerDue`` whose payload ``token`` does not
  match the state's current wait is ignored by the machine (so a stale row is harmless);
* insert one ``outbox`` row per effect (``idempotency_key`` is unique: on conflict do nothing),
  ``kind = effect.kind``, payload ``effect.payload()``;
* insert one ``traces`` row per ``TraceEntry`` (``stimulus`` = ``transition.stimulus``), linking
  ``outbox_id`` through ``TraceEntry.effect_index`` (index into ``effects``).

The frequency cap reads ``EngineContext.recent_sends`` (the contact's messages across ALL
journeys: outbox rows pending/sending/sent in the largest cap window, ``created_at`` or ``sent_at``).
When it is None the machine falls back to ``message.sent`` events in the snapshot. Within one
``advance`` call the machine also counts the sends it emits itself. A runtime that advances several
enrolments of one contact in one batch should append the previous transitions' SendMessage
effects to ``recent_sends``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol
from zoneinfo import ZoneInfo

from tidings.domain.snapshot import EventRecord
from tidings.domain.statuses import EnrolmentStatus

if TYPE_CHECKING:
    from tidings.domain.journeys.effects import Effect

# --------------------------------------------------------------------------- errors


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a document is refused: where (line, step id, field path) and why."""

    message: str
    line: int | None = None
    step_id: str | None = None
    path: str = ""

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.step_id:
            where.append(f"step {self.step_id!r}")
        if self.path:
            where.append(self.path)
        return f"{', '.join(where)}: {self.message}" if where else self.message


class JourneyError(ValueError):
    """A journey document was refused, whole. ``problems`` lists every reason found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("invalid journey document:\n" + "\n".join(f"  - {p}" for p in self.problems))

    def details(self) -> list[dict[str, Any]]:
        """API-shaped details: ``[{"loc": [...], "msg": ..., "line": ..., "step": ...}]``."""
        return [
            {
                "loc": [p for p in p_.path.split(".") if p],
                "msg": p_.message,
                "line": p_.line,
                "step": p_.step_id,
            }
            for p_ in self.problems
        ]


class IllegalTransition(RuntimeError):
    """The machine was asked to move an enrolment along an edge its declaration does not have."""


# --------------------------------------------------------------------------- documents

TriggerType = Literal[
    "event",
    "segment_entered",
    "segment_exited",
    "attribute_changed",
    "tag_added",
    "tag_removed",
    "manual",
    "date",
]


@dataclass(frozen=True, slots=True)
class DateSpec:
    """A point in time relative to a date: an attribute, a variable, or an event's time/property."""

    attribute: str | None = None
    variable: str | None = None
    event: str | None = None
    #: for ``event``: the property holding the date (default: the event's own time).
    property: str | None = None
    #: signed offset added to the date (negative = before).
    offset: timedelta = timedelta(0)
    #: local time of day ("09:00") in the contact's timezone, for dates without a time.
    at: str | None = None
    yearly: bool = False


@dataclass(frozen=True, slots=True)
class Trigger:
    index: int
    type: TriggerType
    line: int | None = None
    #: event name (event trigger), segment key, attribute name or tag, depending on ``type``.
    target: str | None = None
    #: parsed filter rule on the event (event trigger), from ``where``.
    where: Any = None
    #: for attribute_changed: only when the new value equals this.
    to: Any = None
    #: event property path whose value is the enrolment key (keyed enrolment).
    key: str | None = None
    date: DateSpec | None = None
    #: enrolment variables taken from the trigger event: name -> ``properties.PATH`` | name | at | id.
    vars: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Criterion:
    """An exit/suppression/goal criterion: a rule on the contact, or an event (with filter)."""

    rule: Any = None
    event: str | None = None
    where: Any = None
    #: goal only: event property holding the revenue.
    revenue: str | None = None
    source: Any = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    channel: str
    max: int
    per: timedelta
    action: Literal["delay", "skip"] = "delay"


@dataclass(frozen=True, slots=True)
class SendWindow:
    #: weekdays 0=Monday..6=Sunday
    days: frozenset[int] = frozenset(range(7))
    start: str = "00:00"
    end: str = "24:00"


@dataclass(frozen=True, slots=True)
class JourneySettings:
    #: never | after_exit | after_days | per_key
    reentry: str = "after_exit"
    reentry_days: int | None = None
    exit: tuple[Criterion, ...] = ()
    suppress: tuple[Criterion, ...] = ()
    goal: tuple[Criterion, ...] = ()
    send_window: SendWindow | None = None
    #: (start, end) "HH:MM" local; may cross midnight ("21:00", "08:00").
    quiet_hours: tuple[str, str] | None = None
    frequency_caps: Mapping[str, FrequencyCap] = field(default_factory=dict)
    allow_owned: bool = False
    #: default message category for sends (marketing | transactional).
    category: str = "marketing"
    #: timezone used when the contact has none.
    timezone: str = "UTC"
    #: signal names this journey accepts (self-service).
    signals: frozenset[str] = frozenset()
    #: the loop breaker's limit for chains entering this journey: (rounds, window).
    loop_limit: tuple[int, timedelta] | None = None
    #: explicit exemption from the global send policy's caps (shown in ``journeys show``).
    exempt_from_caps: bool = False
    #: percent of entrants held out of every send (sticky per contact; ``domain/analytics/holdout.py``).
    control_group: float = 0.0
    #: which events belong to an enrolment (``domain/journeys/context.Correlation``), by its key.
    correlate: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    """One step. ``config`` is the validated raw mapping; ``rules`` the parsed conditions in it."""

    id: str
    type: str
    line: int | None
    config: Mapping[str, Any]
    #: outgoing edges: label -> target step id or "end" (labels: next, event, timeout, yes, no,
    #: branch:N, else, variant:NAME).
    edges: Mapping[str, str] = field(default_factory=dict)
    rules: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_wait(self) -> bool:
        return self.type in WAIT_STEP_TYPES


WAIT_STEP_TYPES = frozenset({"wait", "wait_until", "wait_time", "wait_event", "behaviour", "repeat"})
STEP_TYPES = frozenset(
    {
        "send",
        "wait",
        "wait_until",
        "wait_time",
        "wait_event",
        "branch",
        "behaviour",
        "split",
        "update_contact",
        "set_variables",
        "repeat",
        "webhook",
        "crm",
        "task",
        "assign_owner",
        "enroll",
        "goal",
        "exit",
    }
)
END = "end"


@dataclass(frozen=True, slots=True)
class JourneyDoc:
    key: str
    name: str
    triggers: tuple[Trigger, ...]
    steps: Mapping[str, Step]
    #: id of the first step (the first in the document).
    start: str
    settings: JourneySettings
    description: str = ""
    #: the normalised document as a plain mapping (what the store keeps as JSON).
    raw: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(self.raw, sort_keys=True, default=str)


# --------------------------------------------------------------------------- enrolment state

Status = EnrolmentStatus
#: why an enrolment ended
END_REASONS = ("completed", "converted", "exited", "suppressed", "owned", "signal", "error")


@dataclass(slots=True)
class Waiting:
    """What a waiting enrolment waits for. ``token`` matches the timer payload it expects."""

    kind: str  # duration | date | time | event | behaviour | window | cap
    step_id: str
    token: int
    until: str | None = None  # ISO 8601 UTC; None = no timer (event without timeout)
    event: str | None = None


@dataclass(slots=True)
class EnrollmentState:
    journey: str
    key: str = ""
    step_id: str | None = None
    status: Status = EnrolmentStatus.ACTIVE
    end_reason: str | None = None
    entered_at: str | None = None
    ended_at: str | None = None
    #: step id -> number of times the enrolment entered it (the visit in idempotency keys).
    visits: dict[str, int] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    #: split step id -> variant name (sticky).
    ab: dict[str, str] = field(default_factory=dict)
    #: send step id -> ISO time of its latest send (behaviour splits measure from it).
    sent: dict[str, str] = field(default_factory=dict)
    waiting: Waiting | None = None
    #: repeat step id -> {"done": last occurrence handled, "next": planned one, "paused": bool}.
    series: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the event that resumed the latest wait (``event.*`` in rules), as ``run.event_detail`` gives it.
    resumed_by: dict[str, Any] | None = None
    #: last wait token issued (monotonic).
    tokens: int = 0
    trigger_index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        w = self.waiting
        return {
            "journey": self.journey,
            "key": self.key,
            "step_id": self.step_id,
            "status": self.status,
            "end_reason": self.end_reason,
            "entered_at": self.entered_at,
            "ended_at": self.ended_at,
            "visits": dict(self.visits),
            "variables": dict(self.variables),
            "ab": dict(self.ab),
            "sent": dict(self.sent),
            "waiting": None if w is None else {
                "kind": w.kind, "step_id": w.step_id, "token": w.token, "until": w.until, "event": w.event
            },
            "tokens": self.tokens,
            "trigger_index": self.trigger_index,
            "resumed_by": self.resumed_by,
            "series": {k: dict(v) for k, v in self.series.items()},
        }  # fmt: skip

    def copy(self) -> EnrollmentState:
        """A copy the machine may change (dicts copied one level deep; values are replaced, not mutated)."""
        w = self.waiting
        return replace(
            self,
            visits=dict(self.visits),
            variables=dict(self.variables),
            ab=dict(self.ab),
            sent=dict(self.sent),
            series={k: dict(v) for k, v in self.series.items()},
            waiting=None if w is None else Waiting(w.kind, w.step_id, w.token, w.until, w.event),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnrollmentState:
        d = dict(data)
        w = d.pop("waiting", None)
        known = {f for f in cls.__dataclass_fields__}
        if "status" in d:
            d["status"] = EnrolmentStatus(d["status"])
        st = cls(**{k: v for k, v in d.items() if k in known})
        st.waiting = Waiting(**w) if w else None
        return st

    @classmethod
    def from_json(cls, text: str | Mapping[str, Any]) -> EnrollmentState:
        return cls.from_dict(json.loads(text) if isinstance(text, str) else text)


@dataclass(frozen=True, slots=True)
class PriorEnrollment:
    """What ``may_enter`` needs of a contact's earlier enrolments in the same journey."""

    status: str
    end_reason: str | None
    entered_at: datetime
    ended_at: datetime | None
    key: str = ""


# --------------------------------------------------------------------------- stimuli


@dataclass(frozen=True, slots=True)
class Entry:
    trigger_index: int
    event: EventRecord | None = None
    key: str = ""
    name: ClassVar[str] = "entry"


@dataclass(frozen=True, slots=True)
class TimerDue:
    timer_id: int | str | None
    kind: str
    payload: Mapping[str, Any]
    name: ClassVar[str] = "timer"


@dataclass(frozen=True, slots=True)
class EventStimulus:
    event: EventRecord
    name: ClassVar[str] = "event"


@dataclass(frozen=True, slots=True)
class ContactChanged:
    name: ClassVar[str] = "contact_changed"


@dataclass(frozen=True, slots=True)
class Signal:
    """A self-service signal, e.g. ``Signal("reschedule", {"start_date": "2026-03-01"})``.

    Its data is merged into the enrolment's variables; a waiting date wait is re-planned.
    ``stop`` ends the enrolment (reason ``signal``)."""

    signal: str
    data: Mapping[str, Any] = field(default_factory=dict)
    name: ClassVar[str] = "signal"


Stimulus = Entry | TimerDue | EventStimulus | ContactChanged | Signal


@dataclass(frozen=True, slots=True)
class SentRecord:
    channel: str
    at: datetime
    category: str = "marketing"


class PolicyCheck(Protocol):
    """What a send step asks the global send policy (``domain/control/policy.SendPolicy``).

    None when a message may go now; else (``delay`` | ``skip``, retry time, trace detail).
    """

    def check(
        self, sends: Sequence[SentRecord], now: datetime, channel: str, category: str, tz: ZoneInfo, *, exempt: bool
    ) -> tuple[str, datetime | None, dict[str, Any]] | None: ...


@dataclass(frozen=True, slots=True)
class EngineContext:
    """What the runtime knows beyond the snapshot."""

    enrollment_id: int | str
    journey_version: int = 1
    #: the contact's recent messages across all journeys (see the module doc); None = use events.
    recent_sends: Sequence[SentRecord] | None = None
    #: the journey's storage id: message.* events from the channels name their journey by it.
    journey_id: int | str | None = None
    #: split step id -> the variant rolled out to everyone (a decided experiment).
    rollouts: Mapping[str, str] = field(default_factory=dict)
    #: the global send policy (``domain.control.policy.SendPolicy``), evaluated for every send.
    policy: PolicyCheck | None = None


# --------------------------------------------------------------------------- transitions


@dataclass(frozen=True, slots=True)
class TimerRequest:
    due_at: datetime
    kind: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class TraceEntry:
    step_id: str | None
    action: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    #: index into ``Transition.effects`` of the effect this entry explains.
    effect_index: int | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    state: EnrollmentState
    effects: list[Effect]
    timers: list[TimerRequest]
    cancel_timers: bool
    trace: list[TraceEntry]
    #: name of the stimulus (entry | timer | event | contact_changed | signal) for the trace rows.
    stimulus: str = ""
    #: False when the stimulus was recorded and ignored (nothing changed).
    changed: bool = True
    #: the edges walked, in order: (from step id or "" at entry, to step id or "" at the end);
    #: the funnel per edge (``analytics_edges``) counts them.
    moves: list[tuple[str, str]] = field(default_factory=list)
