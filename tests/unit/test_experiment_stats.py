"""Experiment statistics against references: statsmodels, scipy, closed forms and Monte Carlo."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from scipy import special, stats
from statsmodels.stats.proportion import proportions_ztest
from typer.testing import CliRunner

from tidings.cli.main import app
from tidings.domain.experiments.stats import Arm, StatsInputError, evaluate, plan, srm_p_value
from tidings.domain.experiments.verdict import decide, review_date

runner = CliRunner()


def prob_b_beats_a(a: Arm, b: Arm) -> float:
    """Evan Miller's closed form for P(p_B > p_A) with Beta(1, 1) priors."""
    a_a, b_a = 1 + a.converted, 1 + a.exposed - a.converted
    a_b, b_b = 1 + b.converted, 1 + b.exposed - b.converted
    total = 0.0
    for i in range(a_b):
        total += math.exp(
            special.betaln(a_a + i, b_a + b_b)
            - math.log(b_b + i)
            - special.betaln(1 + i, b_b)
            - special.betaln(a_a, b_a)
        )
    return total


def test_plan_matches_the_textbook_formula_for_cohens_h() -> None:
    p = plan(0.10, 0.02, power=0.8, alpha=0.05)
    h = 2 * math.asin(math.sqrt(0.12)) - 2 * math.asin(math.sqrt(0.10))
    n = 2 * ((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) / h) ** 2  # per group
    assert p.per_variant == math.ceil(n) == 3835
    assert p.total == 7670
    # the pooled-variance formula (Fleiss, no continuity correction) is within 0.5 %
    assert abs(p.per_variant - 3841) / 3841 < 0.005


def test_plan_for_abn_splits_alpha_between_the_comparisons() -> None:
    two, three = plan(0.10, 0.02), plan(0.10, 0.02, variants=3)
    assert three.alpha_per_comparison == pytest.approx(0.025)
    assert three.per_variant > two.per_variant
    assert three.total == three.per_variant * 3


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("baseline", {"baseline": 0.0, "mde": 0.02}),
        ("mde", {"baseline": 0.1, "mde": 0.0}),
        ("mde", {"baseline": 0.99, "mde": 0.02}),
        ("power", {"baseline": 0.1, "mde": 0.02, "power": 1.0}),
        ("alpha", {"baseline": 0.1, "mde": 0.02, "alpha": 0.0}),
        ("variants", {"baseline": 0.1, "mde": 0.02, "variants": 1}),
    ],
)
def test_plan_refuses_bad_input_naming_the_field(field: str, kwargs: dict[str, float]) -> None:
    with pytest.raises(StatsInputError) as exc:
        plan(**kwargs)  # type: ignore[arg-type]
    assert exc.value.field == field


@pytest.mark.parametrize(("ca", "cb"), [(100, 130), (100, 100), (120, 95), (3, 9)])
def test_p_value_equals_statsmodels_and_the_chi_square_test(ca: int, cb: int) -> None:
    arms = [Arm("A", 1000, ca), Arm("B", 1000, cb)]
    ev = evaluate(arms)
    _, ref = proportions_ztest([ca, cb], [1000, 1000])
    chi = stats.chi2_contingency(np.array([[ca, cb], [1000 - ca, 1000 - cb]]), correction=False)
    assert ev.p_value == pytest.approx(ref, rel=1e-9)
    assert ev.p_value == pytest.approx(chi.pvalue, rel=1e-6)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (Arm("A", 1000, 100), Arm("B", 1000, 130)),
        (Arm("A", 200, 20), Arm("B", 180, 19)),
        (Arm("A", 50, 0), Arm("B", 50, 3)),
    ],
)
def test_chance_to_beat_equals_the_closed_form(a: Arm, b: Arm) -> None:
    ev = evaluate([a, b])
    assert ev.arms[1].chance_to_beat_control == pytest.approx(prob_b_beats_a(a, b), abs=1e-5)
    # with two variants, being best is beating the other
    assert ev.arms[1].chance_to_be_best == pytest.approx(ev.arms[1].chance_to_beat_control, abs=1e-5)


def test_abn_chances_and_expected_loss_agree_with_monte_carlo() -> None:
    arms = [Arm("A", 1000, 100), Arm("B", 1000, 125), Arm("C", 1000, 115)]
    ev = evaluate(arms)
    rng = np.random.default_rng(7)
    draws = np.array([rng.beta(1 + a.converted, 1 + a.exposed - a.converted, 400_000) for a in arms])
    best = draws.argmax(axis=0)
    for i, r in enumerate(ev.arms):
        assert r.chance_to_be_best == pytest.approx(float((best == i).mean()), abs=0.004)
        loss = float((draws.max(axis=0) - draws[i]).mean())
        assert r.expected_loss == pytest.approx(loss, abs=2e-4)
    assert sum(r.chance_to_be_best for r in ev.arms) == pytest.approx(1.0, abs=1e-4)
    chi = stats.chi2_contingency(np.array([[100, 125, 115], [900, 875, 885]]), correction=False)
    assert ev.p_value == pytest.approx(chi.pvalue, rel=1e-9)


def test_intervals_are_beta_posterior_quantiles() -> None:
    ev = evaluate([Arm("A", 1000, 100), Arm("B", 1000, 130)])
    lo, hi = stats.beta(101, 901).ppf([0.025, 0.975])
    assert ev.arms[0].interval == pytest.approx((lo, hi))
    d_lo, d_hi = ev.arms[1].uplift_interval
    assert d_lo < 0.03 < d_hi


def test_srm_is_scipys_chi_square_against_the_planned_weights() -> None:
    arms = [Arm("A", 1200, 100, weight=1), Arm("B", 800, 90, weight=1)]
    assert srm_p_value(arms) == pytest.approx(stats.chisquare([1200, 800]).pvalue)
    assert evaluate(arms).srm is True
    weighted = [Arm("A", 1200, 100, weight=3), Arm("B", 400, 40, weight=1)]
    assert evaluate(weighted).srm is False
    assert evaluate([Arm("A", 1010, 100), Arm("B", 990, 100)]).srm is False


@pytest.mark.parametrize(
    ("arms", "field"),
    [
        ([Arm("A", 100, 10)], "variants"),
        ([Arm("A", 100, 10), Arm("B", 0, 0)], "variants[1].exposed"),
        ([Arm("A", 100, 10), Arm("B", 100, 101)], "variants[1].converted"),
        ([Arm("A", 100, 10), Arm("A", 100, 10)], "variants[1].name"),
        ([Arm(f"V{i}", 100, 10) for i in range(21)], "variants"),
    ],
)
def test_evaluate_refuses_bad_counts_naming_the_field(arms: list[Arm], field: str) -> None:
    with pytest.raises(StatsInputError) as exc:
        evaluate(arms)
    assert exc.value.field == field


def test_verdicts_a_marketer_can_act_on() -> None:
    win = decide(evaluate([Arm("A", 1000, 100), Arm("B", 1000, 130)]), "clicks")
    assert (win.status, win.winner) == ("winner", "B")
    assert win.sentence == "B wins on clicks: +3.0 points, 98% chance to beat A — send B to everyone."
    running = decide(
        evaluate([Arm("A", 1000, 100), Arm("B", 1000, 110)]),
        "clicks",
        per_variant=3835,
        mde=0.02,
        review=date(2027, 3, 14),
    )
    assert running.status == "running" and running.winner is None
    assert running.sentence.startswith("Keep running until 14 March 2027: B leads on clicks (+1.0 points")
    flat = decide(evaluate([Arm("A", 5000, 500), Arm("B", 5000, 505)]), "clicks", per_variant=3835, mde=0.02)
    assert flat.status == "no_difference" and "keep A" in flat.sentence
    srm = decide(evaluate([Arm("A", 1200, 100), Arm("B", 800, 110)]), "clicks")
    assert srm.status == "srm" and srm.winner is None
    keep = decide(evaluate([Arm("A", 3000, 400), Arm("B", 3000, 300)]), "clicks")
    assert (keep.winner, keep.sentence) == (
        "A",
        "A wins on clicks: B is 3.3 points lower, >99% chance A is best — keep A.",
    )


def test_review_date_follows_the_entry_rate_of_the_slowest_variant() -> None:
    now = datetime(2027, 3, 1, tzinfo=UTC)
    started = now - timedelta(days=10)
    # 1,000 per variant in 10 days -> 3,835 after 38.35 days -> 28.35 more days
    assert review_date(3835, [1000, 1100], started, now) == date(2027, 3, 29)
    assert review_date(3835, [4000, 3900], started, now) == now.date()
    assert review_date(3835, [0, 10], started, now) is None


def test_cli_plan_and_evaluate_as_the_issue_says() -> None:
    r = runner.invoke(
        app,
        ["experiments", "plan", "--baseline", "0.10", "--mde", "0.02", "--power", "0.8", "--alpha", "0.05", "--json"],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["per_variant"] == 3835
    r = runner.invoke(app, ["experiments", "evaluate", "--variant", "A:1000:100", "--variant", "B:1000:130", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["winner"] == "B" and out["srm"] is False
    assert out["chance_to_beat"]["B"] == pytest.approx(
        prob_b_beats_a(Arm("A", 1000, 100), Arm("B", 1000, 130)), abs=1e-5
    )
    assert out["p_value"] == pytest.approx(proportions_ztest([100, 130], [1000, 1000])[1], rel=1e-6)
    assert "send B to everyone" in out["verdict"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--variant", "A:1000:100"], "variants: an experiment needs at least two variants"),
        (["--variant", "A:1000:100", "--variant", "B:0:0"], "variants[1].exposed"),
        (["--variant", "A:1000:100", "--variant", "B:x:1"], "variants[1]"),
    ],
)
def test_cli_evaluate_bad_input_exits_non_zero_naming_the_field(args: list[str], needle: str) -> None:
    r = runner.invoke(app, ["experiments", "evaluate", *args])
    assert r.exit_code == 1
    assert needle in r.output.replace("\n", " ")


def test_cli_plan_bad_input_names_the_option() -> None:
    r = runner.invoke(app, ["experiments", "plan", "--baseline", "0.10", "--mde", "-0.02"])
    assert r.exit_code == 1 and "--mde" in r.output
