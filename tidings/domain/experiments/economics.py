"""The economics of an automation: does this journey pay for itself, and since when?

Inputs (per journey; every one has a documented default, see docs/measurement.md):
``hours_per_enrolment`` (manual work one enrolment replaces), ``hourly_rate``, ``build_hours``,
``maintenance_hours_per_month`` and ``unit_costs`` per channel (email, sms, voice, direct_mail,
webhook, task: cost of one message).

Outputs over the journey's life so far (or a date range): hours saved, labour value, costs
(build + maintenance + messages), attributed revenue (``journey.converted`` revenue), ROI
(benefit − cost) / cost, and the break-even date at the pace seen so far.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from tidings.domain.experiments.errors import FieldError

DEFAULTS: dict[str, Any] = {
    "hours_per_enrolment": 0.1,
    "hourly_rate": 40.0,
    "build_hours": 8.0,
    "maintenance_hours_per_month": 1.0,
    "currency": "EUR",
    "unit_costs": {
        "email": 0.001,
        "sms": 0.05,
        "voice": 0.10,
        "direct_mail": 0.80,
        "webhook": 0.0,
        "task": 0.0,
        "crm": 0.0,
    },
}
NUMBERS = ("hours_per_enrolment", "hourly_rate", "build_hours", "maintenance_hours_per_month")
DAYS_PER_MONTH = 30.4375


class EconomicsError(FieldError):
    """Bad input, naming the field."""


def check_inputs(raw: Any) -> dict[str, Any]:
    """Inputs merged over the defaults; :class:`EconomicsError` names a bad field."""
    if not isinstance(raw, Mapping):
        raise EconomicsError("", "inputs are a mapping")
    out = {**DEFAULTS, "unit_costs": dict(DEFAULTS["unit_costs"])}
    for k, v in raw.items():
        if k in NUMBERS:
            if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
                raise EconomicsError(k, f"a non-negative number, got {v!r}")
            out[k] = float(v)
        elif k == "currency":
            if not isinstance(v, str) or not 1 <= len(v) <= 8:
                raise EconomicsError(k, "a currency code such as EUR")
            out[k] = v
        elif k == "unit_costs":
            if not isinstance(v, Mapping):
                raise EconomicsError(k, "a mapping channel -> cost of one message")
            for ch, cost in v.items():
                if ch not in DEFAULTS["unit_costs"]:
                    raise EconomicsError(f"unit_costs.{ch}", f"a channel is one of {sorted(DEFAULTS['unit_costs'])}")
                if isinstance(cost, bool) or not isinstance(cost, int | float) or cost < 0:
                    raise EconomicsError(f"unit_costs.{ch}", f"a non-negative number, got {cost!r}")
                out["unit_costs"][ch] = float(cost)
        else:
            raise EconomicsError(k, f"unknown input; known: {sorted([*NUMBERS, 'currency', 'unit_costs'])}")
    return out


def economics(inputs: Mapping[str, Any], activity: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Hours saved, cost, revenue, ROI and break-even from ``inputs`` and the journey's activity.

    ``activity``: ``enrolments``, ``first_enrolment`` (datetime or None), ``sends`` {channel: n},
    ``conversions``, ``revenue``."""
    rate = float(inputs["hourly_rate"])
    enrolments = int(activity["enrolments"])
    first: datetime | None = activity.get("first_enrolment")
    days = max((now - first).total_seconds() / 86400, 1.0) if first else 0.0
    hours_saved = enrolments * float(inputs["hours_per_enrolment"])
    labour_value = hours_saved * rate
    build = float(inputs["build_hours"]) * rate
    maintenance = float(inputs["maintenance_hours_per_month"]) * rate * days / DAYS_PER_MONTH
    unit = inputs["unit_costs"]
    sends = {str(ch): int(n) for ch, n in (activity.get("sends") or {}).items()}
    messages = sum(n * float(unit.get(ch, 0.0)) for ch, n in sends.items())
    revenue = float(activity.get("revenue") or 0.0)
    cost = build + maintenance + messages
    benefit = labour_value + revenue
    roi = (benefit - cost) / cost if cost else None
    # break-even at the pace seen so far: the build cost is paid once, the rest accrues per day
    break_even: str | None = None
    status = "no_data"
    if first is not None:
        net_per_day = (benefit - maintenance - messages) / days
        if benefit >= cost:
            paid_after = build / net_per_day if net_per_day > 0 else 0.0
            break_even, status = (first + timedelta(days=paid_after)).date().isoformat(), "paid_off"
        elif net_per_day > 0:
            break_even = (first + timedelta(days=build / net_per_day)).date().isoformat()
            status = "paying_off"
        else:
            status = "never_at_this_pace"
    return {
        "inputs": dict(inputs),
        "enrolments": enrolments,
        "first_enrolment": first.isoformat() if first else None,
        "days": round(days, 2),
        "sends": sends,
        "hours_saved": round(hours_saved, 4),
        "labour_value": round(labour_value, 2),
        "cost": {
            "build": round(build, 2),
            "maintenance": round(maintenance, 2),
            "messages": round(messages, 2),
            "total": round(cost, 2),
        },
        "conversions": int(activity.get("conversions") or 0),
        "attributed_revenue": round(revenue, 2),
        "benefit": round(benefit, 2),
        "roi": None if roi is None else round(roi, 4),
        "break_even": break_even,
        "status": status,
    }
