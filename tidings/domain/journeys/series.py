"""The ``repeat`` step: a recurring series planned from an anchor date.

Occurrence ``k`` (1, 2, ...) is due at ``anchor + k·period`` on the local calendar (the anchor's
local time of day kept across DST; months clamp to the month's last day). The enrolment keeps,
per repeat step, the last occurrence handled (``done``) and whether the series is paused, so a
reschedule (a signal changing the anchor variable) re-plans every later occurrence from the new
anchor with none doubled: the next one is always ``done + 1``. Occurrences already past when
(re-)planned are skipped, with a trace entry. Signals ``skip-one``, ``pause`` and ``resume``
steer a waiting series. Pure.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta
from typing import Any

from tidings.domain.journeys.dates import resolve
from tidings.domain.journeys.model import DateSpec, Step
from tidings.domain.journeys.run import Run
from tidings.domain.journeys.timing import contact_zone, iso, local_at, parse_duration
from tidings.domain.snapshot import ContactSnapshot
from tidings.domain.statuses import EnrolmentStatus

PERIOD_RE = re.compile(r"^\s*(\d+)\s*(d|w|mo)\s*$")
SERIES_SIGNALS = ("skip-one", "pause", "resume")


def parse_period(text: Any) -> tuple[int, str]:
    """``14d`` / ``2w`` / ``1mo`` -> (14, "d"); a period of 0 or another shape raises ValueError."""
    m = PERIOD_RE.match(str(text)) if isinstance(text, str | int) else None
    if not m:
        raise ValueError(f"every: {text!r}: write a number and d, w or mo (e.g. 14d, 2w, 1mo)")
    n, unit = int(m.group(1)), m.group(2)
    if n < 1:
        raise ValueError("every: a repeat's period must be at least 1")
    return n, unit


def add_period(day: date, n: int, unit: str) -> date:
    if unit == "d":
        return day + timedelta(days=n)
    if unit == "w":
        return day + timedelta(weeks=n)
    months = day.year * 12 + day.month - 1 + n
    year, month = divmod(months, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def occurrence(anchor: datetime, k: int, period: tuple[int, str], tz: Any) -> datetime:
    """Occurrence ``k`` of a series anchored at ``anchor``, on the local calendar of ``tz``."""
    local = anchor.astimezone(tz)
    day = add_period(local.date(), period[0] * k, period[1])
    return local_at(day, local.time().replace(tzinfo=None), tz)


def _spec(raw: dict[str, Any]) -> DateSpec:
    offset = parse_duration(raw.get("offset", 0))
    return DateSpec(attribute=raw.get("attribute"), variable=raw.get("variable"), offset=offset, at=raw.get("at"))


#: a series whose ``lasts`` names no usable number ends at once (``series_done``, "no length").
NO_LENGTH = date.min


def last_day(step: Step, anchor: datetime, contact: ContactSnapshot, variables: dict[str, Any], tz: Any) -> date | None:
    """The last day ``lasts`` allows (anchor's local day + N days/weeks/months, N read from a
    variable or attribute); None without ``lasts``; ``NO_LENGTH`` when N is missing or not a
    whole number >= 0."""
    lasts = step.config.get("lasts")
    if not lasts:
        return None
    name = lasts.get("variable") or lasts.get("attribute", "")
    raw = variables.get(name) if lasts.get("variable") else contact.attributes.get(name)
    if isinstance(raw, bool):
        return NO_LENGTH
    try:
        n = int(raw) if isinstance(raw, int | str) or (isinstance(raw, float) and raw.is_integer()) else -1
    except ValueError:
        return NO_LENGTH
    return NO_LENGTH if n < 0 else add_period(anchor.astimezone(tz).date(), n, str(lasts["unit"]))


def _within(step: Step, k: int, due: datetime, end: date | None = None) -> bool:
    count, until = step.config.get("count"), step.config.get("until")
    if count is not None and k > int(count):
        return False
    if end is not None and due.date() > end:
        return False
    return until is None or due.date() <= date.fromisoformat(str(until))


def plan(run: Run, step: Step) -> str | None:
    """Wait for the next occurrence (``done + 1``), skipping past ones; the ``done`` edge when
    the series is over (or has no anchor). Re-plans when the enrolment already waits on it."""
    replanning = run.status == EnrolmentStatus.WAITING
    previous = run.state.waiting.until if replanning and run.state.waiting else None
    st = dict(run.state.series.get(step.id) or {"done": 0, "paused": False})
    if st.get("paused"):
        run.state.series[step.id] = st
        run.wait("series", step.id, None, paused=True, done=st["done"])
        return None
    tz = contact_zone(run.contact, run.doc.settings.timezone)
    found = resolve(_spec(step.config["anchor"]), run.contact, run.state.variables, run.now, run.doc.settings.timezone)
    period = parse_period(step.config["every"])
    k, skipped, due = int(st["done"]) + 1, [], None
    end = last_day(step, found[0], run.contact, run.state.variables, tz) if found is not None else None
    if found is not None and end is not NO_LENGTH:
        while True:
            due = occurrence(found[0], k, period, tz)
            if not _within(step, k, due, end) or due > run.now:
                break
            skipped.append({"occurrence": k, "at": iso(due)})
            k += 1
    if skipped:
        st["done"] = skipped[-1]["occurrence"]
        run.note(step.id, "series_skipped", reason="occurrence passed", occurrences=skipped)
    run.state.series[step.id] = st
    if found is None or end is NO_LENGTH or due is None or not _within(step, k, due, end):
        reason = "no anchor date" if found is None else "no length" if end is NO_LENGTH else "series over"
        detail = {"reason": reason, "done": st["done"]}
        if replanning:
            run.resume()
            run.continue_after(step.id, "done", **detail)
            return None
        run.note(step.id, "series_done", **detail)
        return step.edges["done"]
    st["next"] = k
    run.wait("series", step.id, due, occurrence=k, anchor=iso(found[0]), previous=previous)
    return None


def execute_repeat(run: Run, step: Step, visit: int) -> str | None:
    return plan(run, step)


def occurrence_due(run: Run, step: Step) -> None:
    """The timer of occurrence ``next`` fired: it is done; run the ``each`` branch."""
    st = dict(run.state.series.get(step.id) or {"done": 0})
    k = int(st.get("next", int(st.get("done", 0)) + 1))
    st["done"] = k
    run.state.series[step.id] = st
    run.state.variables["occurrence"] = k  # what the ``each`` branch's messages print (vars.occurrence)
    run.resume()
    run.continue_after(step.id, "each", occurrence=k)


def steer(run: Run, step: Step, signal: str) -> None:
    """``skip-one`` (the next occurrence is dropped), ``pause``, ``resume`` (past ones skipped)."""
    st = dict(run.state.series.get(step.id) or {"done": 0, "paused": False})
    if signal == "skip-one":
        st["done"] = int(st.get("next", int(st["done"]) + 1))
        run.note(step.id, "series_skip_one", occurrence=st["done"])
    elif signal == "pause":
        st["paused"] = True
    else:
        st["paused"] = False
    run.state.series[step.id] = st
    plan(run, step)


def upcoming(
    step: Step,
    state: dict[str, Any] | None,
    contact: ContactSnapshot,
    variables: dict[str, Any],
    now: datetime,
    default_tz: str,
    limit: int = 6,
) -> list[datetime]:
    """The next ``limit`` occurrences of a series still to come, as :func:`plan` will wait for
    them (from ``next``, or ``done + 1``; past ones skipped); none when paused or unanchored.
    What the self-service page shows after a reschedule."""
    st = state or {"done": 0}
    if st.get("paused"):
        return []
    found = resolve(_spec(step.config["anchor"]), contact, variables, now, default_tz)
    if found is None:
        return []
    tz, period = contact_zone(contact, default_tz), parse_period(step.config["every"])
    end = last_day(step, found[0], contact, variables, tz)
    if end is NO_LENGTH:
        return []
    first = int(st.get("next", int(st.get("done", 0)) + 1))
    out: list[datetime] = []
    for k in range(first, first + 10_000):  # bounded: an anchor years back skips at most this many
        due = occurrence(found[0], k, period, tz)
        if len(out) >= limit or not _within(step, k, due, end):
            break
        if due > now:
            out.append(due)
    return out
