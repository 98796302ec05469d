"""A contact's score in one model: the state kept between events, and the arithmetic. Pure.

The state holds, per behaviour rule, the raw points given so far and their decayed value
(``value`` as of ``as_of``): exponential decay is multiplicative, so one number per rule is
enough, whatever the order the events arrive in. Linear decay ("5 points per inactive week")
keeps a bank of behaviour points as of the last scored activity. Capped rules keep the awards
inside their cap period. Profile points are not stored: they are read from the contact now.

The score is ``decayed behaviour points + profile points``, and :func:`explain` says how it is
made ("57 = +30 pricing page views, +20 company size, -3 decay").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from tidings.domain.rules import evaluate, matches_event
from tidings.domain.scoring.model import BehaviourRule, Decay, ScoringModel
from tidings.domain.snapshot import ContactSnapshot, EventRecord


@dataclass(frozen=True, slots=True)
class RuleTally:
    raw: float = 0.0
    count: int = 0
    value: float = 0.0  # decayed points as of ``as_of`` (half-life decay; else equal to raw)
    as_of: datetime | None = None
    recent: tuple[tuple[datetime, float], ...] = ()  # awards inside the cap period


@dataclass(frozen=True, slots=True)
class ScoreState:
    rules: Mapping[str, RuleTally] = field(default_factory=dict)
    bank: float = 0.0  # linear decay: behaviour points as of last_activity
    last_activity: datetime | None = None
    stage: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rules": {
                k: {
                    "raw": t.raw,
                    "count": t.count,
                    "value": t.value,
                    "as_of": _iso(t.as_of),
                    "recent": [[_iso(a), p] for a, p in t.recent],
                }  # fmt: skip
                for k, t in sorted(self.rules.items())
            },
            "bank": self.bank,
            "last_activity": _iso(self.last_activity),
            "stage": self.stage,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> ScoreState:
        if not d:
            return cls()
        rules = {
            str(k): RuleTally(
                float(v.get("raw", 0)), int(v.get("count", 0)), float(v.get("value", 0)), _dt(v.get("as_of")),
                tuple((_req(a), float(p)) for a, p in v.get("recent") or ()),
            )
            for k, v in (d.get("rules") or {}).items()
        }  # fmt: skip
        return cls(rules, float(d.get("bank", 0)), _dt(d.get("last_activity")), d.get("stage"))


@dataclass(frozen=True, slots=True)
class Award:
    rule_id: str
    points: float  # what was given (less than the rule's points when its cap was reached)
    at: datetime
    capped: bool = False


@dataclass(frozen=True, slots=True)
class Part:
    rule_id: str
    label: str
    points: float
    count: int | None = None  # events behind a behaviour part


@dataclass(frozen=True, slots=True)
class Explanation:
    score: float
    parts: tuple[Part, ...]
    decay: float  # <= 0: what decay has taken from the behaviour points

    def sentence(self) -> str:
        bits = [f"{p.points:+g} {p.label}" + (f" ({p.count}×)" if p.count and p.count > 1 else "") for p in self.parts]
        if self.decay:
            bits.append(f"{self.decay:+g} decay")
        return f"{self.score:g} = " + (", ".join(bits) if bits else "nothing scored yet")


@dataclass(frozen=True, slots=True)
class Crossing:
    stage: str
    previous: str | None
    threshold: float
    direction: str  # "up" | "down"


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat()


def _dt(v: Any) -> datetime | None:
    return None if v in (None, "") else datetime.fromisoformat(str(v))


def _req(v: Any) -> datetime:
    return datetime.fromisoformat(str(v))


def _factor(decay: Decay | None, elapsed: timedelta) -> float:
    if decay is None or decay.kind != "half_life" or decay.half_life is None or elapsed <= timedelta(0):
        return 1.0
    return math.pow(0.5, elapsed / decay.half_life)


def _round(x: float) -> float:
    r = round(x, 2)
    return 0.0 if r == 0 else r


def rule_matches(rule: BehaviourRule, event: EventRecord, now: datetime) -> bool:
    return event.name == rule.event and (rule.where is None or matches_event(rule.where, event, now))


def _linear_level(decay: Decay, bank: float, last: datetime | None, at: datetime) -> float:
    if last is None or bank <= 0 or decay.per is None:
        return bank
    idle = at - last - decay.after
    if idle <= timedelta(0):
        return bank
    return max(0.0, bank - decay.points * math.floor(idle / decay.per))


def apply_event(
    model: ScoringModel, state: ScoreState, event: EventRecord, now: datetime
) -> tuple[ScoreState, list[Award]]:
    """The awards one event earns (every matching behaviour rule) and the state after them."""
    awards: list[Award] = []
    rules = dict(state.rules)
    t = event.occurred_at
    for rule in model.behaviour:
        if not rule_matches(rule, event, now):
            continue
        tally = rules.get(rule.id, RuleTally())
        points, capped = rule.points, False
        recent = tally.recent
        if rule.cap_points is not None and rule.cap_period is not None:
            newest = max([t, *(a for a, _ in recent)])
            recent = tuple((a, p) for a, p in recent if a > newest - rule.cap_period)
            used = sum(p for a, p in recent if t - rule.cap_period < a <= t + rule.cap_period)
            allowed = max(0.0, rule.cap_points - used)
            if points > allowed:
                points, capped = allowed, True
            if points:
                recent = (*recent, (t, points))
        if tally.as_of is None or t >= tally.as_of:
            value = tally.value * _factor(model.decay, t - tally.as_of if tally.as_of else timedelta(0)) + points
            as_of = t
        else:  # a late event: its points have already faded by the time of the newest one
            value = tally.value + points * _factor(model.decay, tally.as_of - t)
            as_of = tally.as_of
        rules[rule.id] = RuleTally(tally.raw + points, tally.count + (1 if points else 0), value, as_of, recent)
        awards.append(Award(rule.id, points, t, capped))
    if not awards:
        return state, awards
    gained = sum(a.points for a in awards)
    bank, last = state.bank, state.last_activity
    if model.decay is not None and model.decay.kind == "linear":
        if last is None or t >= last:
            bank, last = _linear_level(model.decay, bank, last, t) + gained, t
        else:
            bank += gained
    else:
        bank, last = bank + gained, max(t, last) if last else t
    return replace(state, rules=rules, bank=bank, last_activity=last), awards


def behaviour_points(model: ScoringModel, state: ScoreState, now: datetime) -> tuple[float, float]:
    """(decayed, raw) behaviour points at ``now``."""
    raw = sum(t.raw for t in state.rules.values())
    if model.decay is None:
        return raw, raw
    if model.decay.kind == "linear":
        return _linear_level(model.decay, state.bank, state.last_activity, now), raw
    decayed = sum(t.value * _factor(model.decay, now - t.as_of) for t in state.rules.values() if t.as_of is not None)
    return decayed, raw


def behaviour_anchor(model: ScoringModel, state: ScoreState) -> tuple[float, datetime | None]:
    """The behaviour points as one number at one time, from which decay alone gives any later value:
    exponential decay is the same factor for every tally, so their sum can be carried to the newest
    ``as_of``; linear decay starts from the bank at the last activity. Kept beside the state so the
    decay pass reads two columns instead of the whole state."""
    if model.decay is not None and model.decay.kind == "linear":
        return state.bank, state.last_activity
    raw = sum(t.raw for t in state.rules.values())
    if model.decay is None:
        return raw, state.last_activity
    times = [t.as_of for t in state.rules.values() if t.as_of is not None]
    if not times:
        return 0.0, None
    ref = max(times)
    return sum(t.value * _factor(model.decay, ref - t.as_of) for t in state.rules.values() if t.as_of), ref


def decayed_from(model: ScoringModel, value: float, at: datetime | None, now: datetime) -> float:
    """Behaviour points at ``now`` from :func:`behaviour_anchor`'s number and time."""
    if model.decay is None or at is None:
        return value
    if model.decay.kind == "linear":
        return _linear_level(model.decay, value, at, now)
    return value * _factor(model.decay, now - at)


def explain(model: ScoringModel, state: ScoreState, contact: ContactSnapshot, now: datetime) -> Explanation:
    """The score at ``now`` and the parts it is made of, biggest first."""
    parts = [
        Part(r.id, r.label, _round(state.rules[r.id].raw), state.rules[r.id].count)
        for r in model.behaviour
        if r.id in state.rules and state.rules[r.id].raw
    ]
    profile = [Part(r.id, r.label, r.points) for r in model.profile if evaluate(r.when, contact, now)]
    decayed, raw = behaviour_points(model, state, now)
    total = decayed + sum(p.points for p in profile)
    ordered = sorted([*parts, *profile], key=lambda p: (-abs(p.points), p.rule_id))
    return Explanation(_round(total), tuple(ordered), _round(decayed - raw))


def stage_bands(model: ScoringModel) -> list[tuple[str | None, float | None, float | None]]:
    """Per stage a contact can hold (None: not yet staged), the scores that keep it there:
    ``(stage, lo, hi)`` — below ``lo`` (a demotion rule) or at ``hi`` and above (the next threshold)
    :func:`move_stage` moves it. The decay pass looks only at scores outside their band."""
    bands: list[tuple[str | None, float | None, float | None]] = []
    for i, stage in enumerate([None, *model.stages]):
        ups = [t.at for t in model.thresholds if model.stages.index(t.stage) > i - 1]
        down = [t.demote_below for t in model.thresholds if t.stage == stage and t.demote_below is not None]
        bands.append((stage, down[0] if down else None, min(ups) if ups else None))
    return bands


def move_stage(model: ScoringModel, current: str | None, score: float) -> tuple[str | None, list[Crossing]]:
    """The stage after this score, and the thresholds crossed on the way (in order).

    A contact moves up to the highest stage whose threshold it reaches; it moves down one stage
    only below that stage's ``demote_below``. A stage outside the model's list (e.g. ``customer``
    set by hand) is never changed by the model."""
    if current is not None and current not in model.stages:
        return current, []
    idx = model.stages.index(current) if current is not None else -1
    crossings: list[Crossing] = []
    stage = current
    for t in model.thresholds:
        ti = model.stages.index(t.stage)
        if ti > idx and score >= t.at:
            crossings.append(Crossing(t.stage, stage, t.at, "up"))
            stage, idx = t.stage, ti
    if crossings:
        return stage, crossings
    for t in model.thresholds:
        if t.stage == current and t.demote_below is not None and score < t.demote_below:
            lower = model.stages[model.stages.index(t.stage) - 1]
            return lower, [Crossing(lower, current, t.demote_below, "down")]
    return stage, []
