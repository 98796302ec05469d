"""Durations and local time: send windows, quiet hours, "9:00 in the contact's timezone".

All inputs and outputs are aware UTC datetimes; local computations go through zoneinfo so
daylight-saving changes land on the right wall-clock time.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tidings.domain.snapshot import ContactSnapshot

#: due time of a timer held by a paused journey (its real due time is kept in the payload
#: under ``PARKED_KEY``); outbox rows of a paused journey wait with this ``next_attempt_at``.
PARKED_AT = datetime(9000, 1, 1, tzinfo=UTC)
PARKED_KEY = "_held_due_at"

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*([+-])?\s*((?:\d+(?:\.\d+)?\s*[smhdw]\s*)+)$")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_WORDS = {
    "second": "s",
    "seconds": "s",
    "minute": "m",
    "minutes": "m",
    "min": "m",
    "hour": "h",
    "hours": "h",
    "day": "d",
    "days": "d",
    "week": "w",
    "weeks": "w",
}
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_duration(value: object) -> timedelta:
    """``"2d"``, ``"1h30m"``, ``"-2d"``, ``"3 days"``, ``"90 minutes"`` or seconds as a number."""
    if isinstance(value, bool):
        raise ValueError(f"bad duration {value!r}")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if not isinstance(value, str):
        raise ValueError(f"bad duration {value!r}")
    text = value.strip().lower()
    words = re.fullmatch(r"([+-])?\s*(\d+(?:\.\d+)?)\s+([a-z]+)", text)
    if words and words.group(3) in _WORDS:
        text = f"{words.group(1) or ''}{words.group(2)}{_WORDS[words.group(3)]}"
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"bad duration {value!r} (use e.g. 30m, 2h, 3d, 1w, 1h30m)")
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(m.group(2)))
    return timedelta(seconds=-seconds if m.group(1) == "-" else seconds)


def parse_clock(value: object) -> time | None:
    """``"09:00"`` -> time(9, 0); ``"24:00"`` -> None (end of day)."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        raise ValueError(f"bad time of day {value!r} (use HH:MM)")
    h, m = (int(x) for x in value.strip().split(":"))
    if (h, m) == (24, 0):
        return None
    if h > 23 or m > 59:
        raise ValueError(f"bad time of day {value!r}")
    return time(h, m)


def parse_days(value: object) -> frozenset[int]:
    if value is None:
        return frozenset(range(7))
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError(f"bad days {value!r}")
    out: set[int] = set()
    for item in items:
        name = str(item).strip().lower()[:3]
        if name not in DAY_NAMES:
            raise ValueError(f"bad day {item!r} (use mon..sun)")
        out.add(DAY_NAMES.index(name))
    return frozenset(out)


def zone(name: str | None, default: str = "UTC") -> ZoneInfo:
    for candidate in (name, default, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def contact_zone(contact: ContactSnapshot, default: str = "UTC") -> ZoneInfo:
    return zone(contact.timezone, default)


def local_at(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``at`` on ``day`` in ``tz`` (gaps move forward)."""
    local = datetime.combine(day, at, tzinfo=tz)
    utc = local.astimezone(UTC)
    # a wall time inside a DST gap does not exist: normalise through UTC (lands after the gap)
    return utc


def next_local_time(
    now: datetime, tz: ZoneInfo, at: time, days: frozenset[int] = frozenset(range(7))
) -> datetime:
    """The first instant >= now whose local time is ``at`` on one of ``days``."""
    today = now.astimezone(tz).date()
    for i in range(0, 8):
        day = today + timedelta(days=i)
        if day.weekday() not in days:
            continue
        candidate = local_at(day, at, tz)
        if candidate >= now:
            return candidate
    raise ValueError("no day allowed")  # pragma: no cover - days is never empty after validation


def _minutes(t: time | None) -> int:
    return 24 * 60 if t is None else t.hour * 60 + t.minute


def allowed_now(
    now: datetime,
    tz: ZoneInfo,
    window: tuple[frozenset[int], str, str] | None,
    quiet: tuple[str, str] | None,
) -> bool:
    """True when ``now`` lies inside the send window and outside the quiet hours."""
    local = now.astimezone(tz)
    minute = local.hour * 60 + local.minute
    if window is not None:
        days, start, end = window
        if local.weekday() not in days:
            return False
        if not (_minutes(parse_clock(start)) <= minute < _minutes(parse_clock(end))):
            return False
    if quiet is not None:
        qs, qe = _minutes(parse_clock(quiet[0])), _minutes(parse_clock(quiet[1]))
        inside = qs <= minute < qe if qs <= qe else (minute >= qs or minute < qe)
        if inside:
            return False
    return True


def next_opening(
    now: datetime,
    tz: ZoneInfo,
    window: tuple[frozenset[int], str, str] | None,
    quiet: tuple[str, str] | None,
) -> datetime:
    """The first instant >= now allowed by the window and quiet hours (minute resolution)."""
    if allowed_now(now, tz, window, quiet):
        return now
    # candidate openings: window starts and quiet-hour ends over the next 8 days
    starts: list[time] = []
    if window is not None:
        s = parse_clock(window[1])
        starts.append(s or time(0))
    if quiet is not None:
        e = parse_clock(quiet[1])
        starts.append(e or time(0))
    starts.append(time(0))
    today = now.astimezone(tz).date()
    candidates = sorted(local_at(today + timedelta(days=i), t, tz) for i in range(0, 9) for t in starts)
    for c in candidates:
        if c > now and allowed_now(c, tz, window, quiet):
            return c
    raise ValueError("send window and quiet hours leave no time to send")


def to_utc(value: object, tz: ZoneInfo, at: time | None = None) -> datetime | None:
    """A date attribute as an instant: ISO datetime (naive = local), or a date at ``at`` local."""
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        return local_at(value, at or time(0), tz)
    elif isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return local_at(date.fromisoformat(text), at or time(0), tz)
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    if at is not None:
        return local_at(dt.astimezone(tz).date(), at, tz)
    return dt.astimezone(UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


def from_iso(text: str) -> datetime:
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
