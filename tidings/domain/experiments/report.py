"""Counts in, the JSON-ready answer out: shared by the CLI, the API and the web page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from tidings.domain.experiments.stats import Arm, Evaluation, Plan, StatsInputError, evaluate
from tidings.domain.experiments.verdict import Verdict, decide


def plan_dict(p: Plan) -> dict[str, Any]:
    return {
        "per_variant": p.per_variant,
        "total": p.total,
        "variants": p.variants,
        "baseline": p.baseline,
        "mde": p.mde,
        "target": round(p.target, 10),
        "power": p.power,
        "alpha": p.alpha,
        "alpha_per_comparison": p.alpha_per_comparison,
        "method": "two-proportion power (statsmodels NormalIndPower, Cohen's h), Bonferroni for A/B/n",
    }


def parse_variant(text: str, index: int) -> Arm:
    """``NAME:EXPOSED:CONVERTED`` (the CLI's ``--variant``) as an :class:`Arm`."""
    field = f"variants[{index}]"
    parts = text.rsplit(":", 2)
    if len(parts) != 3 or not parts[0]:
        raise StatsInputError(field, f"expected NAME:EXPOSED:CONVERTED, got {text!r}")
    name, exposed, converted = parts
    try:
        e, c = int(exposed), int(converted)
    except ValueError:
        raise StatsInputError(field, f"EXPOSED and CONVERTED must be whole numbers, got {text!r}") from None
    return Arm(name=name, exposed=e, converted=c)


def evaluation_dict(ev: Evaluation, verdict: Verdict) -> dict[str, Any]:
    best = next((a for a in ev.arms if a.name == verdict.winner), None)
    leader = max(ev.arms, key=lambda a: a.chance_to_be_best)
    return {
        "winner": verdict.winner,
        "status": verdict.status,
        "verdict": verdict.sentence,
        "control": ev.control,
        "leader": leader.name,
        "chance_to_beat": {a.name: round(a.chance_to_beat_control, 6) for a in ev.arms if a.name != ev.control},
        "chance_to_be_best": {a.name: round(a.chance_to_be_best, 6) for a in ev.arms},
        "expected_loss": {a.name: round(a.expected_loss, 8) for a in ev.arms},
        "p_value": None if ev.p_value is None else round(ev.p_value, 8),
        "p_value_note": "fixed-horizon test: read it once, at the planned sample",
        "srm": ev.srm,
        "srm_p_value": round(ev.srm_p_value, 8),
        "winner_uplift": None if best is None else round(best.uplift, 8),
        "variants": [
            {
                "name": a.name,
                "exposed": a.exposed,
                "converted": a.converted,
                "rate": round(a.rate, 8),
                "interval": [round(a.interval[0], 8), round(a.interval[1], 8)],
                "uplift": round(a.uplift, 8),
                "uplift_interval": [round(a.uplift_interval[0], 8), round(a.uplift_interval[1], 8)],
                "chance_to_beat_control": None if a.name == ev.control else round(a.chance_to_beat_control, 6),
                "chance_to_be_best": round(a.chance_to_be_best, 6),
                "expected_loss": round(a.expected_loss, 8),
            }
            for a in ev.arms
        ],
        "method": "Bayesian Beta(1,1) posteriors (scipy): chance to beat / be best and expected loss; "
        "valid when you look early. SRM: chi-square (scipy).",
    }


def answer(
    arms: Sequence[Arm],
    metric: str = "conversions",
    *,
    control: str | None = None,
    per_variant: int | None = None,
    mde: float | None = None,
    review: date | None = None,
) -> dict[str, Any]:
    """Evaluate ``arms`` and phrase the verdict (raises :class:`StatsInputError` on bad counts)."""
    ev = evaluate(arms, control)
    verdict = decide(ev, metric, per_variant=per_variant, mde=mde, review=review)
    return evaluation_dict(ev, verdict)
