"""The content calendar: the planned publish and review dates of the cells, as entries, an
iCalendar document (RFC 5545, built with the ``icalendar`` library) and CSV rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import icalendar

from tidings.domain.contacts import neutralise_cell
from tidings.domain.plan.model import Cell, PlanDoc

KINDS = ("publish", "review")


@dataclass(frozen=True, slots=True)
class CalendarEntry:
    day: date
    kind: str  # publish | review
    persona: str
    stage: str
    question: str
    title: str
    owner: str | None
    channel: str | None
    templates: tuple[str, ...]
    assets: tuple[str, ...]

    @property
    def uid(self) -> str:
        """Stable across feeds, so a calendar app updates the event instead of adding one."""
        return f"{self.kind}-{self.persona}-{self.stage}-{self.question}@tidings.content-plan"

    def as_doc(self) -> dict[str, object]:
        return {"date": self.day.isoformat(), "kind": self.kind, "persona": self.persona, "stage": self.stage,
                "question": self.question, "title": self.title, "owner": self.owner, "channel": self.channel,
                "templates": list(self.templates), "assets": list(self.assets)}


def calendar_entries(plan: PlanDoc, cells: Iterable[Cell], *, since: date | None = None,
                     until: date | None = None) -> list[CalendarEntry]:
    """Every planned date of the plan's cells within ``[since, until]``, by date then kind."""
    names: Mapping[str, str] = {i.key: i.name for i in (*plan.personas, *plan.stages, *plan.questions)}
    out: list[CalendarEntry] = []
    for c in cells:
        if not plan.has(*c.coordinates):
            continue
        for kind, day in (("publish", c.publish_on), ("review", c.review_on)):
            if day is None or (since and day < since) or (until and day > until):
                continue
            verb = "Publish" if kind == "publish" else "Review"
            title = f"{verb}: {names[c.persona]} / {names[c.stage]} / {names[c.question]}"
            out.append(CalendarEntry(day, kind, c.persona, c.stage, c.question, title, c.owner, c.channel,
                                     c.templates, c.assets))
    return sorted(out, key=lambda e: (e.day, KINDS.index(e.kind), e.persona, e.stage, e.question))


def to_ical(entries: Iterable[CalendarEntry], stamp: datetime, *, name: str = "Tidings content plan") -> bytes:
    """An all-day VEVENT per entry; ``stamp`` (the DTSTAMP) is the time the feed was made."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Tidings//content plan//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    for e in entries:
        ev = icalendar.Event()
        ev.add("uid", e.uid)
        ev.add("dtstamp", stamp)
        ev.add("dtstart", e.day)
        ev.add("dtend", e.day + timedelta(days=1))
        ev.add("summary", e.title)
        lines = [f"Channel: {e.channel or '-'}", f"Owner: {e.owner or '-'}"]
        if e.templates:
            lines.append("Templates: " + ", ".join(e.templates))
        lines += [f"Asset: {a}" for a in e.assets]
        ev.add("description", "\n".join(lines))
        ev.add("categories", [e.kind])
        cal.add_component(ev)
    return bytes(cal.to_ical())


CSV_COLUMNS = ("date", "kind", "persona", "stage", "question", "title", "owner", "channel", "templates", "assets")


def csv_rows(entries: Iterable[CalendarEntry]) -> list[list[str]]:
    """The header and one row per entry (lists joined with spaces; a cell a spreadsheet would run
    as a formula made inert)."""
    rows = [list(CSV_COLUMNS)]
    for e in entries:
        rows.append([neutralise_cell(v) for v in (
            e.day.isoformat(), e.kind, e.persona, e.stage, e.question, e.title, e.owner or "", e.channel or "",
            " ".join(e.templates), " ".join(e.assets))])
    return rows


def to_csv(entries: Iterable[CalendarEntry]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows(csv_rows(entries))
    return buf.getvalue()
