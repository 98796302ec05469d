"""The daily direct-mail batch (issue 18, point 8): due at the configured local time, built once
per local day by the worker's scheduler, on the (test) clock it is given."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.channels.direct_mail import BatchFolder
from tidings.channels.direct_mail_schedule import DirectMailScheduler
from tidings.clock import ManualClock
from tidings.domain.print_schedule import batch_due, local_day, parse_batch_time

LONDON = ZoneInfo("Europe/London")


@given(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)),
       st.times())
def test_due_exactly_from_the_local_batch_time_of_the_local_day(now: datetime, at: time) -> None:
    local = now.astimezone(LONDON)
    due = batch_due(now, at.replace(tzinfo=None), LONDON)
    assert due == (local.date() if local.time() >= at.replace(tzinfo=None) else None)
    assert local_day(now, LONDON) == local.date()


def test_bad_batch_times_are_refused() -> None:
    assert parse_batch_time("17:00") == time(17, 0)
    for bad in ("5pm", "17", "17:0", "25:00"):
        with pytest.raises(ValueError):
            parse_batch_time(bad)


def _letter(folder: BatchFolder, day: date, ref: str) -> None:
    folder.write_letter(day, ref, b"%PDF-1.4 test", {"ref": ref, "template": "t", "address": {"name": ref}})


def test_the_scheduler_builds_each_local_day_once_on_the_test_clock(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 6, 1, 15, 0, tzinfo=UTC))  # 16:00 in London (BST)
    folder = BatchFolder(tmp_path)
    sched = DirectMailScheduler(folder, clock, "17:00", "Europe/London")
    _letter(folder, date(2026, 6, 1), "a")
    assert sched.run_once() is None, "before 17:00 London"
    clock.advance(timedelta(hours=1))  # 17:00 London
    built = sched.run_once()
    assert built is not None and built.letters == 1
    manifest = json.loads((tmp_path / "2026-06-01" / "manifest.json").read_text())
    assert manifest["built_at"] == "2026-06-01T16:00:00+00:00"
    _letter(folder, date(2026, 6, 1), "late")
    clock.advance(timedelta(hours=2))
    assert sched.run_once() is None, "never twice for one day"
    again = DirectMailScheduler(folder, clock, "17:00", "Europe/London")  # a restarted worker
    assert again.run_once() is None
    clock.advance(timedelta(hours=22))  # 17:00 London the next day
    _letter(folder, date(2026, 6, 2), "b")
    nxt = sched.run_once()
    assert nxt is not None and nxt.letters == 1 and nxt.folder.name == "2026-06-02"
