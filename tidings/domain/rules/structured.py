"""The canonical structured form (JSON/YAML) of a rule: parse with exact error paths, and print.

Shapes (one key names the kind of condition)::

    {"all": [...]}  {"any": [...]}  {"not": {...}}
    {"field": "score", "op": "gte", "value": 10}
    {"attribute": "plan", "op": "eq", "value": "pro"}        # or ["address", "city"]
    {"tag": "vip"}
    {"consent": "email", "op": "eq", "value": "granted"}
    {"event": "purchase", "agg": "count", "window": "30d", "op": "gte", "value": 2}
    {"event": "message.opened", "agg": "count", "where": {"template": "welcome"}, "human": true,
     "window": "7d", "op": "gte", "value": 1}
    {"event": "*", "agg": "last", "op": "more_than_ago", "value": "14d"}   # last_seen
    {"sequence": {"did": "cart_added", "not": "purchase", "within": "1d"}}
    {"in_segment": "vip"}  {"in_journey": "welcome"}
    {"journey_state": "welcome", "op": "eq", "value": "ended:converted"}
    {"property": "total", "op": "gt", "value": 50}            # event filters only
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tidings.domain.event_names import canonical_event_name
from tidings.domain.rules.ast import (
    AGGS,
    CHANNELS_OK,
    CONSENT_STATUSES,
    DATE_OPS,
    DURATION_OPS,
    EVENT_RE,
    KEY_RE,
    NAME_RE,
    NUMERIC_OPS,
    OPS,
    STRING_OPS,
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
    parse_time,
)
from tidings.domain.rules.limits import MAX_DEPTH  # one limit for text and structured rules
from tidings.domain.snapshot import STANDARD_FIELDS


def allowed_ops(target: Target) -> tuple[str, ...]:
    if isinstance(target, EventAgg) and target.agg in ("count", "sum"):
        return tuple(o for o in NUMERIC_OPS if o not in ("exists", "not_exists"))
    return {"number": NUMERIC_OPS, "string": STRING_OPS, "date": DATE_OPS}.get(target.kind, OPS)


def _literal(target: Target, op: str, v: Any, path: list[Any], column: int | None) -> Any:
    kind = target.kind
    if op in ("contains", "starts_with"):
        if not isinstance(v, str):
            raise RuleError(f"{op} needs a text value, got {v!r}", path, column)
        return v
    if kind == "date":
        return parse_time(v, path, column)
    if kind == "number":
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise RuleError(f"expected a number, got {v!r}", path, column)
        return v
    if kind == "string":
        if not isinstance(v, str):
            raise RuleError(f"expected text, got {v!r}", path, column)
        if isinstance(target, Consent) and op in ("eq", "ne", "in", "not_in") and v not in CONSENT_STATUSES:
            raise RuleError(f"consent status is one of {', '.join(CONSENT_STATUSES)}, got {v!r}", path, column)
        return v
    if isinstance(v, bool):
        if op in ("gt", "gte", "lt", "lte", "between"):
            raise RuleError(f"{op} needs a number or text, got {v!r}", path, column)
        return v
    if isinstance(v, int | float | str):
        return v
    raise RuleError(f"expected a number, text or true/false, got {v!r}", path, column)


def make_compare(
    target: Target,
    op: Any,
    value: Any,
    path: list[Any],
    column: int | None = None,
    value_column: int | None = None,
) -> Compare:
    """Validate ``target op value`` (operator allowed for the target, value of the right type)."""
    if op not in OPS:
        raise RuleError(f"unknown operator {op!r}; use one of {', '.join(OPS)}", path + ["op"], column)
    ops = allowed_ops(target)
    if op not in ops:
        raise RuleError(f"operator {op!r} does not apply here; use one of {', '.join(ops)}", path + ["op"], column)
    vpath = path + ["value"]
    vcol = value_column or column
    if op in ("exists", "not_exists"):
        return Compare(target, op, None)
    if op in DURATION_OPS:
        d = value if isinstance(value, Duration) else Duration.parse(value, vpath, vcol)
        if op == "anniversary_in" and d.unit not in ("d", "w"):
            raise RuleError("anniversary_in takes days or weeks (e.g. 3d)", vpath, vcol)
        return Compare(target, op, d)
    if op in ("in", "not_in"):
        if not isinstance(value, list | tuple) or not value:
            raise RuleError(f"{op} needs a non-empty list", vpath, vcol)
        return Compare(target, op, tuple(_literal(target, op, v, vpath + [i], vcol) for i, v in enumerate(value)))
    if op == "between":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise RuleError("between needs two values [low, high]", vpath, vcol)
        lo, hi = (_literal(target, op, v, vpath + [i], vcol) for i, v in enumerate(value))
        if type(lo) is not type(hi) and not (isinstance(lo, int | float) and isinstance(hi, int | float)):
            raise RuleError("between needs two values of the same type", vpath, vcol)
        return Compare(target, op, (lo, hi))
    if value is None:
        raise RuleError(f"{op} needs a value", vpath, vcol)
    return Compare(target, op, _literal(target, op, value, vpath, vcol))


def check_event_name(value: Any, path: list[Any], column: int | None = None) -> str:
    """An event name, spec spelling mapped to the one vocabulary (``Order Completed`` -> ``order.completed``)."""
    return check_name(canonical_event_name(value) if isinstance(value, str) else value, "event name", path, column,
                      EVENT_RE)


def check_name(value: Any, what: str, path: list[Any], column: int | None = None, pattern: Any = KEY_RE) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise RuleError(f"bad {what} {value!r}", path, column)
    return value


def attr_path(value: Any, path: list[Any], column: int | None = None) -> tuple[str, ...]:
    parts = value.split(".") if isinstance(value, str) else value
    if not isinstance(parts, list | tuple) or not parts or len(parts) > 8:
        raise RuleError(f"bad attribute path {value!r}", path, column)
    for p in parts:
        check_name(p, "attribute name", path, column, NAME_RE)
    return tuple(parts)


def parse_structured(doc: Any, path: list[Any] | None = None, depth: int = 0) -> Rule:
    path = path or []
    if depth > MAX_DEPTH:
        raise RuleError(f"rule nested too deeply: at most {MAX_DEPTH} levels", path)
    if not isinstance(doc, Mapping):
        raise RuleError(f"expected a condition object, got {type(doc).__name__}", path)
    for key in ("all", "any"):
        if key in doc:
            _only(doc, {key}, path)
            items = doc[key]
            if not isinstance(items, list) or not items:
                raise RuleError(f"{key} needs a non-empty list of conditions", path + [key])
            nodes = tuple(parse_structured(x, path + [key, i], depth + 1) for i, x in enumerate(items))
            if len(nodes) == 1:  # the same rule, one canonical tree
                return nodes[0]
            return All(nodes) if key == "all" else AnyOf(nodes)
    if "not" in doc:
        _only(doc, {"not"}, path)
        return Not(parse_structured(doc["not"], path + ["not"], depth + 1))
    if "tag" in doc:
        _only(doc, {"tag"}, path)
        return HasTag(check_name(doc["tag"], "tag", path + ["tag"]))
    if "in_segment" in doc:
        _only(doc, {"in_segment"}, path)
        return InSegment(check_name(doc["in_segment"], "segment key", path + ["in_segment"]))
    if "in_journey" in doc:
        _only(doc, {"in_journey"}, path)
        return InJourney(check_name(doc["in_journey"], "journey key", path + ["in_journey"]))
    if "sequence" in doc:
        _only(doc, {"sequence"}, path)
        s = doc["sequence"]
        sp = path + ["sequence"]
        if not isinstance(s, Mapping):
            raise RuleError("sequence is {did, not, within}", sp)
        _only(s, {"did", "not", "within"}, sp)
        return Sequence(
            check_event_name(s.get("did"), sp + ["did"]),
            check_event_name(s.get("not"), sp + ["not"]),
            Duration.parse(s.get("within"), sp + ["within"]),
        )
    cmp_keys = {"op", "value"}
    if "field" in doc:
        _only(doc, {"field"} | cmp_keys, path)
        name = doc["field"]
        if name not in STANDARD_FIELDS:
            raise RuleError(
                f"unknown field {name!r}; fields are {', '.join(STANDARD_FIELDS)} (custom data: attribute)",
                path + ["field"],
            )
        target: Target = Field(name)
    elif "attribute" in doc:
        _only(doc, {"attribute"} | cmp_keys, path)
        target = Attr(attr_path(doc["attribute"], path + ["attribute"]))
    elif "event" in doc:
        _only(doc, {"event", "agg", "property", "window", "where", "human"} | cmp_keys, path)
        target = _event_agg(doc, path)
    elif "property" in doc:
        _only(doc, {"property"} | cmp_keys, path)
        target = EventProp(attr_path(doc["property"], path + ["property"]))
    elif "variable" in doc:
        _only(doc, {"variable"} | cmp_keys, path)
        target = EnrolmentValue("vars", attr_path(doc["variable"], path + ["variable"]))
    elif "resumed_by" in doc:
        _only(doc, {"resumed_by"} | cmp_keys, path)
        target = EnrolmentValue("event", attr_path(doc["resumed_by"], path + ["resumed_by"]))
    elif "consent" in doc:
        _only(doc, {"consent"} | cmp_keys, path)
        ch = doc["consent"]
        if ch not in CHANNELS_OK:
            raise RuleError(f"unknown channel {ch!r}; channels are {', '.join(CHANNELS_OK)}", path + ["consent"])
        target = Consent(ch)
    elif "journey_state" in doc:
        _only(doc, {"journey_state"} | cmp_keys, path)
        target = JourneyState(check_name(doc["journey_state"], "journey key", path + ["journey_state"]))
    else:
        raise RuleError(f"unknown condition with keys {sorted(map(str, doc))}", path)
    return make_compare(target, doc.get("op", "eq"), doc.get("value"), path)


def _event_agg(doc: Mapping[str, Any], path: list[Any]) -> EventAgg:
    ev = doc["event"]
    if ev != "*":
        ev = check_event_name(ev, path + ["event"])
    agg = doc.get("agg", "count")
    if agg not in AGGS:
        raise RuleError(f"unknown aggregate {agg!r}; use one of {', '.join(AGGS)}", path + ["agg"])
    prop = doc.get("property")
    if prop is not None:
        if agg == "count":
            raise RuleError("count takes no property", path + ["property"])
        check_name(prop, "property name", path + ["property"], None, NAME_RE)
    window = doc.get("window")
    win = None if window is None else Duration.parse(window, path + ["window"])
    where = doc.get("where") or {}
    if not isinstance(where, Mapping):
        raise RuleError("where maps property names to values", path + ["where"])
    filters = []
    for k, v in where.items():
        check_name(k, "property name", path + ["where", k], None, NAME_RE)
        if v is None or not isinstance(v, str | int | float | bool):
            raise RuleError(f"filter value must be text, a number or true/false, got {v!r}", path + ["where", k])
        filters.append((k, v))
    human = doc.get("human", False)
    if not isinstance(human, bool):
        raise RuleError("human is true or false", path + ["human"])
    return EventAgg(None if ev == "*" else ev, agg, prop, win, tuple(sorted(filters)), human)


def _only(doc: Mapping[str, Any], keys: set[str], path: list[Any]) -> None:
    extra = [k for k in doc if k not in keys]
    if extra:
        raise RuleError(f"unexpected key {extra[0]!r}", path + [extra[0]])


# ----------------------------------------------------------------------------- printing


def _jv(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat().replace("+00:00", "Z")
    if isinstance(v, Duration):
        return str(v)
    if isinstance(v, tuple):
        return [_jv(x) for x in v]
    return v


def to_json(rule: Rule) -> dict[str, Any]:
    """The canonical structured form (what is stored in ``segments.rule``)."""
    if isinstance(rule, All):
        return {"all": [to_json(r) for r in rule.items]}
    if isinstance(rule, AnyOf):
        return {"any": [to_json(r) for r in rule.items]}
    if isinstance(rule, Not):
        return {"not": to_json(rule.item)}
    if isinstance(rule, HasTag):
        return {"tag": rule.tag}
    if isinstance(rule, InSegment):
        return {"in_segment": rule.segment}
    if isinstance(rule, InJourney):
        return {"in_journey": rule.journey}
    if isinstance(rule, Sequence):
        return {"sequence": {"did": rule.did, "not": rule.then_not, "within": str(rule.within)}}
    if isinstance(rule, Compare):
        t = rule.target
        out: dict[str, Any]
        if isinstance(t, Field):
            out = {"field": t.name}
        elif isinstance(t, Attr):
            out = {"attribute": ".".join(t.path)}
        elif isinstance(t, EventProp):
            out = {"property": ".".join(t.path)}
        elif isinstance(t, EnrolmentValue):
            out = {"variable" if t.root == "vars" else "resumed_by": ".".join(t.path)}
        elif isinstance(t, Consent):
            out = {"consent": t.channel}
        elif isinstance(t, JourneyState):
            out = {"journey_state": t.journey}
        elif isinstance(t, EventAgg):
            out = {"event": t.event or "*", "agg": t.agg}
            if t.prop is not None:
                out["property"] = t.prop
            if t.window is not None:
                out["window"] = str(t.window)
            if t.where:
                out["where"] = dict(t.where)
            if t.human:
                out["human"] = True
        else:  # pragma: no cover
            raise TypeError(t)
        out["op"] = rule.op
        if rule.value is not None:
            out["value"] = _jv(rule.value)
        return out
    raise TypeError(f"not a rule: {rule!r}")
