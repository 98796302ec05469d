"""The pure core of campaigns: validation, states, local-time schedule, throttle, A/B split."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain.campaigns import abtest, schedule, throttle
from tidings.domain.campaigns.model import CampaignError, Schedule, StateError, Throttle, check_transition, parse_spec

BASE = {"key": "spring", "segment": "all", "template": "news"}
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_every_problem_is_reported_with_its_field() -> None:
    with pytest.raises(CampaignError) as e:
        parse_spec({"key": "Bad Key", "channel": "fax", "subjects": ["a", "a"], "throttle": {"max": 0},
                    "schedule": {"kind": "local", "date": "2026-13-01", "time": "25:00"}})
    fields = {p for p, _ in e.value.problems}
    assert {"key", "segment", "template", "channel", "subjects", "throttle.max", "schedule.date",
            "schedule.time"} <= fields


def test_ab_settings_are_validated_only_with_two_subjects() -> None:
    spec = parse_spec({**BASE, "subjects": ["Hi"], "ab": {"test_share": 5}})
    assert spec.ab is None and not spec.is_ab
    with pytest.raises(CampaignError) as e:
        parse_spec({**BASE, "subjects": ["Hi", "Hello"], "ab": {"test_share": 5, "metric": "revenue"}})
    assert {p for p, _ in e.value.problems} == {"ab.test_share", "ab.metric"}


def test_state_machine() -> None:
    assert check_transition("approve", "draft") == "approved"
    assert check_transition("edit", "approved") == "draft"  # editing drops the approval
    assert check_transition("schedule", "approved") == "scheduled"
    for action, state in [("schedule", "draft"), ("approve", "sent"), ("edit", "sending"), ("cancel", "sent")]:
        with pytest.raises(StateError):
            check_transition(action, state)


ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kathmandu", "Pacific/Kiritimati",
         "Pacific/Pago_Pago", "UTC", "America/Sao_Paulo"]


@settings(max_examples=200, deadline=None)
@given(
    day=st.dates(min_value=datetime(2026, 1, 1).date(), max_value=datetime(2027, 12, 31).date()),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 45]),
    zone=st.sampled_from(ZONES),
)
def test_local_time_lands_at_that_wall_clock_time_across_dst(day: object, hour: int, minute: int, zone: str) -> None:
    tz = ZoneInfo(zone)
    at = schedule.local_instant(str(day), f"{hour:02d}:{minute:02d}", tz)
    assert at.tzinfo is not None
    local = at.astimezone(tz)
    wall = datetime.combine(day, datetime.min.time()).replace(hour=hour, minute=minute)  # type: ignore[arg-type]
    if local.replace(tzinfo=None) != wall:  # only in a spring gap: later by the gap, never earlier
        gap = local.replace(tzinfo=None) - wall
        assert timedelta(0) < gap <= timedelta(hours=1)
    # the campaign starts no later than the first zone reaches that time
    start = schedule.start_instant(Schedule("local", date=str(day), time=f"{hour:02d}:{minute:02d}"),
                                   datetime(2025, 1, 1, tzinfo=UTC))
    assert start <= at


def test_dst_examples() -> None:
    ny = ZoneInfo("America/New_York")
    assert schedule.local_instant("2026-03-07", "09:00", ny) == datetime(2026, 3, 7, 14, 0, tzinfo=UTC)  # EST
    assert schedule.local_instant("2026-03-08", "09:00", ny) == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)  # EDT
    assert schedule.local_instant("2026-03-08", "02:30", ny) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # gap
    assert schedule.local_instant("2026-11-01", "01:30", ny) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # first


def test_a_local_time_already_passed_is_sent_at_the_start() -> None:
    s = Schedule("local", date="2026-03-01", time="09:00")
    assert schedule.send_time(s, T0, ZoneInfo("Europe/Berlin")) == T0  # 09:00 Berlin was 08:00 UTC
    assert schedule.send_time(s, T0, ZoneInfo("America/New_York")) == datetime(2026, 3, 1, 14, tzinfo=UTC)
    with pytest.raises(CampaignError):
        schedule.start_instant(Schedule("at", at=T0 - timedelta(minutes=1)), T0)


@settings(max_examples=200, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 7200), min_size=0, max_size=300),
    rate=st.integers(1, 50),
    per=st.sampled_from(["minute", "hour"]),
    previous=st.lists(st.integers(-3600, 0), max_size=60),
)
def test_throttle_never_exceeds_the_rate(offsets: list[int], rate: int, per: str, previous: list[int]) -> None:
    t = Throttle(rate, per)
    times = sorted(T0 + timedelta(seconds=o) for o in offsets)
    prev = sorted(T0 + timedelta(seconds=o) for o in previous)
    slots = throttle.plan(times, t, prev)
    assert len(slots) == len(times)
    assert all(s >= x for s, x in zip(slots, times, strict=True))  # never early
    assert slots == sorted(slots)
    allp = [*prev, *slots]  # previous slots are all before the new ones
    window = timedelta(seconds=t.seconds)
    for s in slots:  # the window ending at any new message holds at most `rate` messages
        assert sum(1 for x in allp if s - window < x <= s) <= rate


def test_throttle_spreads_a_burst() -> None:
    slots = throttle.plan([T0] * 5, Throttle(2, "minute"))
    assert slots == [T0, T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    assert throttle.plan([T0] * 3, None) == [T0] * 3


@settings(max_examples=150, deadline=None)
@given(
    ids=st.lists(st.integers(1, 10**9), unique=True, max_size=400),
    subjects=st.integers(2, 5),
    share=st.floats(0.01, 1.0),
)
def test_every_audience_member_gets_exactly_one_variant_or_waits(ids: list[int], subjects: int, share: float) -> None:
    got = abtest.assign("spring", ids, subjects, share)
    assert set(got) == set(ids)  # each member exactly once
    test = [v for v in got.values() if v is not None]
    sizes = [test.count(n) for n in abtest.variant_names(subjects)]
    assert max(sizes, default=0) - min(sizes, default=0) <= 1  # split evenly
    if ids:
        assert len(test) == min(len(ids), max(subjects, round(share * len(ids))))
    assert abtest.assign("spring", list(reversed(ids)), subjects, share) == got  # stable


def test_winner_uses_the_experiment_statistics() -> None:
    clear = abtest.choose({"A": (1000, 100), "B": (1000, 180)}, "opens")
    assert clear.winner == "B" and clear.clear and "B" in clear.verdict
    close = abtest.choose({"A": (50, 10), "B": (50, 11)}, "clicks")
    assert not close.clear and close.winner in ("A", "B") and "rest gets" in close.verdict
    empty = abtest.choose({"A": (0, 0), "B": (0, 0)}, "opens")
    assert empty.winner == "A" and not empty.clear
