"""The statistics of an A/B/n test, from maintained libraries.

- **Planning**: two-proportion power analysis (statsmodels ``NormalIndPower`` on Cohen's h,
  ``proportion_effectsize``) gives the sample per variant; with more than two variants the
  significance level is split between the comparisons with the control (Bonferroni).
- **Peeking-safe answer**: Bayesian Beta-Binomial posteriors (uniform ``Beta(1, 1)`` prior, scipy):
  for each variant the chance to be the best and the chance to beat the control, and the expected
  loss of choosing it (how many conversion points we give up on average if it is not the best).
  These stay meaningful when someone looks every day, unlike a fixed-horizon p-value; the decision
  rule (chance and expected loss thresholds) lives in ``verdict.py``.
- **Fixed-horizon p-value** (statsmodels ``proportions_ztest`` for two variants, a chi-square test
  of independence for more) is reported too, for people who planned a sample and read it once.
- **Sample-ratio mismatch**: scipy ``chisquare`` of the exposures against the planned weights.

The integrals are computed numerically on a grid over [0, 1] that concentrates where the
posteriors have mass; results agree with Monte-Carlo and closed forms to ~1e-6.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tidings.domain.experiments.errors import FieldError

#: the libraries load on first use: importing the server or the CLI stays fast.
np: Any = None
sps: Any = None


def _load() -> None:
    global np, sps
    if sps is None:
        import numpy
        from scipy import stats

        np, sps = numpy, stats


#: the most variants one test compares (the numerical integrals grow with each one).
MAX_VARIANTS = 20

#: p-value below which the exposures are said not to follow the planned split.
SRM_THRESHOLD = 0.001


class StatsInputError(FieldError):
    """Bad input, naming the field."""


@dataclass(frozen=True, slots=True)
class Arm:
    """One variant's counts: people exposed and people who converted on the goal metric."""

    name: str
    exposed: int
    converted: int
    weight: float = 1.0

    @property
    def rate(self) -> float:
        return self.converted / self.exposed if self.exposed else 0.0


@dataclass(frozen=True, slots=True)
class Plan:
    per_variant: int
    total: int
    baseline: float
    mde: float
    target: float
    power: float
    alpha: float
    alpha_per_comparison: float
    variants: int


@dataclass(frozen=True, slots=True)
class ArmResult:
    name: str
    exposed: int
    converted: int
    rate: float
    #: 95% credible interval of the rate (Beta posterior).
    interval: tuple[float, float]
    #: rate minus the control's rate (absolute), and its 95% credible interval.
    uplift: float
    uplift_interval: tuple[float, float]
    chance_to_beat_control: float
    chance_to_be_best: float
    expected_loss: float


@dataclass(frozen=True, slots=True)
class Evaluation:
    arms: tuple[ArmResult, ...]
    control: str
    p_value: float | None
    srm: bool
    srm_p_value: float


def check_arms(arms: Sequence[Arm]) -> None:
    """Raise :class:`StatsInputError` naming the field when counts cannot be evaluated."""
    if len(arms) < 2:
        raise StatsInputError("variants", f"an experiment needs at least two variants, got {len(arms)}")
    if len(arms) > MAX_VARIANTS:
        raise StatsInputError("variants", f"at most {MAX_VARIANTS} variants, got {len(arms)}")
    seen: set[str] = set()
    for i, a in enumerate(arms):
        if not a.name:
            raise StatsInputError(f"variants[{i}].name", "is empty")
        if a.name in seen:
            raise StatsInputError(f"variants[{i}].name", f"duplicate variant {a.name!r}")
        seen.add(a.name)
        if a.exposed < 0 or a.converted < 0:
            raise StatsInputError(f"variants[{i}]", "counts cannot be negative")
        if a.exposed == 0:
            raise StatsInputError(f"variants[{i}].exposed", f"variant {a.name!r} has no exposures yet")
        if a.converted > a.exposed:
            raise StatsInputError(f"variants[{i}].converted", f"{a.converted} conversions for {a.exposed} exposures")
        if not a.weight > 0:
            raise StatsInputError(f"variants[{i}].weight", "must be positive")


def plan(baseline: float, mde: float, power: float = 0.8, alpha: float = 0.05, variants: int = 2) -> Plan:
    """People needed per variant to detect an absolute lift of ``mde`` over ``baseline``."""
    if not 0 < baseline < 1:
        raise StatsInputError("baseline", f"a conversion rate strictly between 0 and 1, got {baseline}")
    if not mde > 0:
        raise StatsInputError("mde", f"the minimum detectable effect must be positive, got {mde}")
    if baseline + mde >= 1:
        raise StatsInputError("mde", f"baseline + mde must stay below 1, got {baseline + mde:g}")
    if not 0 < power < 1:
        raise StatsInputError("power", f"between 0 and 1, got {power}")
    if not 0 < alpha < 1:
        raise StatsInputError("alpha", f"between 0 and 1, got {alpha}")
    if not 2 <= variants <= MAX_VARIANTS:
        raise StatsInputError("variants", f"between 2 and {MAX_VARIANTS} variants, got {variants}")
    _load()
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    per_alpha = alpha / (variants - 1)
    effect = float(proportion_effectsize(baseline + mde, baseline))
    n = NormalIndPower().solve_power(
        effect_size=effect, alpha=per_alpha, power=power, ratio=1.0, alternative="two-sided"
    )
    per_variant = math.ceil(float(np.asarray(n).item()))
    return Plan(
        per_variant=per_variant,
        total=per_variant * variants,
        baseline=baseline,
        mde=mde,
        target=baseline + mde,
        power=power,
        alpha=alpha,
        alpha_per_comparison=per_alpha,
        variants=variants,
    )


def _grid(arms: Sequence[Arm]) -> Any:  # a numpy array; after _load()
    """Points over [0, 1] where the posteriors live (dense around each posterior's bulk)."""
    pts = [np.linspace(0.0, 1.0, 2001)]
    for a in arms:
        post = sps.beta(1 + a.converted, 1 + a.exposed - a.converted)
        lo, hi = post.ppf(1e-9), post.isf(1e-9)
        pts.append(np.linspace(lo, hi, 4001))
    return np.unique(np.concatenate(pts))


def evaluate(arms: Sequence[Arm], control: str | None = None) -> Evaluation:
    """Bayesian chances and losses, the fixed-horizon p-value and the SRM check for ``arms``."""
    check_arms(arms)
    _load()
    names = [a.name for a in arms]
    control = control or names[0]
    if control not in names:
        raise StatsInputError("control", f"{control!r} is not one of the variants {names}")
    posts = [sps.beta(1 + a.converted, 1 + a.exposed - a.converted) for a in arms]
    x = _grid(arms)
    pdfs = np.array([p.pdf(x) for p in posts])
    cdfs = np.array([p.cdf(x) for p in posts])
    ci = arms[names.index(control)]
    c_idx = names.index(control)
    results = []
    for i, a in enumerate(arms):
        others = [j for j in range(len(arms)) if j != i]
        best = np.trapezoid(pdfs[i] * np.prod(cdfs[others], axis=0), x) if others else 1.0
        beat = 0.5 if i == c_idx else float(np.trapezoid(pdfs[i] * cdfs[c_idx], x))
        loss = _expected_loss(posts, i)
        lo, hi = posts[i].ppf([0.025, 0.975])
        d_lo, d_hi = _uplift_interval(a, ci) if i != c_idx else (0.0, 0.0)
        results.append(
            ArmResult(
                name=a.name,
                exposed=a.exposed,
                converted=a.converted,
                rate=a.rate,
                interval=(float(lo), float(hi)),
                uplift=a.rate - ci.rate,
                uplift_interval=(d_lo, d_hi),
                chance_to_beat_control=min(1.0, max(0.0, beat)),
                chance_to_be_best=min(1.0, max(0.0, float(best))),
                expected_loss=max(0.0, loss),
            )
        )
    srm_p = srm_p_value(arms)
    return Evaluation(
        arms=tuple(results),
        control=control,
        p_value=p_value(arms),
        srm=srm_p < SRM_THRESHOLD,
        srm_p_value=srm_p,
    )


def _expected_loss(posts: Sequence[object], i: int) -> float:
    """E[max over variants of the rate − rate_i]: what choosing ``i`` costs on average.

    E[max(X_j)] = ∫ (1 − Π F_j(x)) dx over [0, 1]; E[X_i] is the posterior mean.
    """
    x = np.linspace(0.0, 1.0, 20001)
    prod = np.ones_like(x)
    for p in posts:
        prod = prod * p.cdf(x)  # type: ignore[attr-defined]
    e_max = float(np.trapezoid(1.0 - prod, x))
    return e_max - float(posts[i].mean())  # type: ignore[attr-defined]


def _uplift_interval(a: Arm, c: Arm) -> tuple[float, float]:
    """95% interval of rate_a − rate_c (normal approximation of the two Beta posteriors)."""
    pa = sps.beta(1 + a.converted, 1 + a.exposed - a.converted)
    pc = sps.beta(1 + c.converted, 1 + c.exposed - c.converted)
    mean = float(pa.mean() - pc.mean())
    sd = math.sqrt(float(pa.var() + pc.var()))
    z = float(sps.norm.ppf(0.975))
    return (mean - z * sd, mean + z * sd)


def p_value(arms: Sequence[Arm]) -> float | None:
    """Fixed-horizon p-value: two-sided z-test of two proportions, chi-square for A/B/n."""
    conv = [a.converted for a in arms]
    nobs = [a.exposed for a in arms]
    total_conv = sum(conv)
    if total_conv == 0 or total_conv == sum(nobs):
        return 1.0  # nobody (or everybody) converted: no evidence of a difference
    _load()
    if len(arms) == 2:
        from statsmodels.stats.proportion import proportions_ztest

        _, p = proportions_ztest(conv, nobs, alternative="two-sided")
        return float(p)
    table = np.array([conv, [n - c for n, c in zip(nobs, conv, strict=True)]])
    res = sps.chi2_contingency(table, correction=False)
    return float(res.pvalue)


def srm_p_value(arms: Sequence[Arm]) -> float:
    """Chi-square goodness of fit of the exposures to the planned weights."""
    _load()
    observed = np.array([a.exposed for a in arms], dtype=float)
    weights = np.array([a.weight for a in arms], dtype=float)
    expected = observed.sum() * weights / weights.sum()
    res = sps.chisquare(observed, expected)
    return float(res.pvalue)
