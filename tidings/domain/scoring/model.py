"""Scoring models: a YAML/JSON document -> a validated :class:`ScoringModel`, refused whole if bad.

A model gives points for behaviour (an event, optionally filtered, with an optional cap per
period), for the profile (a contact condition that holds now), takes points away for negative
signals (the same rules with negative points), lets behaviour points decay (a half-life, or a
number of points per inactive period), and moves contacts up through lifecycle stages at
thresholds. Several models live side by side (one per product line); one of them may write the
contact's ``score`` and ``lifecycle_stage`` fields (``writes_contact: true``).

Every problem carries its line and the rule id it was found at (``Problem.step_id``), as journey
documents do, so an author fixes a document in one pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import yaml

from tidings.domain.event_names import canonical_event_name
from tidings.domain.journeys.docfields import KEY_RE, Problems, check_duration
from tidings.domain.journeys.model import Problem
from tidings.domain.journeys.yamlines import line_of, load, plain
from tidings.domain.names import control_problem
from tidings.domain.rules import RuleError, parse_contact_rule, parse_event_filter
from tidings.domain.rules.ast import Rule

#: the default lifecycle stages, lowest first (configurable per model with ``stages:``).
DEFAULT_STAGES = ("lead", "mql", "sql")
#: the event a model emits when a contact crosses one of its thresholds.
THRESHOLD_EVENT = "score.threshold_crossed"
MAX_RULES = 200
MAX_POINTS = 1_000_000.0
_TOP = {"key", "name", "description", "behaviour", "behavior", "profile", "decay", "stages", "thresholds",
        "writes_contact", "version"}  # fmt: skip


def describe(p: Problem) -> str:
    """``line 12, rule 'webinar', behaviour.1.points: points must not be 0``."""
    where = [f"line {p.line}"] if p.line is not None else []
    if p.step_id:
        where.append(f"rule {p.step_id!r}")
    if p.path:
        where.append(p.path)
    return ", ".join(where) + (": " if where else "") + p.message


class ScoringError(ValueError):
    """A scoring document was refused, whole. ``problems`` lists every reason found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("invalid scoring model:\n" + "\n".join(f"  - {describe(p)}" for p in problems))

    def lines(self) -> list[str]:
        return [describe(p) for p in self.problems]

    def details(self) -> list[dict[str, Any]]:
        """API-shaped details: ``[{"loc": [...], "msg": ..., "line": ..., "rule": ...}]``."""
        return [
            {"loc": ["body", *[x for x in p.path.split(".") if x]], "msg": p.message, "line": p.line, "rule": p.step_id}
            for p in self.problems
        ]


@dataclass(frozen=True, slots=True)
class BehaviourRule:
    """``event`` (spec or internal name), optional ``where`` filter on its properties, points
    per event, and an optional cap: at most ``cap_points`` from this rule in any ``cap_period``."""

    id: str
    label: str
    event: str
    points: float
    where: Rule | None = None
    cap_points: float | None = None
    cap_period: timedelta | None = None


@dataclass(frozen=True, slots=True)
class ProfileRule:
    """Points while a contact condition holds (company size, job title, a competitor's domain)."""

    id: str
    label: str
    when: Rule
    points: float


@dataclass(frozen=True, slots=True)
class Decay:
    """How behaviour points fade. ``half_life``: each award halves every ``half_life``.
    ``linear``: ``points`` are lost for every full ``per`` without any scored behaviour
    (counted from ``after`` of inactivity), never below zero."""

    kind: str  # "half_life" | "linear"
    half_life: timedelta | None = None
    points: float = 0.0
    per: timedelta | None = None
    after: timedelta = timedelta(0)


@dataclass(frozen=True, slots=True)
class Threshold:
    """Reaching ``at`` points moves a contact up to ``stage``; falling below ``demote_below``
    (only when given) moves it back down one stage. Without it a stage is never lost."""

    stage: str
    at: float
    demote_below: float | None = None


@dataclass(frozen=True, slots=True)
class ScoringModel:
    key: str
    name: str
    description: str
    behaviour: tuple[BehaviourRule, ...]
    profile: tuple[ProfileRule, ...]
    decay: Decay | None
    stages: tuple[str, ...]
    thresholds: tuple[Threshold, ...]
    writes_contact: bool
    raw: Mapping[str, Any]

    def rule_label(self, rule_id: str) -> str:
        labels = {r.id: r.label for r in self.behaviour} | {r.id: r.label for r in self.profile}
        return labels.get(rule_id, rule_id)


def parse_scoring_model(text: str) -> ScoringModel:
    """Parse and validate a scoring document; raises :class:`ScoringError` with every problem."""
    try:
        data = load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ScoringError([Problem(f"not valid YAML/JSON: {getattr(exc, 'problem', exc)}",
                                    mark.line + 1 if mark is not None else None)]) from exc  # fmt: skip
    return build_scoring_model(data)


def build_scoring_model(data: Any) -> ScoringModel:
    p = Problems()
    if not isinstance(data, Mapping):
        raise ScoringError([Problem("a scoring model is a mapping with key, name, behaviour, profile, thresholds", 1)])
    for k in data:
        if k not in _TOP:
            p.add(f"unknown field {k!r}", line_of(data, k), path=str(k))
    key = data.get("key")
    if not isinstance(key, str) or not KEY_RE.match(key):
        p.add("key is required: lowercase letters, digits, _ . -", line_of(data, "key") or 1, path="key")
        key = str(key or "")
    name = str(data.get("name") or key)
    if (bad := control_problem(name)) is not None:
        p.add(bad, line_of(data, "name") or 1, path="name")
    seen: set[str] = set()
    behaviour = _behaviour(data.get("behaviour", data.get("behavior")) or [], p, seen)
    profile = _profile(data.get("profile") or [], p, seen)
    if not behaviour and not profile and not p.items:
        p.add("a model needs at least one behaviour or profile rule", line_of(data, "key") or 1, path="behaviour")
    decay = _decay(data.get("decay"), data, p)
    stages = _stages(data.get("stages"), data, p)
    thresholds = _thresholds(data.get("thresholds") or [], stages, data, p)
    writes = data.get("writes_contact", False)
    if not isinstance(writes, bool):
        p.add("writes_contact is true or false", line_of(data, "writes_contact"), path="writes_contact")
    if p.items:
        raise ScoringError(p.items)
    return ScoringModel(
        key=key, name=name, description=str(data.get("description") or ""), behaviour=tuple(behaviour),
        profile=tuple(profile), decay=decay, stages=stages, thresholds=thresholds, writes_contact=bool(writes),
        raw=plain(data),
    )  # fmt: skip


def _points(raw: Any, p: Problems, line: int | None, rid: str | None, path: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or abs(raw) > MAX_POINTS or raw != raw:
        p.add(f"points must be a number between -{MAX_POINTS:g} and {MAX_POINTS:g}", line, rid, path)
        return 0.0
    if raw == 0:
        p.add("points must not be 0 (a rule that gives nothing is a mistake)", line, rid, path)
    return float(raw)


def _rule_id(item: Mapping[str, Any], i: int, kind: str, p: Problems, seen: set[str], path: str) -> str:
    rid = item.get("id")
    if rid is None:
        rid = f"{kind}-{i + 1}"
    if not isinstance(rid, str) or not KEY_RE.match(rid):
        p.add("id: lowercase letters, digits, _ . -", line_of(item, "id") or getattr(item, "line", None), None, path)
        rid = str(rid)
    if rid in seen:
        p.add(f"duplicate rule id {rid!r}", line_of(item, "id") or getattr(item, "line", None), rid, path + ".id")
    seen.add(rid)
    return rid


def _items(raw: Any, what: str, p: Problems, path: str) -> list[Mapping[str, Any]]:
    if not isinstance(raw, list):
        p.add(f"{what} is a list of rules", getattr(raw, "line", None), None, path)
        return []
    if len(raw) > MAX_RULES:
        p.add(f"at most {MAX_RULES} {what} rules", getattr(raw, "line", None), None, path)
    out = []
    for i, item in enumerate(raw):
        if isinstance(item, Mapping):
            out.append(item)
        else:
            p.add("each rule is a mapping", getattr(raw, "line", None), None, f"{path}.{i}")
    return out


def _behaviour(raw: Any, p: Problems, seen: set[str]) -> list[BehaviourRule]:
    out = []
    for i, item in enumerate(_items(raw, "behaviour", p, "behaviour")):
        path = f"behaviour.{i}"
        line = getattr(item, "line", None)
        rid = _rule_id(item, i, "behaviour", p, seen, path)
        for k in set(item) - {"id", "label", "event", "where", "points", "cap"}:
            p.add(f"unknown field {k!r}", line_of(item, k), rid, f"{path}.{k}")
        event = item.get("event")
        if not isinstance(event, str) or not event.strip():
            p.add("event is required: the event name that gives the points", line, rid, f"{path}.event")
            event = ""
        where = None
        if item.get("where") is not None:
            try:
                where = parse_event_filter(item["where"])
            except RuleError as exc:
                p.add(f"where does not parse: {exc}", line_of(item, "where"), rid, f"{path}.where")
        points = _points(item.get("points"), p, line_of(item, "points") or line, rid, f"{path}.points")
        cap_points = cap_period = None
        cap = item.get("cap")
        if cap is not None:
            if not isinstance(cap, Mapping) or set(cap) != {"points", "per"}:
                p.add("cap is {points: N, per: DURATION} (e.g. {points: 15, per: 7d})", line_of(item, "cap"), rid,
                      f"{path}.cap")  # fmt: skip
            else:
                cap_points = _points(cap["points"], p, line_of(item, "cap"), rid, f"{path}.cap.points")
                cap_period = check_duration(cap["per"], p, line_of(item, "cap"), rid, f"{path}.cap.per")
                if points < 0 or cap_points < 0:
                    p.add("a cap limits positive points only", line_of(item, "cap"), rid, f"{path}.cap")
                elif cap_period <= timedelta(0):
                    p.add("cap.per must be a positive duration", line_of(item, "cap"), rid, f"{path}.cap.per")
        label = str(item.get("label") or (f"{event} ({item['where']})" if where is not None else event))
        out.append(BehaviourRule(rid, label, canonical_event_name(event.strip()) if event else "", points, where,
                                 cap_points, cap_period))  # fmt: skip
    return out


def _profile(raw: Any, p: Problems, seen: set[str]) -> list[ProfileRule]:
    out = []
    for i, item in enumerate(_items(raw, "profile", p, "profile")):
        path = f"profile.{i}"
        line = getattr(item, "line", None)
        rid = _rule_id(item, i, "profile", p, seen, path)
        for k in set(item) - {"id", "label", "when", "points"}:
            p.add(f"unknown field {k!r}", line_of(item, k), rid, f"{path}.{k}")
        when = None
        if item.get("when") in (None, ""):
            p.add("when is required: the contact condition that gives the points", line, rid, f"{path}.when")
        else:
            try:
                when = parse_contact_rule(item["when"])
            except RuleError as exc:
                p.add(f"when does not parse: {exc}", line_of(item, "when"), rid, f"{path}.when")
        points = _points(item.get("points"), p, line_of(item, "points") or line, rid, f"{path}.points")
        if when is not None:
            out.append(ProfileRule(rid, str(item.get("label") or item["when"]), when, points))
    return out


def _decay(raw: Any, data: Any, p: Problems) -> Decay | None:
    if raw is None:
        return None
    line = line_of(data, "decay")
    if not isinstance(raw, Mapping):
        p.add("decay is {half_life: 30d} or {points: 5, per: 7d, after: 14d}", line, None, "decay")
        return None
    if "half_life" in raw:
        if set(raw) != {"half_life"}:
            p.add("a half-life decay takes only half_life", line, None, "decay")
        hl = check_duration(raw["half_life"], p, line, None, "decay.half_life")
        if hl <= timedelta(0):
            p.add("decay.half_life must be a positive duration", line, None, "decay.half_life")
        return Decay("half_life", half_life=hl)
    if not {"points", "per"} <= set(raw) or set(raw) - {"points", "per", "after"}:
        p.add("decay is {half_life: 30d} or {points: 5, per: 7d, after: 14d}", line, None, "decay")
        return None
    points = _points(raw["points"], p, line, None, "decay.points")
    if points < 0:
        p.add("decay.points is how many points are lost: a positive number", line, None, "decay.points")
    per = check_duration(raw["per"], p, line, None, "decay.per")
    if per <= timedelta(0):
        p.add("decay.per must be a positive duration", line, None, "decay.per")
    after = check_duration(raw.get("after", 0), p, line, None, "decay.after")
    if after < timedelta(0):
        p.add("decay.after must not be negative", line, None, "decay.after")
    return Decay("linear", points=abs(points), per=per, after=after)


def _stages(raw: Any, data: Any, p: Problems) -> tuple[str, ...]:
    if raw is None:
        return DEFAULT_STAGES
    ok = isinstance(raw, list) and raw and all(isinstance(s, str) and KEY_RE.match(s) for s in raw)
    if not ok or len(set(raw)) != len(raw):
        p.add("stages is a list of distinct stage names, lowest first (e.g. [lead, mql, sql])",
              line_of(data, "stages"), None, "stages")  # fmt: skip
        return DEFAULT_STAGES
    return tuple(raw)


def _thresholds(raw: Any, stages: tuple[str, ...], data: Any, p: Problems) -> tuple[Threshold, ...]:
    out: list[Threshold] = []
    for i, item in enumerate(_items(raw, "thresholds", p, "thresholds")):
        path = f"thresholds.{i}"
        line = getattr(item, "line", None) or line_of(data, "thresholds")
        for k in set(item) - {"stage", "at", "demote_below"}:
            p.add(f"unknown field {k!r}", line_of(item, k), None, f"{path}.{k}")
        stage = item.get("stage")
        if stage not in stages:
            p.add(f"stage must be one of {list(stages)}", line, None, f"{path}.stage")
            continue
        if stages.index(str(stage)) == 0:
            p.add(f"{stage!r} is the lowest stage: a threshold moves contacts up to a higher one", line, None,
                  f"{path}.stage")  # fmt: skip
        at = item.get("at")
        if isinstance(at, bool) or not isinstance(at, int | float):
            p.add("at is the score that reaches the stage (a number)", line, None, f"{path}.at")
            continue
        demote = item.get("demote_below")
        if demote is not None and (isinstance(demote, bool) or not isinstance(demote, int | float) or demote > at):
            p.add("demote_below is a number not above at", line, None, f"{path}.demote_below")
            demote = None
        out.append(Threshold(str(stage), float(at), None if demote is None else float(demote)))
    ordered = sorted(out, key=lambda t: stages.index(t.stage))
    for lo, hi in zip(ordered, ordered[1:], strict=False):
        if lo.stage == hi.stage:
            p.add(f"two thresholds for stage {lo.stage!r}", line_of(data, "thresholds"), None, "thresholds")
        elif hi.at <= lo.at:
            p.add(f"threshold for {hi.stage!r} ({hi.at:g}) must be above the one for {lo.stage!r} ({lo.at:g})",
                  line_of(data, "thresholds"), None, "thresholds")  # fmt: skip
    return tuple(ordered)
