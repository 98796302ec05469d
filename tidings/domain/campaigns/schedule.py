"""When a campaign starts, and when each contact's message goes.

- ``now``: at the moment the campaign is scheduled; ``at``: at that instant (not in the past).
- ``local``: at ``date time`` on each contact's wall clock, in the contact's time zone (the
  account default, ``TIDINGS_DEFAULT_TIMEZONE``, for contacts without one). The campaign starts
  (its audience is frozen) at the first instant that wall-clock time occurs anywhere (UTC+14);
  a contact whose local time has already passed at the start gets the message at the start.
  Across DST, a time that does not exist that day (the spring gap) lands as many minutes later
  as the gap is long (02:30 -> 03:30); a time that occurs twice (autumn) is the first one.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tidings.domain.campaigns.model import CampaignError, Schedule

#: the earliest zone on Earth (Line Islands): a local time occurs there first.
EARLIEST_OFFSET = timedelta(hours=14)


def local_instant(date: str, clock: str, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``date clock`` in ``tz`` (gap: later by the gap; repeat: first)."""
    naive = datetime.combine(datetime.strptime(date, "%Y-%m-%d").date(), time.fromisoformat(clock))
    aware = naive.replace(tzinfo=tz, fold=0)
    return aware.astimezone(UTC)


def start_instant(schedule: Schedule, now: datetime) -> datetime:
    """When the campaign starts sending (audience frozen), given it is scheduled at ``now``."""
    if schedule.kind == "at":
        assert schedule.at is not None
        if schedule.at < now:
            raise CampaignError([("schedule.at", f"{schedule.at.isoformat()} is in the past")])
        return schedule.at
    if schedule.kind == "local":
        assert schedule.date is not None and schedule.time is not None
        naive = datetime.combine(datetime.strptime(schedule.date, "%Y-%m-%d").date(), time.fromisoformat(schedule.time))
        first = naive.replace(tzinfo=UTC) - EARLIEST_OFFSET
        latest = first + EARLIEST_OFFSET + timedelta(hours=12 + 2)  # UTC-12, and a DST hour or two
        if latest < now:
            raise CampaignError([("schedule.date", f"{schedule.date} {schedule.time} has passed in every time zone")])
        return max(first, now)
    return now


def send_time(schedule: Schedule, start: datetime, tz: ZoneInfo) -> datetime:
    """When one contact's message goes (before the throttle)."""
    if schedule.kind == "local":
        assert schedule.date is not None and schedule.time is not None
        return max(start, local_instant(schedule.date, schedule.time, tz))
    return start
