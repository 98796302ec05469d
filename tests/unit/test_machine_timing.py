"""Durations and local time: windows, quiet hours and DST in the contact's timezone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from tidings.domain.journeys.timing import (
    allowed_now,
    next_local_time,
    next_opening,
    parse_clock,
    parse_days,
    parse_duration,
    zone,
)


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1h30m", timedelta(minutes=90)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(weeks=1)),
        ("-2d", timedelta(days=-2)),
        ("3 days", timedelta(days=3)),
        ("90 minutes", timedelta(minutes=90)),
        (45, timedelta(seconds=45)),
    ],
)
def test_durations(text, delta):
    assert parse_duration(text) == delta


@pytest.mark.parametrize("bad", ["soon", "3x", "", "d3", True, None, [1]])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_clock_and_days():
    assert parse_clock("9:05") == time(9, 5) and parse_clock("24:00") is None
    for bad in ("25:00", "9", 540, "12:60"):
        with pytest.raises(ValueError):
            parse_clock(bad)
    assert parse_days(["Mon", "friday"]) == frozenset({0, 4})
    with pytest.raises(ValueError):
        parse_days(["funday"])


def test_unknown_timezone_falls_back_to_default():
    assert str(zone("Not/AZone", "Europe/Paris")) == "Europe/Paris"
    assert str(zone(None)) == "UTC"


def test_next_local_time_across_dst_start():
    paris = zone("Europe/Paris")
    # DST starts 29 March 2026: 09:00 Paris is 08:00 UTC before, 07:00 UTC after
    before = datetime(2026, 3, 28, 9, 0, tzinfo=UTC)
    assert next_local_time(before, paris, time(9, 0)) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    # a wall time in the gap (02:30 does not exist that night) still gives a real instant after it
    gap = next_local_time(datetime(2026, 3, 29, 0, 0, tzinfo=UTC), paris, time(2, 30))
    assert gap.astimezone(paris).hour == 3


def test_window_and_quiet_hours():
    tz = zone("UTC")
    window = (frozenset({0, 1, 2, 3, 4}), "09:00", "17:00")
    monday_8 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    assert not allowed_now(monday_8, tz, window, None)
    assert next_opening(monday_8, tz, window, None) == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    friday_17 = datetime(2026, 1, 9, 17, 0, tzinfo=UTC)
    assert next_opening(friday_17, tz, window, None) == datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
    # window 09-17 with quiet hours until 10: the first allowed minute is 10:00
    assert next_opening(monday_8, tz, window, ("20:00", "10:00")) == datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    noon = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    assert next_opening(noon, tz, window, None) == noon
    with pytest.raises(ValueError):
        next_opening(noon, tz, (frozenset({0}), "09:00", "10:00"), ("08:00", "11:00"))
