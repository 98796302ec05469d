"""The readable text syntax, parsed with lark (LALR), printed back canonically.

Examples::

    purchase.count(30d) >= 2 and tag("vip") and not unsubscribed("email")
    event("purchase").sum("revenue") > 100
    last_seen more than 14d ago
    attributes.plan in ["pro", "team"] or score between 10 and 50
    message.opened(template="welcome", human=true).count(7d) >= 1
    did "cart_added" but not "purchase" within 1d
    in_segment("vip") and journey_state("welcome") == "ended:converted"
    attributes.birthday anniversary in 3d
    properties.total > 50                      # event filters (journey triggers)

Errors carry the 1-based column of the offending token.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from tidings.domain.rules.ast import (
    AGGS,
    CHANNELS_OK,
    EVENT_RE,
    NAME_RE,
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
from tidings.domain.rules.structured import attr_path, check_event_name, check_name, make_compare
from tidings.domain.snapshot import STANDARD_FIELDS

GRAMMAR = r"""
start: expr
?expr: expr "or" term -> or_
     | term
?term: term "and" factor -> and_
     | factor
?factor: "not" factor -> not_
       | "(" expr ")" -> group
       | cond
cond: value OP literal -> cmp
    | value "in" list -> in_
    | value "not" "in" list -> not_in
    | value "between" literal "and" literal -> between
    | value "exists" -> exists
    | value "not" "exists" -> not_exists
    | value "contains" literal -> contains
    | value "starts_with" literal -> starts_with
    | value "within" "last" DURATION -> within_last
    | value "more" "than" DURATION "ago" -> more_than_ago
    | value "anniversary" "in" DURATION -> anniversary_in
    | "did" STRING "but" "not" STRING "within" DURATION -> sequence
    | chain -> bare
value: PATH -> path
     | chain
chain: call ("." call)*
call: PATH "(" [arg ("," arg)*] ")"
arg: literal
   | DURATION -> duration
   | PATH "=" (literal | DURATION) -> kwarg
list: "[" literal ("," literal)* "]"
literal: STRING -> string
       | NUMBER -> number
       | "true" -> true
       | "false" -> false
OP: "==" | "!=" | ">=" | "<=" | ">" | "<"
PATH: /[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/
DURATION.2: /[0-9]+[smhdw]\b/
NUMBER: /-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/
STRING: /"(\\.|[^"\\])*"/ | /'[^'\\]*'/
%ignore /\s+/
"""

OP_NAMES = {"==": "eq", "!=": "ne", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
OP_TEXT = {v: k for k, v in OP_NAMES.items()}


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def parse_text(source: str) -> Rule:
    if not source.strip():
        raise RuleError("empty rule", [], 1)
    try:
        tree = _parser().parse(source)
    except UnexpectedCharacters as exc:
        raise RuleError(f"unexpected character {source[exc.pos_in_stream or 0]!r}", [], exc.column) from None
    except UnexpectedEOF:
        raise RuleError("unexpected end of rule", [], len(source) + 1) from None
    except UnexpectedToken as exc:
        tok = exc.token
        if tok.type == "$END":
            raise RuleError("unexpected end of rule", [], len(source) + 1) from None
        raise RuleError(f"unexpected {str(tok)!r}", [], tok.column) from None
    except UnexpectedInput as exc:  # pragma: no cover - other lark errors
        raise RuleError(str(exc), [], getattr(exc, "column", None)) from None
    return _Builder(source).rule(tree.children[0])


def _col(node: Any | Token) -> int | None:
    if isinstance(node, Token):
        return node.column
    return getattr(node.meta, "column", None)


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.explicit_agg = False

    def rule(self, t: Any) -> Rule:
        kind = t.data
        if kind in ("or_", "and_"):
            items: list[Rule] = []
            for child in t.children:
                r = self.rule(child)
                same = AnyOf if kind == "or_" else All
                items.extend(r.items if isinstance(r, same) and child.data != "group" else [r])
            return AnyOf(tuple(items)) if kind == "or_" else All(tuple(items))
        if kind == "not_":
            return Not(self.rule(t.children[0]))
        if kind == "group":
            return self.rule(t.children[0])
        if kind == "sequence":
            did, not_, within = t.children
            return Sequence(
                check_event_name(self.string(did), [], _col(did)),
                check_event_name(self.string(not_), [], _col(not_)),
                Duration.parse(str(within), [], _col(within)),
            )
        if kind == "bare":
            return self.bare(t.children[0])
        target = self.target(t.children[0])
        col = _col(t)
        if kind == "cmp":
            op, lit = t.children[1], t.children[2]
            return make_compare(target, OP_NAMES[str(op)], self.literal(lit), [], _col(op), _col(lit))
        if kind in ("in_", "not_in"):
            lst = t.children[1]
            vals = [self.literal(x) for x in lst.children]
            return make_compare(target, "in" if kind == "in_" else "not_in", vals, [], col, _col(lst))
        if kind == "between":
            lo, hi = t.children[1], t.children[2]
            return make_compare(target, "between", [self.literal(lo), self.literal(hi)], [], col, _col(lo))
        if kind in ("exists", "not_exists"):
            return make_compare(target, kind, None, [], col)
        if kind in ("contains", "starts_with"):
            return make_compare(target, kind, self.literal(t.children[1]), [], col, _col(t.children[1]))
        d = t.children[1]
        return make_compare(target, kind, Duration.parse(str(d), [], _col(d)), [], col, _col(d))

    # ---- values

    def string(self, tok: Any) -> str:
        s = str(tok)
        if s.startswith("'"):
            return s[1:-1]
        try:
            return str(json.loads(s))
        except ValueError:
            raise RuleError("bad string escape", [], tok.column) from None

    def literal(self, t: Any) -> Any:
        if t.data == "true":
            return True
        if t.data == "false":
            return False
        tok = t.children[0]
        if t.data == "string":
            return self.string(tok)
        text = str(tok)
        try:
            return int(text)
        except ValueError:
            v = float(text)
            if v != v or v in (float("inf"), float("-inf")):
                raise RuleError("number out of range", [], tok.column) from None
            return v

    def target(self, t: Any) -> Target:
        if t.data == "path":
            tok = t.children[0]
            name = str(tok)
            col = tok.column
            if name in STANDARD_FIELDS:
                return Field(name)
            if name in ("last_seen", "first_seen"):
                return EventAgg(None, name.split("_")[0])
            head, _, rest = name.partition(".")
            if head in ("attributes", "attribute", "attr") and rest:
                return Attr(attr_path(rest, [], col))
            if head in ("properties", "property") and rest:
                return EventProp(attr_path(rest, [], col))
            if head == "vars" and rest:
                return EnrolmentValue("vars", attr_path(rest, [], col))
            if head == "event" and rest:
                return EnrolmentValue("event", attr_path(rest, [], col))
            raise RuleError(
                f"unknown field {name!r}: standard fields are {', '.join(STANDARD_FIELDS)}; "
                'custom data is attributes.NAME; event history is NAME.count(30d) or event("NAME")...',
                [],
                col,
            )
        value = self.chain(t.children[0])
        if isinstance(value, EventAgg) and not self.explicit_agg:
            raise RuleError("say what to compute: .count(), .sum(), .min(), .max(), .first() or .last()", [], _col(t))
        if not isinstance(value, Target):
            raise RuleError("this condition is true or false; it cannot be compared", [], _col(t))
        return value

    def bare(self, t: Any) -> Rule:
        value = self.chain(t)
        if isinstance(value, Rule):
            return value
        if isinstance(value, EventAgg) and value.agg == "count":
            return make_compare(value, "gte", 1, [], _col(t))
        raise RuleError("a value on its own is not a condition: compare it (e.g. == or >=)", [], _col(t))

    def args(self, call: Any) -> tuple[list[tuple[Any, int | None]], dict[str, tuple[Any, int | None]]]:
        pos: list[tuple[Any, int | None]] = []
        kw: dict[str, tuple[Any, int | None]] = {}
        for a in call.children[1:]:
            if a.data == "arg":
                pos.append((self.literal(a.children[0]), _col(a)))
            elif a.data == "duration":
                pos.append((Duration.parse(str(a.children[0]), [], _col(a)), _col(a)))
            else:
                key, val = a.children
                v = Duration.parse(str(val), [], _col(val)) if isinstance(val, Token) else self.literal(val)
                if str(key) in kw:
                    raise RuleError(f"{key} given twice", [], _col(key))
                kw[str(key)] = (v, _col(val))
        return pos, kw

    def chain(self, t: Any) -> Rule | Target:
        calls = t.children
        first = calls[0]
        name_tok = first.children[0]
        name = str(name_tok)
        col = name_tok.column
        pos, kw = self.args(first)
        head: Any
        if "." in name and name.rsplit(".", 1)[1] in AGGS:
            ev, agg = name.rsplit(".", 1)
            head = self.agg(EventAgg(self.event_name(ev, col), "count"), agg, pos, kw, col)
        elif name == "event":
            if len(pos) != 1 or not isinstance(pos[0][0], str):
                raise RuleError('event takes an event name: event("purchase")', [], col)
            head = self.filters(EventAgg(self.event_name(pos[0][0], pos[0][1], allow_any=True), "count"), kw)
        elif name in (
            "tag",
            "has_tag",
            "in_segment",
            "in_journey",
            "consent",
            "unsubscribed",
            "journey_state",
            "attr",
            "attribute",
            "field",
        ):
            head = self.function(name, pos, kw, col)
        elif not pos and name not in AGGS and EVENT_RE.match(name):
            head = self.filters(EventAgg(self.event_name(name, col), "count"), kw)  # purchase(total=5)
        else:
            raise RuleError(f"unknown function {name!r}", [], col)
        for call in calls[1:]:
            tok = call.children[0]
            if not isinstance(head, EventAgg) or head.agg != "count" or head.window is not None:
                raise RuleError(f"nothing to call .{tok} on", [], tok.column)
            if str(tok) not in AGGS:
                raise RuleError(f"unknown aggregate {str(tok)!r}; use one of {', '.join(AGGS)}", [], tok.column)
            p, k = self.args(call)
            head = self.agg(head, str(tok), p, k, tok.column)
        self.explicit_agg = len(calls) > 1 or "." in name
        return head  # type: ignore[no-any-return]

    def event_name(self, name: str, col: int | None, allow_any: bool = False) -> str | None:
        if allow_any and name == "*":
            return None
        return check_event_name(name, [], col)

    def filters(self, ev: EventAgg, kw: dict[str, tuple[Any, int | None]]) -> EventAgg:
        human = False
        where = []
        for k, (v, col) in kw.items():
            if k == "human":
                if not isinstance(v, bool):
                    raise RuleError("human is true or false", [], col)
                human = v
            else:
                check_name(k, "property name", [], col, NAME_RE)
                if isinstance(v, Duration):
                    raise RuleError(f"filter {k} needs text, a number or true/false", [], col)
                where.append((k, v))
        return EventAgg(ev.event, "count", None, None, tuple(sorted(where)), human)

    def agg(
        self,
        ev: EventAgg,
        agg: str,
        pos: list[tuple[Any, int | None]],
        kw: dict[str, tuple[Any, int | None]],
        col: int | None,
    ) -> EventAgg:
        prop = None
        window = None
        for v, c in pos + [(v, c) for k, (v, c) in kw.items() if k in ("window", "property")]:
            if isinstance(v, Duration):
                if window is not None:
                    raise RuleError("one window only", [], c)
                window = v
            elif isinstance(v, str) and agg != "count" and prop is None:
                prop = check_name(v, "property name", [], c, NAME_RE)
            else:
                raise RuleError(
                    f".{agg}() takes {'a window' if agg == 'count' else 'a property name and a window'}, got {v!r}",
                    [],
                    c,
                )
        extra = [k for k in kw if k not in ("window", "property")]
        if extra:
            raise RuleError(f"unexpected argument {extra[0]!r}", [], kw[extra[0]][1])
        return EventAgg(ev.event, agg, prop, window, ev.where, ev.human)

    def function(self, name: str, pos: list[tuple[Any, int | None]], kw: dict[str, Any], col: int | None) -> Any:
        if len(pos) != 1 or kw or not isinstance(pos[0][0], str):
            raise RuleError(f'{name} takes one text argument, e.g. {name}("x")', [], col)
        arg, acol = pos[0]
        if name in ("tag", "has_tag"):
            return HasTag(check_name(arg, "tag", [], acol))
        if name == "in_segment":
            return InSegment(check_name(arg, "segment key", [], acol))
        if name == "in_journey":
            return InJourney(check_name(arg, "journey key", [], acol))
        if name == "journey_state":
            return JourneyState(check_name(arg, "journey key", [], acol))
        if name in ("attr", "attribute"):
            return Attr(attr_path(arg, [], acol))
        if name == "field":
            if arg not in STANDARD_FIELDS:
                raise RuleError(f"unknown field {arg!r}", [], acol)
            return Field(arg)
        if arg not in CHANNELS_OK:
            raise RuleError(f"unknown channel {arg!r}; channels are {', '.join(CHANNELS_OK)}", [], acol)
        if name == "consent":
            return Consent(arg)
        return Compare(Consent(arg), "eq", "unsubscribed")


# ----------------------------------------------------------------------------- printing


def _lit(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        return json.dumps(v.isoformat().replace("+00:00", "Z"))
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return repr(v)
    return repr(v)


def _target(t: Target) -> str:
    if isinstance(t, Field):
        return t.name
    if isinstance(t, Attr):
        return "attributes." + ".".join(t.path)
    if isinstance(t, EventProp):
        return "properties." + ".".join(t.path)
    if isinstance(t, EnrolmentValue):
        return f"{t.root}." + ".".join(t.path)
    if isinstance(t, Consent):
        return f"consent({_lit(t.channel)})"
    if isinstance(t, JourneyState):
        return f"journey_state({_lit(t.journey)})"
    if isinstance(t, EventAgg):
        if t.event is None and t.agg in ("first", "last") and not (t.prop or t.window or t.where or t.human):
            return f"{t.agg}_seen"
        args = [_lit(t.event or "*")] + [f"{k}={_lit(v)}" for k, v in t.where]
        if t.human:
            args.append("human=true")
        agg_args = ([_lit(t.prop)] if t.prop else []) + ([str(t.window)] if t.window else [])
        return f"event({', '.join(args)}).{t.agg}({', '.join(agg_args)})"
    raise TypeError(t)


def to_text(rule: Rule, _top: bool = True) -> str:
    """Canonical text; ``parse_rule(to_text(r)) == r`` for every rule."""
    if isinstance(rule, All | AnyOf):
        sep = " and " if isinstance(rule, All) else " or "
        parts = [to_text(r, False) for r in rule.items]
        parts = [f"({p})" if isinstance(r, All | AnyOf) else p for p, r in zip(parts, rule.items, strict=True)]
        return sep.join(parts)
    if isinstance(rule, Not):
        inner = to_text(rule.item, False)
        return f"not ({inner})" if isinstance(rule.item, All | AnyOf) or " " in inner else f"not {inner}"
    if isinstance(rule, HasTag):
        return f"tag({_lit(rule.tag)})"
    if isinstance(rule, InSegment):
        return f"in_segment({_lit(rule.segment)})"
    if isinstance(rule, InJourney):
        return f"in_journey({_lit(rule.journey)})"
    if isinstance(rule, Sequence):
        return f"did {_lit(rule.did)} but not {_lit(rule.then_not)} within {rule.within}"
    if isinstance(rule, Compare):
        if isinstance(rule.target, Consent) and rule.op == "eq" and rule.value == "unsubscribed":
            return f"unsubscribed({_lit(rule.target.channel)})"
        t = _target(rule.target)
        op, v = rule.op, rule.value
        if op in OP_TEXT:
            return f"{t} {OP_TEXT[op]} {_lit(v)}"
        if op in ("in", "not_in"):
            return f"{t} {'in' if op == 'in' else 'not in'} [{', '.join(_lit(x) for x in v)}]"
        if op == "between":
            return f"{t} between {_lit(v[0])} and {_lit(v[1])}"
        if op in ("exists", "not_exists"):
            return f"{t} {'exists' if op == 'exists' else 'not exists'}"
        if op in ("contains", "starts_with"):
            return f"{t} {op} {_lit(v)}"
        if op == "within_last":
            return f"{t} within last {v}"
        if op == "more_than_ago":
            return f"{t} more than {v} ago"
        return f"{t} anniversary in {v}"
    raise TypeError(f"not a rule: {rule!r}")
