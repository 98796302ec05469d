"""The economics of a journey: its inputs (saved per journey) and what it earned and cost."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tidings.application.ports.measurement import AnalyticsStore
from tidings.domain.analytics.holdout import in_control_group, incremental_revenue, incremental_revenue_from_sums
from tidings.domain.experiments.economics import check_inputs, economics
from tidings.domain.experiments.goals import check_range


class JourneyNotFound(LookupError):
    pass


def _journey_id(store: AnalyticsStore, key: str) -> int:
    for head in store.journey_heads():
        if head.key == key:
            return head.id
    raise JourneyNotFound(f"no journey {key!r}")


def journey_economics(
    store: AnalyticsStore, key: str, now: datetime, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """Hours saved, cost, revenue, ROI and break-even of journey ``key`` (life so far or a range)."""
    check_range(start, end)
    jid = _journey_id(store, key)
    inputs = check_inputs(store.economics_inputs(key) or {})
    upto = min(end, now) if end else now
    activity = store.journey_activity(jid, start, upto)
    out = economics(inputs, activity, upto)
    out.update(_incremental(store.holdout_sums(jid, start, upto)))
    return {"journey": key, "from": start.isoformat() if start else None, "to": upto.isoformat(), **out}


def _incremental(holdout: Mapping[str, Any]) -> dict[str, Any]:
    """``incremental_revenue`` (and its interval) from the journey's control-group rollups
    (``holdout_sums``: per group entrants, revenue and squared revenue per entrant), or a note
    saying there is none."""
    percent = float(holdout["percent"])
    if percent <= 0:
        return _no_control()
    return _block(percent, incremental_revenue_from_sums(tuple(holdout["treated"]), tuple(holdout["control"])))


def incremental_by_entrant(holdout: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`_incremental` the way it was computed before the group was recorded at entry, from
    ``holdout_revenue`` (every entrant hashed into its group with today's percent): the reference
    the rollups are checked against."""
    percent = float(holdout["percent"])
    if percent <= 0:
        return _no_control()
    treated: list[float] = []
    control: list[float] = []
    revenue = holdout["revenue"]
    for cid in holdout["entrants"]:
        (control if in_control_group(str(holdout["key"]), cid, percent) else treated).append(revenue.get(cid, 0.0))
    return _block(percent, incremental_revenue(treated, control))


def _no_control() -> dict[str, Any]:
    return {
        "incremental_revenue": None,
        "incremental": None,
        "incremental_note": "no control group: set settings.control_group on the journey to measure it",
    }


def _block(percent: float, figures: Mapping[str, Any]) -> dict[str, Any]:
    block = {"percent": percent, **figures}
    note = (
        "(treated revenue per entrant - held-out revenue per entrant) x treated entrants, 95% interval"
        if block["incremental_revenue"] is not None
        else "the control group has no entrant in the range yet"
    )
    return {"incremental_revenue": block["incremental_revenue"], "incremental": block, "incremental_note": note}


def set_inputs(store: AnalyticsStore, key: str, raw: Any, now: datetime) -> dict[str, Any]:
    """Save journey ``key``'s inputs (merged over what was saved; raises EconomicsError naming the field)."""
    _journey_id(store, key)
    check_inputs(raw)
    saved = dict(store.economics_inputs(key) or {})
    merged = {**saved, **raw}
    if "unit_costs" in raw and "unit_costs" in saved:
        merged["unit_costs"] = {**saved["unit_costs"], **raw["unit_costs"]}
    check_inputs(merged)
    store.save_economics(key, merged, now)
    return journey_economics(store, key, now)
