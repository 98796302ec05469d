"""A live experiment: the ``experiment:`` block of a journey's split step, and how to count it.

```yaml
- id: subject_test
  type: split
  variants: [{name: A, next: send_a}, {name: B, next: send_b}]
  experiment:
    metric: click            # click | open (human opens only) | conversion
    event: Order Completed   # conversion only: the goal event...
    where: properties.revenue > 0   # ...and an optional filter on it
    window: 7d               # counted when it happens within this time of the split (default 7d)
    baseline: 0.10           # today's rate of the metric (planning)
    mde: 0.02                # minimum detectable effect, absolute (+2 points)
    power: 0.8
    alpha: 0.05
    rollout: true            # at the review point, send everyone to the winner (recorded)
```

The experiment's key is ``<journey key>.<step id>``. Exposure is the first time a contact went
through the split (its ``split`` trace); an outcome counts for the variant the contact was
exposed to when it happens after the exposure and within the window: a *human* click or open on
a message of this journey, or the goal event (matching ``where``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tidings.domain.event_names import canonical_event_name
from tidings.domain.experiments.stats import Arm

METRICS = ("click", "open", "conversion")
FIELDS = {"metric", "event", "where", "window", "baseline", "mde", "power", "alpha", "rollout"}
DEFAULT_WINDOW = timedelta(days=7)
_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True, slots=True)
class ExperimentSpec:
    journey: str
    step: str
    metric: str
    variants: tuple[tuple[str, float], ...]
    event: str | None = None
    where: Any = None
    window: timedelta = DEFAULT_WINDOW
    baseline: float | None = None
    mde: float | None = None
    power: float = 0.8
    alpha: float = 0.05
    rollout: bool = False
    name: str = ""

    @property
    def key(self) -> str:
        return f"{self.journey}.{self.step}"

    @property
    def metric_label(self) -> str:
        if self.metric == "conversion":
            return str(self.event)
        return "clicks" if self.metric == "click" else "human opens"

    @property
    def events(self) -> tuple[str, ...]:
        """The event names whose rows decide the outcome."""
        if self.metric == "click":
            return ("message.clicked",)
        if self.metric == "open":
            return ("message.opened",)
        return (canonical_event_name(str(self.event)),)  # spec names are stored dotted


@dataclass(frozen=True, slots=True)
class JourneyHead:
    """A journey and the source of its current version (where live experiments are declared)."""

    id: int
    key: str
    name: str
    status: str
    version: int | None
    source: str | None


@dataclass(frozen=True, slots=True)
class Exposure:
    contact_id: int
    variant: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    contact_id: int
    name: str
    at: datetime
    properties: Mapping[str, Any]
    value: float | None = None


def parse_window(raw: Any) -> timedelta:
    m = _DURATION.match(str(raw).strip())
    if not m:
        raise ValueError(f"a duration like 7d, 12h or 2w, got {raw!r}")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


def check_experiment(raw: Any) -> list[tuple[str, str]]:
    """Problems of an ``experiment:`` block as (sub-path, message); empty when it is valid."""
    if not isinstance(raw, Mapping):
        return [("", "experiment is a mapping {metric, event?, where?, window?, baseline?, mde?, ...}")]
    out: list[tuple[str, str]] = []
    for k in raw:
        if k not in FIELDS:
            out.append((f".{k}", f"unknown field {k!r} for an experiment; known: {sorted(FIELDS)}"))
    metric = raw.get("metric")
    if metric not in METRICS:
        out.append((".metric", f"metric is one of {list(METRICS)}, got {metric!r}"))
    if metric == "conversion" and not (isinstance(raw.get("event"), str) and raw["event"]):
        out.append((".event", "a conversion metric names its goal event"))
    if metric in ("click", "open") and (raw.get("event") is not None or raw.get("where") is not None):
        out.append((".event", f"event and where apply to the conversion metric, not {metric}"))
    if raw.get("window") is not None:
        try:
            parse_window(raw["window"])
        except ValueError as exc:
            out.append((".window", str(exc)))
    bounds = {"baseline": (0.0, 1.0), "mde": (0.0, 1.0), "power": (0.0, 1.0), "alpha": (0.0, 1.0)}
    for k, (lo, hi) in bounds.items():
        v = raw.get(k)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int | float) or not lo < v < hi:
            out.append((f".{k}", f"{k} is a number strictly between {lo:g} and {hi:g}, got {v!r}"))
    if (raw.get("baseline") is None) != (raw.get("mde") is None):
        out.append((".mde", "baseline and mde go together (they plan the sample size)"))
    if not isinstance(raw.get("rollout", False), bool):
        out.append((".rollout", "rollout is true or false"))
    return out


def spec_from_step(journey: str, step_id: str, config: Mapping[str, Any], where: Any = None) -> ExperimentSpec | None:
    """The experiment of a validated split step (None when the step has no ``experiment:``)."""
    raw = config.get("experiment")
    if not isinstance(raw, Mapping):
        return None
    variants = tuple(
        (str(v["name"]), float(v.get("weight", 1))) for v in config.get("variants") or [] if isinstance(v, Mapping)
    )
    return ExperimentSpec(
        journey=journey,
        step=step_id,
        metric=str(raw["metric"]),
        variants=variants,
        event=raw.get("event"),
        where=where,
        window=parse_window(raw["window"]) if raw.get("window") is not None else DEFAULT_WINDOW,
        baseline=raw.get("baseline"),
        mde=raw.get("mde"),
        power=float(raw.get("power", 0.8)),
        alpha=float(raw.get("alpha", 0.05)),
        rollout=bool(raw.get("rollout", False)),
        name=str(config.get("name") or step_id),
    )


def count(
    spec: ExperimentSpec,
    exposures: Sequence[Exposure],
    outcomes: Sequence[Outcome],
    *,
    journey_id: int | str,
    matches: Callable[[Any, Outcome], bool] | None = None,
) -> list[Arm]:
    """Exposed and converted contacts per variant (a contact converts at most once).

    ``matches(where, outcome)`` evaluates the conversion filter (the rule language lives in the
    journeys package; the caller passes it in)."""
    first: dict[int, Exposure] = {}
    for e in exposures:
        if e.contact_id not in first or e.at < first[e.contact_id].at:
            first[e.contact_id] = e
    names = [v for v, _ in spec.variants]
    exposed = {v: 0 for v in names}
    for e in first.values():
        exposed[e.variant] = exposed.get(e.variant, 0) + 1
    converted = {v: 0 for v in exposed}
    for cid in _converted(spec, first, outcomes, journey_id, matches):
        converted[first[cid].variant] += 1
    weights = dict(spec.variants)
    return [Arm(v, exposed[v], converted[v], weights.get(v, 1.0)) for v in exposed]


def count_members(
    spec: ExperimentSpec,
    exposed: Mapping[str, int],
    outcomes: Sequence[tuple[Exposure, Outcome]],
    *,
    journey_id: int | str,
    matches: Callable[[Any, Outcome], bool] | None = None,
) -> list[Arm]:
    """:func:`count` from what ``experiment_members`` gives: the contacts exposed per variant (each
    counted once, at its first pass) and the candidate outcomes paired with their contact's first
    exposure; the same conversion rule (:func:`_converted`)."""
    names = [v for v, _ in spec.variants]
    arms = {v: 0 for v in names}
    for v, n in exposed.items():
        arms[v] = arms.get(v, 0) + int(n)
    first = {x.contact_id: x for x, _ in outcomes}
    converted = {v: 0 for v in arms}
    for cid in _converted(spec, first, [o for _, o in outcomes], journey_id, matches):
        converted[first[cid].variant] = converted.get(first[cid].variant, 0) + 1
    weights = dict(spec.variants)
    return [Arm(v, arms[v], converted[v], weights.get(v, 1.0)) for v in arms]


def _converted(
    spec: ExperimentSpec,
    first: Mapping[int, Exposure],
    outcomes: Sequence[Outcome],
    journey_id: int | str,
    matches: Callable[[Any, Outcome], bool] | None,
) -> set[int]:
    """Contacts who converted: one of the goal events within the window after their first
    exposure (not a machine open/click, of this journey, for click/open metrics; matching the
    ``where`` filter otherwise)."""
    converted_contacts: set[int] = set()
    for o in outcomes:
        seen = first.get(o.contact_id)
        if seen is None or o.contact_id in converted_contacts or o.name not in spec.events:
            continue
        if not seen.at <= o.at <= seen.at + spec.window:
            continue
        if spec.metric in ("click", "open"):
            if o.properties.get("machine") or str(o.properties.get("journey")) != str(journey_id):
                continue
        elif spec.where is not None and (matches is None or not matches(spec.where, o)):
            continue
        converted_contacts.add(o.contact_id)
    return converted_contacts


def started_at(exposures: Sequence[Exposure]) -> datetime | None:
    return min((e.at for e in exposures), default=None)
