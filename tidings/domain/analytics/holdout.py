"""Control groups: a sticky share of a journey's entrants who get no message (incremental lift).

Membership is a hash of (journey key, contact id): the same contact is always in or out of one
journey's control group, across re-entries and versions (as long as the percentage stays).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

#: the largest control group a journey may declare (``settings.control_group``), in percent.
MAX_PERCENT = 50.0


def in_control_group(journey: str, contact_id: int, percent: float) -> bool:
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"holdout:{journey}:{contact_id}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 10_000  # 0.01 % resolution
    return bucket < round(percent * 100)


def lift(treated: tuple[int, int], control: tuple[int, int]) -> dict[str, float | int | None]:
    """(contacts, converted) of each group -> rates and the incremental lift (points and relative)."""
    (tn, tc), (cn, cc) = treated, control
    tr = tc / tn if tn else None
    cr = cc / cn if cn else None
    return {
        "treated_contacts": tn,
        "treated_converted": tc,
        "treated_rate": None if tr is None else round(tr, 6),
        "control_contacts": cn,
        "control_converted": cc,
        "control_rate": None if cr is None else round(cr, 6),
        "lift_points": None if tr is None or cr is None else round(tr - cr, 6),
        "lift_relative": None if tr is None or not cr else round((tr - cr) / cr, 6),
    }


def incremental_revenue(treated: Sequence[float], control: Sequence[float]) -> dict[str, Any]:
    """Revenue the journey added: (treated revenue per entrant − held-out revenue per entrant)
    × treated entrants, with a 95% interval (Welch's t interval of the difference of the per-entrant
    means, statsmodels ``CompareMeans``; ``None`` with fewer than two entrants in a group).

    ``treated`` / ``control``: one revenue per entrant of each group (0 for those who did not convert)."""
    tn, cn = len(treated), len(control)
    out: dict[str, Any] = {
        "treated_entrants": tn,
        "control_entrants": cn,
        "treated_revenue": round(float(sum(treated)), 2),
        "control_revenue": round(float(sum(control)), 2),
        "treated_revenue_per_entrant": round(sum(treated) / tn, 6) if tn else None,
        "control_revenue_per_entrant": round(sum(control) / cn, 6) if cn else None,
        "incremental_revenue": None,
        "interval": None,
    }
    if not tn or not cn:
        return out
    diff = sum(treated) / tn - sum(control) / cn
    out["incremental_revenue"] = round(diff * tn, 2)
    if tn >= 2 and cn >= 2:
        import numpy as np
        from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

        t, c = np.asarray(treated, dtype=float), np.asarray(control, dtype=float)
        if float(t.var()) + float(c.var()) == 0.0:
            out["interval"] = [out["incremental_revenue"], out["incremental_revenue"]]
        else:
            lo, hi = CompareMeans(DescrStatsW(t), DescrStatsW(c)).tconfint_diff(alpha=0.05, usevar="unequal")
            out["interval"] = [round(float(lo) * tn, 2), round(float(hi) * tn, 2)]
    return out


def incremental_revenue_from_sums(
    treated: tuple[int, float, float], control: tuple[int, float, float]
) -> dict[str, Any]:
    """:func:`incremental_revenue` from each group's (entrants, sum of revenue, sum of squared
    revenue per entrant), what the control-group rollups keep: the same figures and the same
    Welch interval (Welch–Satterthwaite degrees of freedom, as statsmodels' ``tconfint_diff``)."""
    (tn, ts, tq), (cn, cs, cq) = treated, control
    out: dict[str, Any] = {
        "treated_entrants": tn,
        "control_entrants": cn,
        "treated_revenue": round(float(ts), 2),
        "control_revenue": round(float(cs), 2),
        "treated_revenue_per_entrant": round(ts / tn, 6) if tn else None,
        "control_revenue_per_entrant": round(cs / cn, 6) if cn else None,
        "incremental_revenue": None,
        "interval": None,
    }
    if not tn or not cn:
        return out
    tm, cm = ts / tn, cs / cn
    out["incremental_revenue"] = round((tm - cm) * tn, 2)
    if tn >= 2 and cn >= 2:
        tv = max(tq / tn - tm * tm, 0.0)  # population variances (ddof 0), as DescrStatsW.var
        cv = max(cq / cn - cm * cm, 0.0)
        scale = max(1.0, tm * tm, cm * cm)
        if tv + cv <= 1e-12 * scale:
            out["interval"] = [out["incremental_revenue"], out["incremental_revenue"]]
            return out
        from scipy.stats import t as student

        s1, s2 = tv / (tn - 1), cv / (cn - 1)
        se = (s1 + s2) ** 0.5
        dof = 1.0 / ((s1 / (s1 + s2)) ** 2 / (tn - 1) + (s2 / (s1 + s2)) ** 2 / (cn - 1))
        half = float(student.ppf(0.975, dof)) * se
        diff = tm - cm
        out["interval"] = [round((diff - half) * tn, 2), round((diff + half) * tn, 2)]
    return out
