"""Marketing goals: KPI targets at 3, 12 and 24 months from a start date, and whether we are on track.

```yaml
key: growth-2027
name: Growth plan 2027
start: 2027-01-01
kpis:
  - kpi: leads                 # new (known) contacts
    targets: {3m: 600, 12m: 3000, 24m: 8000}
  - kpi: revenue
    event: Order Completed     # the purchase event (customers, revenue, retention)
    targets: {3m: 20000, 12m: 100000, 24m: 250000}
  - kpi: unsubscribe_rate      # lower is better
    targets: {3m: 0.005, 12m: 0.004, 24m: 0.003}
```

Counts and revenue are cumulative from ``start``; on track means at least the target's pro-rata
share for the time elapsed (linear pace). Rates (retention, unsubscribe rate) are measured over
the horizon's window so far and compared with the target directly (unsubscribe rate: at most).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from tidings.domain.experiments.errors import FieldError

HORIZONS = {"3m": 3, "12m": 12, "24m": 24}
#: kpi -> (cumulative?, higher is better?)
KPIS: dict[str, tuple[bool, bool]] = {
    "leads": (True, True),
    "mqls": (True, True),
    "customers": (True, True),
    "revenue": (True, True),
    "retention": (False, True),
    "unsubscribe_rate": (False, False),
}
NEEDS_EVENT = {"customers", "revenue", "retention"}
DEFAULT_PURCHASE_EVENT = "Order Completed"


class GoalError(FieldError):
    """Bad input, naming the field."""


@dataclass(frozen=True, slots=True)
class Kpi:
    kpi: str
    targets: Mapping[str, float]
    event: str | None = None


@dataclass(frozen=True, slots=True)
class Goal:
    key: str
    name: str
    start: date
    kpis: tuple[Kpi, ...]

    def document(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "start": self.start.isoformat(),
            "kpis": [
                {"kpi": k.kpi, "targets": dict(k.targets), **({"event": k.event} if k.event else {})} for k in self.kpis
            ],
        }


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def check_range(start: datetime | None, end: datetime | None) -> None:
    """A report's date range: ``to`` must not be before ``from``."""
    if start is not None and end is not None and end < start:
        raise GoalError("to", f"the range ends ({end.date()}) before it starts ({start.date()})")


def parse_goal(raw: Any) -> Goal:
    """A goal document (already loaded from YAML or JSON); :class:`GoalError` names the field."""
    if not isinstance(raw, Mapping):
        raise GoalError("", "a goal is a mapping {key, name, start, kpis}")
    key = raw.get("key")
    if not isinstance(key, str) or not key.strip() or len(key) > 100:
        raise GoalError("key", "a non-empty name of at most 100 characters")
    start_raw = raw.get("start")
    try:
        start = start_raw if isinstance(start_raw, date) else date.fromisoformat(str(start_raw))
    except ValueError:
        raise GoalError("start", f"a date like 2027-01-01, got {start_raw!r}") from None
    kpis_raw = raw.get("kpis")
    if not isinstance(kpis_raw, list) or not kpis_raw:
        raise GoalError("kpis", "at least one {kpi, targets}")
    kpis = []
    for i, k in enumerate(kpis_raw):
        f = f"kpis[{i}]"
        if not isinstance(k, Mapping):
            raise GoalError(f, "a mapping {kpi, targets, event?}")
        name = k.get("kpi")
        if name not in KPIS:
            raise GoalError(f"{f}.kpi", f"one of {sorted(KPIS)}, got {name!r}")
        targets = k.get("targets")
        if not isinstance(targets, Mapping) or not targets:
            raise GoalError(f"{f}.targets", "targets for 3m, 12m and/or 24m")
        clean: dict[str, float] = {}
        for h, v in targets.items():
            if h not in HORIZONS:
                raise GoalError(f"{f}.targets.{h}", f"a horizon is one of {list(HORIZONS)}")
            if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
                raise GoalError(f"{f}.targets.{h}", f"a non-negative number, got {v!r}")
            if not KPIS[name][0] and v > 1:
                raise GoalError(f"{f}.targets.{h}", f"{name} is a rate between 0 and 1, got {v!r}")
            clean[str(h)] = float(v)
        event = k.get("event")
        if event is not None and (not isinstance(event, str) or not event):
            raise GoalError(f"{f}.event", "the name of an event")
        if event is not None and name not in NEEDS_EVENT:
            raise GoalError(f"{f}.event", f"only customers, revenue and retention read an event, not {name}")
        kpis.append(Kpi(name, clean, event or (DEFAULT_PURCHASE_EVENT if name in NEEDS_EVENT else None)))
    return Goal(key=key, name=str(raw.get("name") or key), start=start, kpis=tuple(kpis))


Measure = Callable[[str, datetime, datetime, str | None], float]


def _at(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=UTC)


def progress(goal: Goal, measure: Measure, now: datetime) -> dict[str, Any]:
    """Each KPI at each horizon: target, actual so far, expected by now, status.

    ``measure(kpi, start, end, event)`` returns the KPI's value over [start, end)."""
    start = _at(goal.start)
    rows = []
    for k in goal.kpis:
        cumulative, higher = KPIS[k.kpi]
        for h, target in sorted(k.targets.items(), key=lambda t: HORIZONS[t[0]]):
            end = _at(add_months(goal.start, HORIZONS[h]))
            rows.append(_row(k, h, target, cumulative, higher, start, end, now, measure))
    on = sum(1 for r in rows if r["status"] in ("on_track", "reached"))
    off = sum(1 for r in rows if r["status"] in ("off_track", "missed"))
    return {**goal.document(), "as_of": now.isoformat(), "on_track": on, "off_track": off, "kpis": rows}


def _row(
    k: Kpi,
    h: str,
    target: float,
    cumulative: bool,
    higher: bool,
    start: datetime,
    end: datetime,
    now: datetime,
    measure: Measure,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kpi": k.kpi,
        "horizon": h,
        "target": target,
        "event": k.event,
        "from": start.date().isoformat(),
        "to": end.date().isoformat(),
    }
    if now <= start:
        return row | {"actual": None, "expected": None, "status": "not_started"}
    upto = min(now, end)
    actual = measure(k.kpi, start, upto, k.event)
    share = (upto - start) / (end - start)
    expected = target * share if cumulative else target
    done = now >= end
    if cumulative:
        ok = actual >= target if done else actual >= expected
        if not done and actual >= target:
            status = "reached"
        else:
            status = ("reached" if ok else "missed") if done else ("on_track" if ok else "off_track")
    else:
        ok = actual >= target if higher else actual <= target
        status = ("reached" if ok else "missed") if done else ("on_track" if ok else "off_track")
    return row | {
        "actual": round(actual, 6),
        "expected": round(expected, 6),
        "elapsed": round(share, 4),
        "status": status,
    }
