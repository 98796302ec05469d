"""The rule language's syntax tree: one small immutable node per kind of condition.

Both the text syntax and the structured (JSON/YAML) form parse to these nodes; the Python
evaluator and the SQL compiler read only these nodes, which is what keeps their meaning equal.

Semantics every evaluator holds to (see docs/notes/segments.md):
- Two-valued logic: a condition on a missing value (absent attribute, JSON null, no events for
  min/max/first/last) is false, except ``!=``, ``not in`` and ``not exists``, which are exactly
  the negation of ``==``, ``in`` and ``exists``.
- Values are typed by the literal: a number literal only matches JSON numbers (never booleans or
  numeric strings), a string literal only strings, a boolean only booleans.
- Windows: an event is inside ``(30d)`` when ``occurred_at >= now - 30d`` (inclusive).
- Times are UTC. Dates kept in attributes are ISO strings compared on their first 19
  characters (``YYYY-MM-DDTHH:MM:SS``, a space taken as ``T``; offsets are ignored).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tidings.domain.channels import CONSENT_CHANNELS
from tidings.domain.snapshot import STANDARD_FIELDS

CHANNELS_OK = CONSENT_CHANNELS


class RuleError(ValueError):
    """A rule that does not parse or validate.

    ``path`` locates the sub-rule in the structured form (e.g. ``["all", 2, "value"]``);
    ``column`` is the 1-based column in the text syntax, when the rule was text.
    """

    def __init__(self, message: str, path: list[Any] | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = list(path or [])
        self.column = column

    def __str__(self) -> str:
        where = []
        if self.path:
            where.append("at " + ".".join(str(p) for p in self.path))
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{self.message} ({', '.join(where)})" if where else self.message


# ----------------------------------------------------------------------------- vocabulary

#: comparison operators (the structured form's names).
OPS = (
    "eq",
    "ne",
    "in",
    "not_in",
    "contains",
    "starts_with",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "exists",
    "not_exists",
    "within_last",
    "more_than_ago",
    "anniversary_in",
)
NEGATED = {"ne": "eq", "not_in": "in", "not_exists": "exists"}
NUMERIC_OPS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "exists", "not_exists")
STRING_OPS = NUMERIC_OPS + ("contains", "starts_with")
DATE_OPS = (
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "exists",
    "not_exists",
    "within_last",
    "more_than_ago",
    "anniversary_in",
)
DURATION_OPS = ("within_last", "more_than_ago", "anniversary_in")

AGGS = ("count", "sum", "min", "max", "first", "last")
NUMBER_FIELDS = ("id", "score")
DATE_FIELDS = ("created_at",)
STRING_FIELDS = tuple(f for f in STANDARD_FIELDS if f not in NUMBER_FIELDS + DATE_FIELDS)
CONSENT_STATUSES = ("granted", "denied", "unsubscribed", "pending")

#: events that are bookkeeping rather than the contact's own activity: ``last_seen`` skips them.
SYSTEM_EVENT_PREFIXES = ("message.", "segment.", "tag.", "consent.", "contact.", "task.", "journey.")

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
#: event names as trackers send them: Segment's spec names have spaces ("Order Completed");
#: any printable text up to 200 characters, no control characters, no surrounding blanks. In
#: the text syntax a name that is not an identifier is written ``event("Order Completed")``.
EVENT_RE = re.compile(r"^(?=\S)[^\x00-\x1f\x7f]{1,200}(?<=\S)$")
KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:\-]{0,99}$")
DURATION_RE = re.compile(r"^([0-9]{1,6})([smhdw])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True, slots=True)
class Duration:
    """A window or offset, kept with its unit so it prints back as written."""

    amount: int
    unit: str

    @property
    def seconds(self) -> int:
        return self.amount * UNIT_SECONDS[self.unit]

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    @classmethod
    def parse(cls, text: Any, path: list[Any] | None = None, column: int | None = None) -> Duration:
        m = DURATION_RE.match(text) if isinstance(text, str) else None
        if not m:
            raise RuleError(f"bad window {text!r}: write a number and a unit s, m, h, d or w (e.g. 30d)", path, column)
        return cls(int(m.group(1)), m.group(2))


# ----------------------------------------------------------------------------- value targets


class Target:
    """Something a comparison reads from the contact (or, in an event filter, the event)."""

    kind: str = "any"  # number | string | date | any (typed by the literal) | bool


@dataclass(frozen=True, slots=True)
class Field(Target):
    name: str

    @property
    def kind(self) -> str:  # type: ignore[override]
        if self.name in NUMBER_FIELDS:
            return "number"
        if self.name in DATE_FIELDS:
            return "date"
        return "string"


@dataclass(frozen=True, slots=True)
class Attr(Target):
    path: tuple[str, ...]
    kind = "any"


@dataclass(frozen=True, slots=True)
class Consent(Target):
    channel: str
    kind = "string"


@dataclass(frozen=True, slots=True)
class JourneyState(Target):
    journey: str
    kind = "string"


@dataclass(frozen=True, slots=True)
class EventAgg(Target):
    """An aggregate over the contact's events.

    ``event`` None means any activity (events whose names do not start with a system prefix):
    ``last_seen`` is ``EventAgg(None, "last")``. ``prop`` None means the event's own ``value``
    (sum/min/max) or its time (first/last). ``where`` is property equality filters; ``human``
    drops events whose ``machine`` property is true (proxy opens, link scanners).
    """

    event: str | None
    agg: str
    prop: str | None = None
    window: Duration | None = None
    where: tuple[tuple[str, Any], ...] = ()
    human: bool = False

    @property
    def kind(self) -> str:  # type: ignore[override]
        if self.agg in ("count", "sum", "min", "max"):
            return "number"
        return "date" if self.prop is None else "any"


@dataclass(frozen=True, slots=True)
class EventProp(Target):
    """A property of the one event an event filter looks at (``properties.total``)."""

    path: tuple[str, ...]
    kind = "any"


#: roots of :class:`EnrolmentValue`: an enrolment's variables, the event that resumed its wait.
ENROLMENT_ROOTS = ("vars", "event")


@dataclass(frozen=True, slots=True)
class EnrolmentValue(Target):
    """A value a journey enrolment holds, not the contact: ``vars.order_total`` (its variables)
    or ``event.properties.score`` (the event that resumed its latest wait). Journey rules only:
    evaluated with a ``scope`` (``evaluate(..., scope={"vars": ..., "event": ...})``)."""

    root: str
    path: tuple[str, ...]
    kind = "any"


# ----------------------------------------------------------------------------- rule nodes


class Rule:
    """Base of every rule node (the AST root type)."""


@dataclass(frozen=True, slots=True)
class All(Rule):
    items: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class AnyOf(Rule):
    items: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Not(Rule):
    item: Rule


@dataclass(frozen=True, slots=True)
class Compare(Rule):
    """``target op value``; ``value`` is a scalar, a tuple (in, between), a Duration or None."""

    target: Target
    op: str
    value: Any = None


@dataclass(frozen=True, slots=True)
class HasTag(Rule):
    tag: str


@dataclass(frozen=True, slots=True)
class InSegment(Rule):
    segment: str


@dataclass(frozen=True, slots=True)
class InJourney(Rule):
    """Currently enrolled (active or waiting) in the journey."""

    journey: str


@dataclass(frozen=True, slots=True)
class Sequence(Rule):
    """Did ``did`` but not ``then_not`` within ``within`` after it (the window must have passed).

    True when some ``did`` event at time t has ``t <= now - within`` and no ``then_not`` event
    falls in ``[t, t + within]`` (compared at whole-second resolution).
    """

    did: str
    then_not: str
    within: Duration


def is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def parse_time(value: Any, path: list[Any] | None = None, column: int | None = None) -> datetime:
    """Date literals for date fields: ISO 8601, naive taken as UTC."""
    from datetime import UTC

    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise RuleError(
                f"bad date {value!r}: use ISO 8601 (2026-01-31 or 2026-01-31T09:00:00Z)", path, column
            ) from None
    else:
        raise RuleError(f"expected a date, got {value!r}", path, column)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
