"""The answer a marketer can act on: who wins, or how long to keep running, in one sentence.

Decision rule (Bayesian, safe to read at any time): a variant wins when its chance to be the best
is at least ``CHANCE_TO_WIN`` *and* the expected loss of choosing it is at most the loss
threshold (a tenth of the planned minimum detectable effect, or ``LOSS_THRESHOLD`` without a
plan). A sample-ratio mismatch overrides everything: the split itself is broken. When the planned
sample is reached without a winner the answer is "no clear difference: keep the control".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tidings.domain.experiments.stats import ArmResult, Evaluation

CHANCE_TO_WIN = 0.95
#: expected loss (absolute rate, 0.001 = 0.1 points) accepted when no MDE was planned.
LOSS_THRESHOLD = 0.001


@dataclass(frozen=True, slots=True)
class Verdict:
    #: running | winner | no_difference | srm
    status: str
    winner: str | None
    sentence: str


def points(x: float) -> str:
    """An absolute rate difference as signed percentage points: +2.1 points."""
    return f"{x * 100:+.1f} points"


def pct(x: float) -> str:
    """A chance as a whole percentage; never "100%" (or "0%") for an estimate."""
    if x > 0.995:
        return ">99%"
    if x < 0.005:
        return "<1%"
    return f"{x * 100:.0f}%"


def review_date(per_variant: int, exposed: list[int], started: datetime | None, now: datetime) -> date | None:
    """When the slowest variant reaches ``per_variant`` at its entry rate so far (None: no data)."""
    if started is None or not exposed or min(exposed) <= 0:
        return None
    slowest = min(exposed)
    if slowest >= per_variant:
        return now.date()
    elapsed = max((now - started).total_seconds(), 3600.0)
    rate = slowest / elapsed  # people per second in the slowest variant
    return (now + timedelta(seconds=(per_variant - slowest) / rate)).date()


def decide(
    ev: Evaluation,
    metric: str,
    *,
    per_variant: int | None = None,
    mde: float | None = None,
    review: date | None = None,
) -> Verdict:
    """The verdict for ``ev`` on ``metric`` ("clicks", "human opens", "Order Completed"...)."""
    arms = {a.name: a for a in ev.arms}
    control = arms[ev.control]
    if ev.srm:
        split = " / ".join(f"{a.name} {a.exposed:,}" for a in ev.arms)
        return Verdict(
            "srm",
            None,
            f"Sample ratio mismatch: exposures are {split}, not the planned split "
            f"(p = {ev.srm_p_value:.1g}) — fix the split before trusting any result.",
        )
    best = max(ev.arms, key=lambda a: a.chance_to_be_best)
    threshold = mde / 10 if mde else LOSS_THRESHOLD
    if best.chance_to_be_best >= CHANCE_TO_WIN and best.expected_loss <= threshold:
        return Verdict("winner", best.name, _winner_sentence(best, control, ev, metric))
    reached = per_variant is not None and min(a.exposed for a in ev.arms) >= per_variant
    lead = _lead(best, control, metric)
    if reached:
        return Verdict(
            "no_difference",
            None,
            f"No clear winner on {metric} after the planned {per_variant:,} people per variant ({lead}): "
            f"any difference is smaller than the effect you planned to detect — keep {control.name}.",
        )
    if review is not None:
        when = f"until {review.day} {review:%B %Y}"
    elif per_variant is not None:
        when = f"until each variant has {per_variant:,} people"
    else:
        when = f"until one variant has a {pct(CHANCE_TO_WIN)} chance to be best"
    so_far = min(a.exposed for a in ev.arms)
    tail = f"; {so_far:,} of {per_variant:,} people per variant so far" if per_variant else ""
    return Verdict("running", None, f"Keep running {when}: {lead}{tail}.")


def _lead(best: ArmResult, control: ArmResult, metric: str) -> str:
    if best.name == control.name:
        return f"{control.name} leads on {metric} with a {pct(best.chance_to_be_best)} chance to be best"
    return (
        f"{best.name} leads on {metric} ({points(best.uplift)}, "
        f"{pct(best.chance_to_beat_control)} chance to beat {control.name})"
    )


def _winner_sentence(best: ArmResult, control: ArmResult, ev: Evaluation, metric: str) -> str:
    if best.name == control.name:
        runner = max((a for a in ev.arms if a.name != best.name), key=lambda a: a.chance_to_be_best)
        return (
            f"{best.name} wins on {metric}: {runner.name} is {points(runner.uplift)[1:]} lower, "
            f"{pct(best.chance_to_be_best)} chance {best.name} is best — keep {best.name}."
        )
    versus = f"to beat {control.name}" if len(ev.arms) == 2 else "to be the best"
    chance = best.chance_to_beat_control if len(ev.arms) == 2 else best.chance_to_be_best
    return (
        f"{best.name} wins on {metric}: {points(best.uplift)}, {pct(chance)} chance {versus} — "
        f"send {best.name} to everyone."
    )
