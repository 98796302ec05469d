"""Static satisfiability of a rule: can any contact ever make it true?

Not a full solver: the rule is put in negation normal form, expanded into at most
:data:`MAX_CONJUNCTIONS` conjunctions, and each conjunction is checked for contradictions on
one target at a time: ranges that do not meet (``score > 50 and score < 10``), two different
equalities, an equality outside a range or an ``in`` list, ``exists`` with ``not_exists``, a tag
(segment, journey) required and refused. Whatever it cannot decide counts as satisfiable, so a
finding is always a real contradiction. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tidings.domain.rules.ast import All, AnyOf, Compare, HasTag, InJourney, InSegment, Not, Rule

MAX_CONJUNCTIONS = 256

_FLIP = {
    "eq": "ne",
    "ne": "eq",
    "in": "not_in",
    "not_in": "in",
    "gt": "lte",
    "lte": "gt",
    "lt": "gte",
    "gte": "lt",
    "exists": "not_exists",
    "not_exists": "exists",
}


@dataclass(frozen=True, slots=True)
class Literal:
    """One atom of a conjunction: a comparison or a membership, possibly refused."""

    key: tuple[str, ...]  # what it reads: ("tag", "vip"), ("cmp", repr(target))
    op: str
    value: Any = None
    positive: bool = True


class _TooBig(Exception):
    pass


def _nnf(rule: Rule, negate: bool = False) -> list[list[Literal]]:
    """The rule as a disjunction of conjunctions (lists of literals)."""
    if isinstance(rule, Not):
        return _nnf(rule.item, not negate)
    if isinstance(rule, All | AnyOf):
        parts = [_nnf(r, negate) for r in rule.items]
        conjunctive = isinstance(rule, All) != negate
        if not conjunctive:
            out = [c for p in parts for c in p]
            if len(out) > MAX_CONJUNCTIONS:
                raise _TooBig
            return out
        acc: list[list[Literal]] = [[]]
        for p in parts:
            acc = [a + b for a in acc for b in p]
            if len(acc) > MAX_CONJUNCTIONS:
                raise _TooBig
        return acc
    if isinstance(rule, HasTag | InSegment | InJourney):
        kind = {HasTag: "tag", InSegment: "segment", InJourney: "journey"}[type(rule)]
        name = getattr(rule, {"tag": "tag", "segment": "segment", "journey": "journey"}[kind])
        return [[Literal((kind, str(name)), "member", None, not negate)]]
    if isinstance(rule, Compare):
        op = rule.op
        if negate:
            if op not in _FLIP:
                return [[]]  # between, contains, durations: not decided when negated
            op = _FLIP[op]
        return [[Literal(("cmp", repr(rule.target)), op, rule.value)]]
    return [[]]  # sequences and the rest: unconstrained


def satisfiable(rule: Rule | None) -> bool:
    """False only when the rule can be shown to be always false."""
    if rule is None:
        return True
    try:
        conjunctions = _nnf(rule)
    except _TooBig:
        return True
    return any(_consistent(c) for c in conjunctions)


def contradiction(rule: Rule | None) -> str | None:
    """A short human reason when the rule is unsatisfiable (the first conflicting target)."""
    if rule is None or satisfiable(rule):
        return None
    reasons = []
    for conj in _nnf(rule):
        why = _conflict(conj)
        if why:
            reasons.append(why)
    return "; or ".join(dict.fromkeys(reasons)) or "contradictory conditions"


def _consistent(literals: Iterable[Literal]) -> bool:
    return _conflict(list(literals)) is None


@dataclass
class _Range:
    lo: Any = None
    lo_incl: bool = True
    hi: Any = None
    hi_incl: bool = True
    eq: set[Any] = field(default_factory=set)
    ne: set[Any] = field(default_factory=set)
    allowed: set[Any] | None = None
    exists: bool | None = None
    clash: str | None = None


def _comparable(a: Any, b: Any) -> bool:
    num = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b)
    return (isinstance(a, num) and isinstance(b, num)) or type(a) is type(b)


def _conflict(literals: list[Literal]) -> str | None:
    members: dict[tuple[str, ...], bool] = {}
    ranges: dict[tuple[str, ...], _Range] = {}
    for lit in literals:
        if lit.op == "member":
            if members.get(lit.key, lit.positive) != lit.positive:
                return f"{lit.key[0]} {lit.key[1]!r} both required and refused"
            members[lit.key] = lit.positive
            continue
        r = ranges.setdefault(lit.key, _Range())
        if not _apply(r, lit):
            continue
        why = _range_conflict(r)
        if why:
            return f"{_target_label(lit.key[1])}: {why}"
    return None


def _apply(r: _Range, lit: Literal) -> bool:
    """Fold one comparison into the range; False when it is not something we reason about."""
    op, v = lit.op, lit.value
    if op in ("exists", "not_exists"):
        want = op == "exists"
        if r.exists is not None and r.exists != want:
            r.clash = "must exist and must not exist"
        r.exists = want
    elif op == "eq":
        r.eq.add(_hashable(v))
    elif op == "ne":
        r.ne.add(_hashable(v))
    elif op == "in" and isinstance(v, tuple | list):
        vals = {_hashable(x) for x in v}
        r.allowed = vals if r.allowed is None else r.allowed & vals
    elif op in ("gt", "gte") and v is not None:
        if r.lo is None or (_comparable(v, r.lo) and (v > r.lo or (v == r.lo and op == "gt"))):
            r.lo, r.lo_incl = v, op == "gte"
    elif op in ("lt", "lte") and v is not None:
        if r.hi is None or (_comparable(v, r.hi) and (v < r.hi or (v == r.hi and op == "lt"))):
            r.hi, r.hi_incl = v, op == "lte"
    elif op == "between" and isinstance(v, tuple | list) and len(v) == 2:
        _apply(r, Literal(lit.key, "gte", v[0]))
        _apply(r, Literal(lit.key, "lte", v[1]))
    else:
        return False
    return True


def _hashable(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def _range_conflict(r: _Range) -> str | None:
    if r.clash:
        return r.clash
    values = {v for v in r.eq}
    if len(values) > 1:
        return "equal to " + " and to ".join(repr(v) for v in sorted(values, key=repr))
    if r.exists is False and (values or r.allowed or r.lo is not None or r.hi is not None):
        return "must not exist but is compared to a value"
    lo, hi = r.lo, r.hi
    if (
        lo is not None
        and hi is not None
        and _comparable(lo, hi)
        and (lo > hi or (lo == hi and not (r.lo_incl and r.hi_incl)))
    ):
        return f"{'>=' if r.lo_incl else '>'} {lo!r} and {'<=' if r.hi_incl else '<'} {hi!r} never meet"
    if r.allowed is not None and not r.allowed - r.ne:
        return "no value left in the 'in' list"
    for v in values:
        if v in r.ne:
            return f"equal to and different from {v!r}"
        if r.allowed is not None and v not in r.allowed:
            return f"equal to {v!r}, which is not in the 'in' list"
        if r.lo is not None and _comparable(v, r.lo) and (v < r.lo or (v == r.lo and not r.lo_incl)):
            return f"equal to {v!r}, below the lower bound {r.lo!r}"
        if r.hi is not None and _comparable(v, r.hi) and (v > r.hi or (v == r.hi and not r.hi_incl)):
            return f"equal to {v!r}, above the upper bound {r.hi!r}"
    return None


def _target_label(text: str) -> str:
    """``Attr(path=('plan',))`` -> ``attribute plan``; ``Field(name='score')`` -> ``score``."""
    if text.startswith("Attr(path=("):
        inner = text[len("Attr(path=(") : text.index(")")]
        return "attribute " + ".".join(p.strip(" '\"") for p in inner.split(",") if p.strip(" '\""))
    if text.startswith("Field(name="):
        return text[len("Field(name=") : -1].strip("'\"")
    return text
