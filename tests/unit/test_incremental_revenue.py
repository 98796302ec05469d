"""Incremental revenue against a control group: the difference of revenue per entrant times the
treated entrants, and Welch's 95% interval (checked against scipy's t distribution by hand)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from tidings.domain.analytics.holdout import incremental_revenue, incremental_revenue_from_sums


def test_incremental_revenue_and_welch_interval() -> None:
    treated = [0.0] * 70 + [20.0] * 30  # 6.0 per entrant
    control = [0.0] * 40 + [20.0] * 10  # 4.0 per entrant
    out = incremental_revenue(treated, control)
    assert out["treated_revenue_per_entrant"] == 6.0 and out["control_revenue_per_entrant"] == 4.0
    assert out["incremental_revenue"] == 200.0  # (6 - 4) x 100
    vt = stats.tvar(treated) / len(treated)
    vc = stats.tvar(control) / len(control)
    df = (vt + vc) ** 2 / (vt**2 / (len(treated) - 1) + vc**2 / (len(control) - 1))
    half = stats.t.ppf(0.975, df) * math.sqrt(vt + vc)
    lo, hi = out["interval"]
    assert math.isclose(lo, round((2.0 - half) * 100, 2), abs_tol=0.01)
    assert math.isclose(hi, round((2.0 + half) * 100, 2), abs_tol=0.01)


def test_no_interval_without_two_entrants_per_group_and_nothing_without_control() -> None:
    assert incremental_revenue([5.0, 0.0], [1.0])["interval"] is None
    assert incremental_revenue([5.0, 0.0], [1.0])["incremental_revenue"] == 3.0  # (2.5 - 1) x 2
    none = incremental_revenue([5.0], [])
    assert none["incremental_revenue"] is None and none["control_entrants"] == 0
    flat = incremental_revenue([0.0, 0.0], [0.0, 0.0])
    assert flat["incremental_revenue"] == 0.0 and flat["interval"] == [0.0, 0.0]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.0, 5.0, 12.5, 20.0, 99.99]), max_size=60),
    st.lists(st.sampled_from([0.0, 0.0, 5.0, 12.5, 20.0, 99.99]), max_size=60),
)
def test_from_sums_equals_the_per_entrant_computation(treated: list[float], control: list[float]) -> None:
    """What the control-group rollups give (entrants, revenue, squared revenue per group) answers
    as the per-entrant lists did: same figures, same Welch interval (to the cent)."""
    ref = incremental_revenue(treated, control)
    got = incremental_revenue_from_sums(
        (len(treated), sum(treated), sum(x * x for x in treated)),
        (len(control), sum(control), sum(x * x for x in control)),
    )
    assert {k: v for k, v in got.items() if k != "interval"} == {k: v for k, v in ref.items() if k != "interval"}
    if ref["interval"] is None:
        assert got["interval"] is None
    else:
        assert got["interval"] is not None
        assert all(math.isclose(a, b, abs_tol=0.011) for a, b in zip(got["interval"], ref["interval"], strict=True))
