"""The Python evaluator: one contact's snapshot, inside the journey engine and the worker.

It must mean exactly what the SQL compiler (``store.rules_sql``) means; property tests hold
the two together. The semantics are listed in ``ast.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from tidings.domain.rules.ast import (
    NEGATED,
    SYSTEM_EVENT_PREFIXES,
    All,
    AnyOf,
    Attr,
    Compare,
    Consent,
    Duration,
    EnrolmentValue,
    EventAgg,
    EventProp,
    Field,
    HasTag,
    InJourney,
    InSegment,
    JourneyState,
    Not,
    Rule,
    RuleError,
    Sequence,
    Target,
)
from tidings.domain.snapshot import ContactSnapshot, EventRecord

_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")
ACTIVE_JOURNEY = ("active", "waiting")


def iso19(dt: datetime) -> str:
    """A UTC time as the 19-character ISO text attribute dates are compared with."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S")


def typed(v: Any, lit: Any) -> Any:
    """``v`` when it has the literal's type (numbers as float), else None: the rule of coercion."""
    if isinstance(lit, bool):
        return v if isinstance(v, bool) else None
    if isinstance(lit, int | float):
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
    if isinstance(lit, str):
        return v if isinstance(v, str) else None
    if isinstance(lit, datetime):
        return v if isinstance(v, datetime) else None
    return None


def _norm(lit: Any) -> Any:
    return float(lit) if isinstance(lit, int | float) and not isinstance(lit, bool) else lit


def compare(op: str, actual: Any, value: Any, now: datetime) -> bool:
    """``actual op value`` with the language's coercion and missing-value rules."""
    if op in NEGATED:
        return not compare(NEGATED[op], actual, value, now)
    if op == "exists":
        return actual is not None
    if op == "in":
        return any(compare("eq", actual, v, now) for v in value)
    if op == "between":
        lo, hi = value
        return compare("gte", actual, lo, now) and compare("lte", actual, hi, now)
    if op == "contains":
        if isinstance(actual, str):
            return value in actual
        if isinstance(actual, list):
            return any(isinstance(x, str) and x == value for x in actual)
        return False
    if op == "starts_with":
        return isinstance(actual, str) and actual.startswith(value)
    if op in ("within_last", "more_than_ago", "anniversary_in"):
        return _date_op(op, actual, value, now)
    v = typed(actual, value)
    if v is None:
        return False
    lit = _norm(value)
    if op == "eq":
        return bool(v == lit)
    if isinstance(lit, bool):
        return False
    if op == "gt":
        return bool(v > lit)
    if op == "gte":
        return bool(v >= lit)
    if op == "lt":
        return bool(v < lit)
    if op == "lte":
        return bool(v <= lit)
    raise RuleError(f"unknown operator {op!r}")


def _date_op(op: str, actual: Any, d: Duration, now: datetime) -> bool:
    if isinstance(actual, datetime):
        if op == "within_last":
            return now - timedelta(seconds=d.seconds) <= actual <= now
        if op == "more_than_ago":
            return actual < now - timedelta(seconds=d.seconds)
        return actual.strftime("%m-%d") == (now + timedelta(seconds=d.seconds)).strftime("%m-%d")
    if not isinstance(actual, str) or not _DATE_RE.match(actual):
        return False
    s = actual[:19].replace(" ", "T")
    if op == "within_last":
        return iso19(now - timedelta(seconds=d.seconds)) <= s <= iso19(now)
    if op == "more_than_ago":
        return s < iso19(now - timedelta(seconds=d.seconds))
    return s[5:10] == (now + timedelta(seconds=d.seconds)).strftime("%m-%d")


def path_get(doc: Any, path: tuple[str, ...]) -> Any:
    for p in path:
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(p)
    return doc


def event_matches(ev: EventAgg, e: EventRecord, now: datetime) -> bool:
    if ev.event is None:
        if e.name.startswith(SYSTEM_EVENT_PREFIXES):
            return False
    elif e.name != ev.event:
        return False
    if ev.window is not None and e.occurred_at < now - timedelta(seconds=ev.window.seconds):
        return False
    props = e.properties or {}
    for k, v in ev.where:
        if not compare("eq", props.get(k), v, now):
            return False
    return not (ev.human and props.get("machine") is True)


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def aggregate(ev: EventAgg, snapshot: ContactSnapshot, now: datetime) -> Any:
    events = [e for e in snapshot.events if event_matches(ev, e, now)]
    if ev.agg == "count":
        return len(events)
    if ev.agg in ("first", "last"):
        if not events:
            return None

        def key(e: EventRecord) -> tuple[datetime, int]:
            return (e.occurred_at, e.id or 0)

        pick = min(events, key=key) if ev.agg == "first" else max(events, key=key)
        return pick.occurred_at if ev.prop is None else (pick.properties or {}).get(ev.prop)
    nums = [_num(e.value if ev.prop is None else (e.properties or {}).get(ev.prop)) for e in events]
    vals = [n for n in nums if n is not None]
    if ev.agg == "sum":
        return float(sum(vals))
    if not vals:
        return None
    return min(vals) if ev.agg == "min" else max(vals)


#: what a journey rule reads beyond the contact: ``{"vars": {...}, "event": {...} | None}``.
Scope = Mapping[str, Any]


def value_of(target: Target, snapshot: ContactSnapshot, now: datetime, scope: Scope | None = None) -> Any:
    if isinstance(target, EnrolmentValue):
        if scope is None:
            raise RuleError(f"{target.root}.* only applies to journey rules (an enrolment's values)")
        return path_get(scope.get(target.root), target.path)
    if isinstance(target, Field):
        return snapshot.field_value(target.name)
    if isinstance(target, Attr):
        return path_get(snapshot.attributes, target.path)
    if isinstance(target, Consent):
        return snapshot.consents.get(target.channel)
    if isinstance(target, JourneyState):
        return snapshot.journeys.get(target.journey)
    if isinstance(target, EventAgg):
        return aggregate(target, snapshot, now)
    if isinstance(target, EventProp):
        raise RuleError("properties.* only applies to event filters (journey triggers), not to contacts")
    raise TypeError(target)


def _epoch(dt: datetime) -> int:
    return int(dt.timestamp() // 1)


def sequence_holds(rule: Sequence, snapshot: ContactSnapshot, now: datetime) -> bool:
    cut = now - timedelta(seconds=rule.within.seconds)
    thens = [_epoch(e.occurred_at) for e in snapshot.events if e.name == rule.then_not]
    for e in snapshot.events:
        if e.name == rule.did and e.occurred_at <= cut:
            t = _epoch(e.occurred_at)
            if not any(t <= y <= t + rule.within.seconds for y in thens):
                return True
    return False


def evaluate(rule: Rule, snapshot: ContactSnapshot, now: datetime, scope: Scope | None = None) -> bool:
    """Whether the contact matches the rule at ``now`` (``scope``: a journey enrolment's values)."""
    if isinstance(rule, All):
        return all(evaluate(r, snapshot, now, scope) for r in rule.items)
    if isinstance(rule, AnyOf):
        return any(evaluate(r, snapshot, now, scope) for r in rule.items)
    if isinstance(rule, Not):
        return not evaluate(rule.item, snapshot, now, scope)
    if isinstance(rule, Compare):
        return compare(rule.op, value_of(rule.target, snapshot, now, scope), rule.value, now)
    if isinstance(rule, HasTag):
        return rule.tag in snapshot.tags
    if isinstance(rule, InSegment):
        return rule.segment in snapshot.segments
    if isinstance(rule, InJourney):
        return snapshot.journeys.get(rule.journey) in ACTIVE_JOURNEY
    if isinstance(rule, Sequence):
        return sequence_holds(rule, snapshot, now)
    raise TypeError(f"not a rule: {rule!r}")


def matches_event(rule: Rule, event: EventRecord, now: datetime) -> bool:
    """An event filter (``properties.total > 50``) against one event."""
    if isinstance(rule, All):
        return all(matches_event(r, event, now) for r in rule.items)
    if isinstance(rule, AnyOf):
        return any(matches_event(r, event, now) for r in rule.items)
    if isinstance(rule, Not):
        return not matches_event(rule.item, event, now)
    if isinstance(rule, Compare) and isinstance(rule.target, EventProp):
        return compare(rule.op, path_get(event.properties or {}, rule.target.path), rule.value, now)
    raise RuleError("an event filter only reads the event's properties (properties.NAME ...)")


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, frozenset | set):
        return sorted(v)
    if isinstance(v, str | int | float | bool) or v is None:
        return v
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return repr(v)


def explain(rule: Rule, snapshot: ContactSnapshot, now: datetime, scope: Scope | None = None) -> list[dict[str, Any]]:
    """Each sub-condition as text with the value it read and its result (for "why" traces)."""
    from tidings.domain.rules.text import to_text

    out: list[dict[str, Any]] = []

    def walk(r: Rule, path: list[Any]) -> bool:
        entry: dict[str, Any] = {"path": path, "condition": to_text(r)}
        out.append(entry)
        if isinstance(r, All | AnyOf):
            key = "all" if isinstance(r, All) else "any"
            results = [walk(x, path + [key, i]) for i, x in enumerate(r.items)]
            result = all(results) if isinstance(r, All) else any(results)
        elif isinstance(r, Not):
            result = not walk(r.item, path + ["not"])
        elif isinstance(r, Compare):
            actual = value_of(r.target, snapshot, now, scope)
            entry["value"] = _jsonable(actual)
            result = compare(r.op, actual, r.value, now)
        elif isinstance(r, HasTag):
            entry["value"] = sorted(snapshot.tags)
            result = evaluate(r, snapshot, now)
        elif isinstance(r, InSegment):
            entry["value"] = sorted(snapshot.segments)
            result = evaluate(r, snapshot, now)
        elif isinstance(r, InJourney):
            entry["value"] = snapshot.journeys.get(r.journey)
            result = evaluate(r, snapshot, now)
        else:
            result = evaluate(r, snapshot, now)
        entry["result"] = result
        return result

    walk(rule, [])
    return out
