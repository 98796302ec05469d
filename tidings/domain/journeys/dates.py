"""Resolve a :class:`DateSpec` (attribute, variable or event date +/- offset, at a local time,
maybe yearly) to an instant, for date-relative triggers and ``wait_until`` steps."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from tidings.domain.journeys.model import DateSpec
from tidings.domain.journeys.timing import contact_zone, local_at, parse_clock, to_utc
from tidings.domain.snapshot import STANDARD_FIELDS, ContactSnapshot, EventRecord


def _path(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, Mapping) or part not in obj:
            return None
        obj = obj[part]
    return obj


def base_value(spec: DateSpec, contact: ContactSnapshot, variables: Mapping[str, Any]) -> tuple[Any, Any]:
    """(the raw date value, a reference naming where it came from: event id or value)."""
    if spec.attribute:
        name = spec.attribute
        if name in STANDARD_FIELDS:
            value = contact.field_value(name)
        else:
            value = _path(contact.attributes, name.removeprefix("attributes."))
        return value, value
    if spec.variable:
        value = _path(variables, spec.variable)
        return value, value
    event = latest_event(contact, spec.event or "")
    if event is None:
        return None, None
    if spec.property:
        return _path(event.properties, spec.property.removeprefix("properties.")), event.id
    return event.occurred_at, event.id


def latest_event(contact: ContactSnapshot, name: str) -> EventRecord | None:
    for event in reversed(contact.events):
        if event.name == name:
            return event
    return None


def _as_date(value: Any, tz: Any) -> tuple[date, time | None] | None:
    """A date value as (local date, local time or None when it is a bare date)."""
    if isinstance(value, datetime):
        local = (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(tz)
        return local.date(), local.time().replace(tzinfo=None)
    if isinstance(value, date):
        return value, None
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return date.fromisoformat(text), None
            if len(text) == 5 and text[2] == "-":  # "MM-DD" (a birthday without the year)
                return date.fromisoformat(f"2000-{text}"), None
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        local = (dt if dt.tzinfo else dt.replace(tzinfo=tz)).astimezone(tz)
        return local.date(), local.time()
    return None


def _anniversary(d: date, year: int) -> date:
    try:
        return d.replace(year=year)
    except ValueError:  # 29 February in a common year: the 28th
        return d.replace(year=year, day=28)


def resolve(
    spec: DateSpec,
    contact: ContactSnapshot,
    variables: Mapping[str, Any],
    now: datetime,
    default_tz: str = "UTC",
) -> tuple[datetime, str] | None:
    """The instant the spec names and an occurrence key; None when the date is missing/invalid.

    Yearly specs give the next anniversary strictly after ``now``; others may lie in the past.
    """
    tz = contact_zone(contact, default_tz)
    value, ref = base_value(spec, contact, variables)
    if value is None:
        return None
    at = parse_clock(spec.at) if spec.at else None
    if not spec.yearly:
        if at is None:
            instant = to_utc(value, tz)
            if instant is None:
                return None
            return instant + spec.offset, str(ref)
        parsed = _as_date(value, tz)
        if parsed is None:
            return None
        day = parsed[0] + timedelta(days=spec.offset.days)
        rest = spec.offset - timedelta(days=spec.offset.days)
        return local_at(day, at, tz) + rest, str(ref)
    parsed = _as_date(value, tz)
    if parsed is None:
        return None
    d, t = parsed
    clock = at or t or time(0)
    local_year = now.astimezone(tz).year
    for year in range(local_year - 1, local_year + 3):
        anniversary = _anniversary(d, year)
        instant = local_at(anniversary, clock, tz) + spec.offset
        if instant > now:
            return instant, anniversary.isoformat()
    return None
