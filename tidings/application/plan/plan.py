"""Content plan use cases (docs/content-plan.md): show / save the plan, edit a cell, the gap report
computed from the templates and journeys, the calendar and its signed feed, stale templates.

The same use cases serve ``tidings content``, ``/api/content-plan`` and the ``/content-plan`` page.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tidings.application.ports.plan import PlanUnitOfWork
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.model import JourneyError
from tidings.domain.plan.calendar import CalendarEntry, calendar_entries
from tidings.domain.plan.model import DEFAULT_PLAN, Cell, PlanDoc, PlanInvalid, parse_cell, parse_plan
from tidings.domain.plan.status import (
    STATUSES,
    CellView,
    GapReport,
    TemplateFacts,
    TemplateUse,
    TemplateVariant,
    gap_report,
    stale_templates,
    template_facts,
)
from tidings.domain.plan.usage import document_uses, template_uses

#: journey statuses whose current version is sending
PUBLISHED = frozenset({"active", "paused"})


@dataclass(frozen=True, slots=True)
class PlanInputs:
    plan: PlanDoc
    feed_version: int
    cells: dict[tuple[str, str, str], Cell]
    templates: dict[str, TemplateFacts]
    uses: list[TemplateUse]


def current_plan(uow: PlanUnitOfWork) -> tuple[PlanDoc, int]:
    rec = uow.content_plan.get()
    return (rec.plan, rec.feed_version) if rec is not None else (DEFAULT_PLAN, 1)


def show_plan(uow: PlanUnitOfWork) -> PlanDoc:
    with uow:
        return current_plan(uow)[0]


def save_plan(uow: PlanUnitOfWork, doc: Any, now: datetime) -> PlanDoc:
    """Validate and store the plan; raises PlanInvalid with every problem's path. With a
    ``cells`` list (what ``plan_json`` gives) the stored cells are replaced by those, in the same
    transaction; without one they stay, and cells of removed personas, stages or questions leave
    the matrix (they come back if the key does)."""
    if not isinstance(doc, dict):
        raise PlanInvalid([("", "the plan is an object with personas, stages and questions")])
    body = dict(doc)
    raw_cells = body.pop("cells", None)
    plan = parse_plan(body)
    cells: list[Cell] | None = None
    if raw_cells is not None:
        if not isinstance(raw_cells, list):
            raise PlanInvalid([("cells", "a list of cells")])
        cells, errors = [], []
        for i, raw in enumerate(raw_cells):
            try:
                cells.append(parse_cell(raw, plan))
            except PlanInvalid as exc:
                errors += [(f"cells[{i}].{p}" if p else f"cells[{i}]", m) for p, m in exc.errors]
        if errors:
            raise PlanInvalid(errors)
    with uow:
        uow.content_plan.save(plan, now)
        if cells is not None:
            for old in uow.content_plan.cells():
                uow.content_plan.delete_cell(*old.coordinates)
            for cell in cells:
                uow.content_plan.put_cell(cell, now)
        uow.commit()
    return plan


def plan_json(uow: PlanUnitOfWork) -> dict[str, Any]:
    """The plan with its cells: what ``save_plan`` takes back."""
    with uow:
        plan, _ = current_plan(uow)
        cells = [c.as_doc() for c in uow.content_plan.cells() if plan.has(*c.coordinates)]
    return {**plan.as_doc(), "cells": cells}


def set_cell(uow: PlanUnitOfWork, doc: Any, now: datetime) -> Cell:
    """Create or replace one cell; raises PlanInvalid (coordinates the plan lacks, bad fields).
    A cell with nothing in it (no template, asset, owner, date or note) is removed."""
    with uow:
        plan, _ = current_plan(uow)
        cell = parse_cell(doc, plan)
        if cell == Cell(*cell.coordinates):
            uow.content_plan.delete_cell(*cell.coordinates)
        else:
            uow.content_plan.put_cell(cell, now)
        uow.commit()
        return cell


def mark_reviewed(uow: PlanUnitOfWork, template_key: str, now: datetime, by: str | None = None) -> None:
    """Record that someone checked template ``template_key`` is still right; raises PlanInvalid
    for a key no template has."""
    with uow:
        if template_key not in uow.templates.keys():  # noqa: SIM118 (a repository, not a dict)
            raise PlanInvalid([("template", f"no template {template_key!r}")])
        uow.content_plan.mark_reviewed(template_key, now, by)
        uow.commit()


def _uses(uow: PlanUnitOfWork) -> list[TemplateUse]:
    """The send steps of every journey: its current published version (from the stored document)
    and its draft unless archived (parsed; an unreadable draft is skipped — the audit reports it)."""
    out: list[TemplateUse] = []
    for j in uow.journeys.all():
        if str(j.get("status")) in PUBLISHED and j.get("current_version") is not None:
            version = uow.journeys.get_version(int(j["id"]), int(j["current_version"]))
            if version is not None:
                out += document_uses(version["document"], published=True)
        if j.get("draft_source") and str(j.get("status")) != "archived":
            try:
                out += template_uses(parse_journey(str(j["draft_source"])), published=False)
            except JourneyError:
                continue
    return out


def load_inputs(uow: PlanUnitOfWork) -> PlanInputs:
    """Everything the statuses are computed from, read in the caller's open unit of work."""
    plan, feed_version = current_plan(uow)
    variants = [TemplateVariant(str(r["key"]), str(r["locale"]), str(r["channel"]), str(r["format"]),
                                str(r["body"]), r["updated_at"]) for r in uow.templates.all()]
    templates = template_facts(variants, uow.content_plan.reviews())
    cells = {c.coordinates: c for c in uow.content_plan.cells()}
    return PlanInputs(plan, feed_version, cells, templates, _uses(uow))


def gaps(uow: PlanUnitOfWork, today: date) -> GapReport:
    with uow:
        i = load_inputs(uow)
    return gap_report(i.plan, i.cells, i.templates, i.uses, today)


@dataclass(frozen=True, slots=True)
class Overview:
    """What the page shows, read in one unit of work."""

    report: GapReport
    entries: list[CalendarEntry]
    stale: list[TemplateFacts]
    feed_version: int


def overview(uow: PlanUnitOfWork, today: date) -> Overview:
    """The gap report, the calendar and the templates due a review (after the plan's
    ``review_months``) from one read."""
    with uow:
        i = load_inputs(uow)
    return Overview(
        report=gap_report(i.plan, i.cells, i.templates, i.uses, today),
        entries=calendar_entries(i.plan, i.cells.values()),
        stale=stale_templates(i.templates, today, i.plan.review_months),
        feed_version=i.feed_version,
    )


def calendar(uow: PlanUnitOfWork, *, since: date | None = None, until: date | None = None) -> list[CalendarEntry]:
    with uow:
        plan, _ = current_plan(uow)
        cells = uow.content_plan.cells()
    return calendar_entries(plan, cells, since=since, until=until)


def stale(uow: PlanUnitOfWork, today: date, months: int) -> list[TemplateFacts]:
    with uow:
        i = load_inputs(uow)
    return stale_templates(i.templates, today, months)


# --------------------------------------------------------------------------- the calendar feed


def feed_token(secret: str, feed_version: int) -> str:
    """The token of the calendar feed URL (an HMAC of the feed version: rotate to revoke)."""
    mac = hmac.new(secret.encode(), f"tidings-content-plan-feed-v{feed_version}".encode(), hashlib.sha256)
    return mac.hexdigest()[:40]


def feed_url(uow: PlanUnitOfWork, secret: str, public_url: str) -> str:
    with uow:
        _, version = current_plan(uow)
    return feed_url_of(version, secret, public_url)


def feed_url_of(feed_version: int, secret: str, public_url: str) -> str:
    return f"{public_url.rstrip('/')}/api/content-plan/calendar.ics?feed={feed_token(secret, feed_version)}"


def feed_allowed(uow: PlanUnitOfWork, secret: str, token: str) -> bool:
    with uow:
        _, version = current_plan(uow)
    return hmac.compare_digest(token.encode(), feed_token(secret, version).encode())


def rotate_feed(uow: PlanUnitOfWork, now: datetime) -> None:
    with uow:
        uow.content_plan.rotate_feed(now)
        uow.commit()


# --------------------------------------------------------------------------- JSON answers


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def view_json(v: CellView) -> dict[str, Any]:
    cell = v.cell.as_doc() if v.cell is not None else Cell(*v.coordinates).as_doc()
    return {**cell, "status": str(v.status), "reasons": list(v.reasons),
            "unknown_templates": list(v.unknown_templates),
            "journeys": [{"journey": u.journey, "step": u.step, "template": u.template, "published": u.published}
                         for u in v.uses]}


def report_json(r: GapReport) -> dict[str, Any]:
    return {"size": r.plan.size, "counts": {str(s): r.counts.get(s, 0) for s in STATUSES},
            "gaps": [view_json(v) for v in r.gaps]}


def template_json(t: TemplateFacts) -> dict[str, Any]:
    return {"key": t.key, "channels": sorted(t.channels), "updated_at": _iso(t.updated_at),
            "reviewed_at": _iso(t.reviewed_at), "last_review": _iso(t.last_review)}
