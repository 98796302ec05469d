"""Marketing goals (pace, statuses, bad documents) and the economics of a journey, hand-computed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tidings.domain.experiments.economics import DEFAULTS, EconomicsError, check_inputs, economics
from tidings.domain.experiments.goals import GoalError, add_months, check_range, parse_goal, progress

GOAL = {
    "key": "growth",
    "name": "Growth",
    "start": "2027-01-01",
    "kpis": [
        {"kpi": "leads", "targets": {"3m": 900, "12m": 2920}},
        {"kpi": "revenue", "targets": {"3m": 1000}},
        {"kpi": "unsubscribe_rate", "targets": {"3m": 0.01}},
    ],
}


def fake_measure(values: dict[str, float]):  # type: ignore[no-untyped-def]
    calls = []

    def measure(kpi: str, start: datetime, end: datetime, event: str | None) -> float:
        calls.append((kpi, start, end, event))
        return values[kpi]

    measure.calls = calls  # type: ignore[attr-defined]
    return measure


def test_add_months_clamps_the_day() -> None:
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2027, 11, 15), 3) == date(2028, 2, 15)
    assert add_months(date(2027, 1, 1), 24) == date(2029, 1, 1)


def test_progress_is_pro_rata_for_counts_and_direct_for_rates() -> None:
    goal = parse_goal(GOAL)
    now = datetime(2027, 2, 15, tzinfo=UTC)  # 45 of 90 days into the 3-month horizon
    m = fake_measure({"leads": 400, "revenue": 600, "unsubscribe_rate": 0.02})
    out = progress(goal, m, now)
    rows = {(r["kpi"], r["horizon"]): r for r in out["kpis"]}
    leads3 = rows[("leads", "3m")]
    assert leads3["expected"] == pytest.approx(450.0) and leads3["status"] == "off_track"
    assert rows[("leads", "12m")]["expected"] == pytest.approx(2920 * 45 / 365)
    assert rows[("leads", "12m")]["status"] == "on_track"
    assert rows[("revenue", "3m")]["status"] == "on_track"  # 600 >= 500
    assert rows[("unsubscribe_rate", "3m")]["status"] == "off_track"  # 2% > 1%: lower is better
    assert out["on_track"] == 2 and out["off_track"] == 2
    assert m.calls[0][3] is None and m.calls[2][3] == "Order Completed"  # type: ignore[attr-defined]


def test_progress_after_the_horizon_and_before_the_start() -> None:
    goal = parse_goal(GOAL)
    m = fake_measure({"leads": 1000, "revenue": 10, "unsubscribe_rate": 0.001})
    after = {(r["kpi"], r["horizon"]): r["status"] for r in progress(goal, m, datetime(2027, 5, 1, tzinfo=UTC))["kpis"]}
    assert after[("leads", "3m")] == "reached" and after[("revenue", "3m")] == "missed"
    assert after[("unsubscribe_rate", "3m")] == "reached"
    before = progress(goal, m, datetime(2026, 12, 1, tzinfo=UTC))
    assert {r["status"] for r in before["kpis"]} == {"not_started"}


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"start": "someday"}, "start"),
        ({"kpis": []}, "kpis"),
        ({"kpis": [{"kpi": "likes", "targets": {"3m": 1}}]}, "kpis[0].kpi"),
        ({"kpis": [{"kpi": "leads", "targets": {"6m": 1}}]}, "kpis[0].targets.6m"),
        ({"kpis": [{"kpi": "leads", "targets": {"3m": -1}}]}, "kpis[0].targets.3m"),
        ({"kpis": [{"kpi": "retention", "targets": {"3m": 40}}]}, "kpis[0].targets.3m"),
        ({"kpis": [{"kpi": "leads", "event": "x", "targets": {"3m": 1}}]}, "kpis[0].event"),
        ({"key": ""}, "key"),
    ],
)
def test_bad_goal_documents_name_the_field(patch: dict[str, object], field: str) -> None:
    with pytest.raises(GoalError) as exc:
        parse_goal({**GOAL, **patch})
    assert exc.value.field == field


def test_a_backwards_range_names_to() -> None:
    a = datetime(2027, 3, 1, tzinfo=UTC)
    with pytest.raises(GoalError) as exc:
        check_range(a, a - timedelta(days=1))
    assert exc.value.field == "to"
    check_range(a, a)


def test_economics_hand_computed() -> None:
    inputs = check_inputs(
        {
            "hours_per_enrolment": 0.5,
            "hourly_rate": 40,
            "build_hours": 10,
            "maintenance_hours_per_month": 0,
            "unit_costs": {"sms": 0.05},
        }
    )
    now = datetime(2027, 1, 11, tzinfo=UTC)
    activity = {
        "enrolments": 100,
        "first_enrolment": now - timedelta(days=10),
        "sends": {"email": 1000, "sms": 100},
        "conversions": 3,
        "revenue": 150.0,
    }
    out = economics(inputs, activity, now)
    assert out["hours_saved"] == 50 and out["labour_value"] == 2000
    # build 10 h x 40 = 400; messages 1000 x 0.001 + 100 x 0.05 = 6
    assert out["cost"] == {"build": 400, "maintenance": 0, "messages": 6, "total": 406}
    assert out["benefit"] == 2150 and out["roi"] == pytest.approx((2150 - 406) / 406, abs=1e-4)
    # net per day (2150 - 6) / 10 = 214.4 -> the 400 build cost was paid after 1.87 days
    assert out["break_even"] == "2027-01-02" and out["status"] == "paid_off"


def test_economics_not_yet_paying_off_and_never() -> None:
    now = datetime(2027, 1, 11, tzinfo=UTC)
    inputs = check_inputs({"hours_per_enrolment": 0.1, "build_hours": 100, "maintenance_hours_per_month": 0})
    act = {"enrolments": 100, "first_enrolment": now - timedelta(days=10), "sends": {}, "revenue": 0}
    out = economics(inputs, act, now)
    # 400 of value in 10 days = 40/day; 4000 build -> 100 days after the first enrolment
    assert out["status"] == "paying_off" and out["break_even"] == "2027-04-11"
    costly = check_inputs({"unit_costs": {"direct_mail": 5}, "hours_per_enrolment": 0})
    out = economics(costly, {**act, "sends": {"direct_mail": 100}}, now)
    assert out["status"] == "never_at_this_pace" and out["break_even"] is None
    assert economics(DEFAULTS, {"enrolments": 0, "first_enrolment": None}, now)["status"] == "no_data"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"hourly_rate": -1}, "hourly_rate"),
        ({"unit_costs": {"fax": 1}}, "unit_costs.fax"),
        ({"unit_costs": {"sms": "cheap"}}, "unit_costs.sms"),
        ({"margin": 1}, "margin"),
    ],
)
def test_bad_economics_inputs_name_the_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(EconomicsError) as exc:
        check_inputs(raw)
    assert exc.value.field == field
