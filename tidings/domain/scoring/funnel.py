"""The stage funnel over time: how many contacts a scoring model moved into each stage per day,
week or month, and the flow from one stage to the next.

The counts come from ``stage_moves`` rows (one per day, model, stage left, stage entered and
direction, added up as the thresholds are crossed). A period's ``to_next`` is the flow ratio
*entered the next stage / entered this stage* in that period — how the funnel converts at that
time, not the fate of one cohort (a contact may enter ``mql`` in one week and ``sql`` the next).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")
#: the longest range a report covers (ten years of days)
MAX_DAYS = 3660
#: the most periods one report returns (a chart has no use for more)
MAX_PERIODS = 400


@dataclass(frozen=True, slots=True)
class StageMove:
    """Contacts a model moved from one stage into another on one day (UTC)."""

    day: date
    from_stage: str | None  # None: the contact had no stage of this model yet
    to_stage: str
    direction: str  # "up" | "down"
    moved: int


class FunnelRangeError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def period_start(day: date, over: Period) -> date:
    """The first day of the period ``day`` falls in (weeks start on Monday, ISO 8601)."""
    if over == "day":
        return day
    if over == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_start(start: date, over: Period) -> date:
    if over == "day":
        return start + timedelta(days=1)
    if over == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def period_starts(since: date, until: date, over: Period) -> list[date]:
    """Every period start from the one holding ``since`` to the one holding ``until``."""
    out = []
    at = period_start(since, over)
    while at <= until:
        out.append(at)
        at = _next_start(at, over)
    return out


def check_range(since: date, until: date, over: str) -> Period:
    """The period, after checking the range: a clear error naming the field otherwise."""
    if over not in PERIODS:
        raise FunnelRangeError("over", f"'over' must be one of {', '.join(PERIODS)}, not {over!r}")
    if until < since:
        raise FunnelRangeError("to", f"the range ends ({until}) before it starts ({since})")
    if (until - since).days > MAX_DAYS:
        raise FunnelRangeError("from", f"the range covers {(until - since).days} days; at most {MAX_DAYS}")
    period: Period = over  # checked against PERIODS above (mypy narrows the literal)
    if len(period_starts(since, until, period)) > MAX_PERIODS:
        raise FunnelRangeError("over", f"more than {MAX_PERIODS} periods of a {over}: choose a longer period")
    return period


def funnel_over_time(
    stages: Sequence[str], moves: Iterable[StageMove], since: date, until: date, over: Period
) -> dict[str, Any]:
    """Per period (every one in the range, empty ones included): per stage the contacts moved up
    into it (``entered``), moved down out of it (``demoted``), and the flow to the next stage."""
    starts = period_starts(since, until, over)
    index = {s: i for i, s in enumerate(starts)}
    entered: dict[tuple[date, str], int] = {}
    demoted: dict[tuple[date, str], int] = {}
    for m in moves:
        if not since <= m.day <= until:
            continue
        at = period_start(m.day, over)
        if at not in index:
            continue
        if m.direction == "up":
            entered[(at, m.to_stage)] = entered.get((at, m.to_stage), 0) + m.moved
        elif m.from_stage is not None:
            demoted[(at, m.from_stage)] = demoted.get((at, m.from_stage), 0) + m.moved
    periods = []
    for at in starts:
        rows = []
        for i, s in enumerate(stages):
            n = entered.get((at, s), 0)
            nxt = entered.get((at, stages[i + 1]), 0) if i + 1 < len(stages) else None
            rows.append(
                {
                    "stage": s,
                    "entered": n,
                    "demoted": demoted.get((at, s), 0),
                    "to_next": None if nxt is None or not n else round(nxt / n, 4),
                }
            )
        periods.append({"start": at.isoformat(), "stages": rows})
    totals = {s: sum(entered.get((at, s), 0) for at in starts) for s in stages}
    return {
        "over": over,
        "from": since.isoformat(),
        "to": until.isoformat(),
        "periods": periods,
        "entered": totals,
    }


def moves_of_crossings(crossings: Iterable[tuple[date, str | None, str, str]]) -> list[StageMove]:
    """Crossings ``(day, previous stage, stage, direction)`` added up into ``StageMove`` rows."""
    counts: dict[tuple[date, str | None, str, str], int] = {}
    for key in crossings:
        counts[key] = counts.get(key, 0) + 1
    return [StageMove(d, f, t, dr, n) for (d, f, t, dr), n in sorted(counts.items(), key=_sort_key)]


def _sort_key(item: tuple[tuple[date, str | None, str, str], int]) -> tuple[date, str, str, str]:
    (d, f, t, dr), _ = item
    return (d, f or "", t, dr)
