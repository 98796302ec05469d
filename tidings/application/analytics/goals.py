"""Marketing goals and KPIs: save goal documents, measure their KPIs, on track or not, CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tidings.application.ports.measurement import AnalyticsStore
from tidings.domain.experiments.goals import KPIS, GoalError, check_range, parse_goal, progress


class GoalNotFound(LookupError):
    pass


def save_goal(store: AnalyticsStore, raw: Any, now: datetime) -> dict[str, Any]:
    """Create or replace a goal document (raises :class:`GoalError` naming the field)."""
    goal = parse_goal(raw)
    store.save_goal(goal.key, goal.name, goal.document(), now)
    return progress(goal, store.kpi_series, now)


def list_goals(store: AnalyticsStore, now: datetime) -> list[dict[str, Any]]:
    return [progress(parse_goal(row["document"]), store.kpi_series, now) for row in store.goal_documents()]


def show_goal(store: AnalyticsStore, key: str, now: datetime) -> dict[str, Any]:
    for row in store.goal_documents():
        if row["key"] == key:
            return progress(parse_goal(row["document"]), store.kpi_series, now)
    raise GoalNotFound(f"no goal {key!r}")


def delete_goal(store: AnalyticsStore, key: str) -> None:
    if not store.delete_goal(key):
        raise GoalNotFound(f"no goal {key!r}")


def measure(
    store: AnalyticsStore, kpi: str, start: datetime, end: datetime, event: str | None = None
) -> dict[str, Any]:
    """One KPI over [start, end): for ad-hoc questions and the dashboard."""
    if kpi not in KPIS:
        raise GoalError("kpi", f"one of {sorted(KPIS)}, got {kpi!r}")
    check_range(start, end)
    value = store.kpi_series(kpi, start, end, event or "Order Completed")
    return {"kpi": kpi, "from": start.isoformat(), "to": end.isoformat(), "event": event, "value": value}


CSV_FIELDS = ["goal", "kpi", "horizon", "from", "to", "target", "expected", "actual", "status"]


def goals_csv(goals: Sequence[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for g in goals:
        for row in g["kpis"]:
            w.writerow({"goal": g["key"], **row})
    return out.getvalue()
