"""Attributed conversions and revenue per journey, step and template, under a chosen model.

Conversions are ``journey.converted`` events (a journey's goal step) in the range; the touches are
the contact's human clicks (machine clicks never count) within the window before each conversion;
the model (``domain/analytics/attribution.py``) shares each conversion and its revenue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tidings.application.analytics.reports import Range, ReportError
from tidings.application.ports.analytics import AnalyticsRepository
from tidings.domain.analytics.attribution import MODELS, attribute

DEFAULT_WINDOW_DAYS = 7.0


@dataclass(frozen=True)
class Goal:
    """A global goal: events named ``event`` whose properties equal ``where``; ``value`` names the
    property holding the amount (else the event's numeric value), e.g. ``Order Completed`` / ``revenue``."""

    event: str
    value: str | None = None
    where: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, event: str, value: str | None, where: list[str] | None) -> Goal:
        if not event.strip():
            raise ReportError("goal", "the goal event name is empty")
        pairs: dict[str, str] = {}
        for item in where or []:
            k, sep, v = item.partition("=")
            if not sep or not k.strip():
                raise ReportError("where", f"a goal filter is PROPERTY=VALUE, got {item!r}")
            pairs[k.strip()] = v
        return cls(event.strip(), value or None, pairs)

    def matches(self, props: Mapping[str, Any]) -> bool:
        return all(str(props.get(k)) == v for k, v in self.where.items())

    def amount(self, props: Mapping[str, Any], value: float | None) -> float:
        raw = props.get(self.value) if self.value else value
        try:
            return float(raw or 0)
        except (TypeError, ValueError):
            return 0.0


def attributed(
    repo: AnalyticsRepository,
    r: Range,
    *,
    model: str = "last_touch",
    window_days: float = DEFAULT_WINDOW_DAYS,
    journey: str | None = None,
    goal: Goal | None = None,
) -> dict[str, Any]:
    """Attribute the journeys' goal conversions (or, with ``goal``, that global goal's events)."""
    if model not in MODELS:
        raise ReportError("model", f"unknown attribution model {model!r}: one of {', '.join(MODELS)}")
    if not window_days > 0:
        raise ReportError("window_days", f"the attribution window must be positive, got {window_days}")
    window = timedelta(days=window_days)
    if goal is None:
        convs = repo.conversions({"journey": journey} if journey else {}, r.start, r.end)
    else:
        if not repo.has_event(goal.event):
            raise ReportError("goal", f"no event named {goal.event!r} was ever recorded: check the goal's event name")
        convs = [
            {**c, "value": goal.amount(c["properties"], c["value"])}
            for c in repo.goal_events(goal.event, r.start, r.end)
            if goal.matches(c["properties"])
        ]
    touches: dict[int, list[tuple[Any, tuple[str, str, str]]]] = defaultdict(list)
    for c in repo.human_clicks([int(x["contact_id"]) for x in convs]):
        key = (str(c.get("journey") or ""), str(c.get("step") or ""), str(c.get("template") or ""))
        touches[int(c["contact_id"])].append((c["occurred_at"], key))
    acc: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    unattributed = [0, 0.0]
    total_revenue = 0.0
    for conv in convs:
        revenue = float(conv["value"] if conv["value"] is not None else conv["properties"].get("revenue") or 0)
        total_revenue += revenue
        shares = attribute(model, touches.get(int(conv["contact_id"]), []), conv["occurred_at"], window)
        if not shares:
            unattributed[0] += 1
            unattributed[1] += revenue
        for key, share in shares.items():
            acc[key][0] += share
            acc[key][1] += share * revenue

    def group(index: int, name: str) -> list[dict[str, Any]]:
        g: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for key, (n, rev) in acc.items():
            label = "/".join(key[:2]) if index == 1 else key[index]
            g[label][0] += n
            g[label][1] += rev
        return [
            {name: k, "conversions": round(n, 6), "revenue": round(rev, 6)}
            for k, (n, rev) in sorted(g.items(), key=lambda kv: -kv[1][1])
        ]

    return {
        "goal": {"event": goal.event, "value": goal.value, "where": dict(goal.where)} if goal else "journey goals",
        "model": model,
        "window_days": window_days,
        "range": r.as_dict(),
        "conversions": len(convs),
        "revenue": round(total_revenue, 6),
        "unattributed": {"conversions": unattributed[0], "revenue": round(unattributed[1], 6)},
        "by_journey": group(0, "journey"),
        "by_step": group(1, "step"),
        "by_template": group(2, "template"),
    }
