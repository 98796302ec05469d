"""Page: the content plan — the persona × stage × question matrix coloured by status (cells linked
to their templates and the journeys that send them), the gap list, the calendar with its CSV and
iCalendar downloads and the signed feed URL, templates due a review; editing a cell, the plan
document, marking a template reviewed (editors; viewers read).

The same use cases as ``tidings content`` and ``/api/content-plan`` (``application/plan/plan.py``).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from tidings.application.access.users import Session
from tidings.application.plan import plan as use
from tidings.domain.plan.calendar import to_csv, to_ical
from tidings.domain.plan.model import PlanInvalid
from tidings.domain.plan.status import CellStatus
from tidings.web.core import WebRoute, render
from tidings.web.i18n import _
from tidings.web.security import FormFields, Viewer, Writer, container

router = APIRouter(route_class=WebRoute)

CELL_FIELDS = ("persona", "stage", "question", "templates", "assets", "channel", "owner", "publish_on",
               "review_on", "notes")


def _errors(exc: PlanInvalid) -> list[str]:
    return [f"{p}: {m}" if p else m for p, m in exc.errors]


def _page(request: Request, *, edit: dict[str, Any] | None = None, document: str = "",
          errors: list[str] | None = None, plan_errors: list[str] | None = None, status: int = 200) -> Response:
    c = container(request)
    today = c.clock.now().date()
    seen = use.overview(c.uow(read_only=True), today)
    report = seen.report
    plan = report.plan
    q = request.query_params
    if edit is None:
        edit = {"persona": q.get("persona", plan.personas[0].key), "stage": q.get("stage", plan.stages[0].key),
                "question": q.get("question", plan.questions[0].key)}
        view = report.cell(edit["persona"], edit["stage"], edit["question"])
        if view is not None and view.cell is not None:
            doc = view.cell.as_doc()
            edit = {**doc, "templates": ", ".join(doc["templates"]), "assets": "\n".join(doc["assets"])}
    matrix = {v.coordinates: v for v in report.cells}
    ctx = {
        "report": report, "plan": plan, "matrix": matrix, "gaps": report.gaps,
        "missing": report.counts.get(CellStatus.MISSING, 0),
        "entries": seen.entries, "stale": seen.stale,
        "feed_url": use.feed_url_of(seen.feed_version, c.secret_key, c.settings.public_url),
        "edit": edit, "errors": errors or [], "plan_errors": plan_errors or [],
        "document": document or json.dumps(plan.as_doc(), indent=2, ensure_ascii=False),
        "notice": q.get("notice", ""),
    }
    return render(request, "content_plan.html", ctx, status=status, page="content-plan")


@router.get("/content-plan")
def plan_page(request: Request, session: Session = Viewer) -> Response:
    return _page(request)


@router.post("/content-plan/cell")
def save_cell(request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    values = {k: str(form.get(k, "")).strip() for k in CELL_FIELDS}
    c = container(request)
    try:
        cell = use.set_cell(c.uow(), values, c.clock.now())
    except PlanInvalid as exc:
        return _page(request, edit=values, errors=_errors(exc), status=422)
    persona, stage, question = cell.coordinates
    return RedirectResponse(f"/content-plan?notice=cell&persona={persona}&stage={stage}&question={question}#edit",
                            status_code=303)


@router.post("/content-plan/plan")
def save_plan(request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    text = str(form.get("document", ""))
    c = container(request)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        message = str(_("The document is not JSON: %(error)s", error=str(exc)))
        return _page(request, document=text, plan_errors=[message], status=422)
    try:
        use.save_plan(c.uow(), doc, c.clock.now())
    except PlanInvalid as exc:
        return _page(request, document=text, plan_errors=_errors(exc), status=422)
    return RedirectResponse("/content-plan?notice=plan", status_code=303)


@router.post("/content-plan/review")
def review(request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    key = str(form.get("template", ""))
    c = container(request)
    try:
        use.mark_reviewed(c.uow(), key, c.clock.now(), session.user.email)
    except PlanInvalid as exc:
        return _page(request, errors=_errors(exc), status=422)
    return RedirectResponse("/content-plan?notice=reviewed#stale", status_code=303)


@router.get("/content-plan/calendar.csv")
def calendar_csv(request: Request, session: Session = Viewer) -> Response:
    body = to_csv(use.calendar(container(request).uow(read_only=True)))
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="content-calendar.csv"'})


@router.get("/content-plan/calendar.ics")
def calendar_ics(request: Request, session: Session = Viewer) -> Response:
    c = container(request)
    body = to_ical(use.calendar(c.uow(read_only=True)), c.clock.now())
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="content-calendar.ics"'})
