"""Incremental revenue against a control group: the difference of revenue per entrant times the
treated entrants, and Welch's 95% interval (checked against scipy's t distribution by hand)."""

from __future__ import annotations

import math

from scipy import stats

from tidings.domain.analytics.holdout import incremental_revenue


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
