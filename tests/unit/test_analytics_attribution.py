"""Attribution models on hand-computed fixtures (docs/measurement.md, "Analytics")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tidings.domain.analytics.attribution import MODELS, UnknownModel, attribute

T = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
#: one touch outside the 7-day window (never counts), then A, B, C at 6, 3 and 1 days before.
TOUCHES = [(T - 10 * DAY, "old"), (T - 3 * DAY, "B"), (T - 6 * DAY, "A"), (T - 1 * DAY, "C")]


def _round(d: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in d.items()}


def test_first_and_last_touch() -> None:
    assert attribute("first_touch", TOUCHES, T, WEEK) == {"A": 1.0}
    assert attribute("last_touch", TOUCHES, T, WEEK) == {"C": 1.0}


def test_linear_shares_equally() -> None:
    assert _round(attribute("linear", TOUCHES, T, WEEK)) == {"A": 0.3333, "B": 0.3333, "C": 0.3333}


def test_time_decay_with_a_seven_day_half_life() -> None:
    # weights 2^(-6/7) = 0.55204, 2^(-3/7) = 0.74300, 2^(-1/7) = 0.90572; sum 2.20077
    assert _round(attribute("time_decay", TOUCHES, T, WEEK)) == {"A": 0.2508, "B": 0.3376, "C": 0.4115}


def test_position_based_40_20_40() -> None:
    assert _round(attribute("position_based", TOUCHES, T, WEEK)) == {"A": 0.4, "B": 0.2, "C": 0.4}
    four = [*TOUCHES, (T - 2 * DAY, "D")]  # A, B, D, C: the middle two share 20%
    assert _round(attribute("position_based", four, T, WEEK)) == {"A": 0.4, "B": 0.1, "D": 0.1, "C": 0.4}
    two = [(T - DAY, "A"), (T - 2 * DAY, "B")]
    assert attribute("position_based", two, T, WEEK) == {"B": 0.5, "A": 0.5}


def test_repeated_keys_add_up_and_shares_sum_to_one() -> None:
    touches = [(T - 3 * DAY, "A"), (T - 2 * DAY, "B"), (T - DAY, "A")]
    for model in MODELS:
        shares = attribute(model, touches, T, WEEK)
        assert sum(shares.values()) == pytest.approx(1.0)
    assert _round(attribute("linear", touches, T, WEEK)) == {"A": 0.6667, "B": 0.3333}


def test_nothing_in_the_window_and_touches_after_the_conversion() -> None:
    assert attribute("linear", [(T - 8 * DAY, "A"), (T + DAY, "B")], T, WEEK) == {}


def test_unknown_model_is_refused() -> None:
    with pytest.raises(UnknownModel, match="first_touch"):
        attribute("u_shaped", TOUCHES, T, WEEK)
