"""The stage funnel over time (domain/scoring/funnel): periods, totals, the flow ratio, ranges."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.domain.scoring.funnel import (
    FunnelRangeError,
    StageMove,
    check_range,
    funnel_over_time,
    moves_of_crossings,
    period_start,
    period_starts,
)

STAGES = ["lead", "mql", "sql"]
START = date(2026, 1, 1)

moves = st.builds(
    StageMove,
    day=st.dates(min_value=START, max_value=START + timedelta(days=400)),
    from_stage=st.sampled_from([None, *STAGES]),
    to_stage=st.sampled_from(STAGES),
    direction=st.sampled_from(["up", "down"]),
    moved=st.integers(min_value=1, max_value=50),
)


@given(st.lists(moves, max_size=40), st.sampled_from(["day", "week", "month"]),
       st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=200))
def test_every_period_is_there_and_entries_add_up(ms: list[StageMove], over: str, a: int, span: int) -> None:
    since = START + timedelta(days=a)
    until = since + timedelta(days=span)
    period = check_range(since, until, over)
    f = funnel_over_time(STAGES, ms, since, until, period)
    starts = [date.fromisoformat(p["start"]) for p in f["periods"]]
    assert starts == period_starts(since, until, period) and starts == sorted(set(starts))
    assert starts[0] <= since and all(period_start(s, period) == s for s in starts)
    for s in STAGES:
        want = sum(m.moved for m in ms if m.direction == "up" and m.to_stage == s and since <= m.day <= until)
        assert f["entered"][s] == want == sum(p["stages"][STAGES.index(s)]["entered"] for p in f["periods"])
    for p in f["periods"]:
        for i, r in enumerate(p["stages"]):
            if r["to_next"] is not None:
                assert r["entered"] > 0 and i + 1 < len(STAGES)
                assert r["to_next"] == round(p["stages"][i + 1]["entered"] / r["entered"], 4)


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    assert period_start(date(2026, 3, 5), "week") == date(2026, 3, 2)  # a Thursday
    assert period_start(date(2026, 3, 31), "month") == date(2026, 3, 1)
    assert period_starts(date(2026, 1, 31), date(2026, 3, 1), "month") == [date(2026, 1, 1), date(2026, 2, 1),
                                                                          date(2026, 3, 1)]


def test_demotions_count_against_the_stage_left_and_crossings_add_up() -> None:
    day = date(2026, 3, 2)
    ms = moves_of_crossings([(day, None, "mql", "up"), (day, None, "mql", "up"), (day, "sql", "mql", "down")])
    assert ms == [StageMove(day, None, "mql", "up", 2), StageMove(day, "sql", "mql", "down", 1)]
    f = funnel_over_time(STAGES, ms, day, day, "day")
    assert [(r["stage"], r["entered"], r["demoted"]) for r in f["periods"][0]["stages"]] == [
        ("lead", 0, 0), ("mql", 2, 0), ("sql", 0, 1)
    ]
    assert f["periods"][0]["stages"][1]["to_next"] == 0.0


@pytest.mark.parametrize(
    ("since", "until", "over", "field"),
    [
        (date(2026, 3, 2), date(2026, 3, 1), "week", "to"),
        (date(2000, 1, 1), date(2026, 3, 1), "month", "from"),
        (date(2026, 1, 1), date(2026, 3, 1), "fortnight", "over"),
        (date(2024, 1, 1), date(2026, 3, 1), "day", "over"),  # 790 days: too many periods of a day
    ],
)
def test_bad_ranges_name_their_field(since: date, until: date, over: str, field: str) -> None:
    with pytest.raises(FunnelRangeError) as err:
        check_range(since, until, over)
    assert err.value.field == field
