"""When the daily direct-mail print batch is due: pure (the worker passes the time in).

The batch of a local day is built once, at the configured local time of that day (e.g.
``17:00`` Europe/London); letters are filed under the local day they were rendered on.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo


def parse_batch_time(text: str) -> time:
    """``"17:00"`` -> 17:00; anything else raises ValueError (a setting read at start-up)."""
    hours, sep, minutes = text.partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"direct-mail batch time {text!r}: write HH:MM (e.g. 17:00)")
    return time(int(hours), int(minutes))


def local_day(now: datetime, tz: ZoneInfo) -> date:
    """The day ``now`` falls on in ``tz`` (a letter's batch day)."""
    return now.astimezone(tz).date()


def batch_due(now: datetime, at: time, tz: ZoneInfo) -> date | None:
    """The local day whose batch is due at ``now`` (its batch time has come), else None."""
    local = now.astimezone(tz)
    return local.date() if local.time() >= at else None
