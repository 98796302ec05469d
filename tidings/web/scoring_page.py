"""Pages: lead scoring — the models with their stage funnel, publishing a model with inline
validation (the same messages as ``tidings scoring validate``), and a contact's score explained."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from tidings.application.access.users import Session
from tidings.application.scoring import models as sm
from tidings.application.scoring.funnel import stage_funnel_over_time
from tidings.application.scoring.scores import explain_contact, stage_funnel
from tidings.domain.scoring.model import ScoringError
from tidings.web.core import PageNotFound, WebRoute, localised, render
from tidings.web.i18n import _
from tidings.web.security import FormFields, Viewer, Writer, container

router = APIRouter(route_class=WebRoute)

STARTER = """\
key: leads
name: Lead score
behaviour:
  - id: pricing
    label: pricing page views
    event: Page Viewed
    where: properties.path == "/pricing"
    points: 5
    cap: {points: 15, per: 7d}
  - id: demo
    label: demo requested
    event: demo.requested
    points: 30
  - id: unsubscribed
    event: message.unsubscribed
    points: -20
profile:
  - id: company-size
    label: company of 50 or more
    when: attributes.company_size >= 50
    points: 20
decay: {half_life: 30d}
thresholds:
  - {stage: mql, at: 50}
  - {stage: sql, at: 80}
writes_contact: true
"""


def _problems(exc: ScoringError) -> list[str]:
    return exc.lines()


@router.get("/scoring")
def scoring_page(request: Request, session: Session = Viewer) -> Response:
    c = container(request)
    with c.uow(read_only=True) as uow:
        models = uow.scoring.models()
        funnels = {m.key: stage_funnel(uow.scoring, m.key) for m in models}
    ctx: dict[str, Any] = {
        "models": models,
        "funnels": funnels,
        "notice": request.query_params.get("notice", ""),
    }
    return render(request, "scoring.html", ctx, page="scoring")


@router.get("/scoring/{key}/funnel.json")
def funnel_chart(key: str, request: Request, session: Session = Viewer) -> dict[str, Any]:
    """The chart of contacts moved into each stage per week, the last twelve weeks (Chart.js)."""
    c = container(request)
    with c.uow(read_only=True) as uow:
        try:
            f = stage_funnel_over_time(uow.scoring, key, c.clock.now().date())
        except sm.UnknownModel as exc:
            raise PageNotFound(f"Scoring model {key}") from exc
    return {
        "type": "bar",
        "labels": [p["start"] for p in f["periods"]],
        "datasets": [
            {"label": stage, "data": [p["stages"][i]["entered"] for p in f["periods"]]}
            for i, stage in enumerate(f["stages"])
        ],
    }


@router.get("/scoring/new")
def new_model(request: Request, session: Session = Viewer) -> Response:
    key = request.query_params.get("key")
    source = STARTER
    if key:
        try:
            source = sm.get_model(container(request).uow(read_only=True), key).document
        except sm.UnknownModel as exc:
            raise PageNotFound(f"Scoring model {key}") from exc
    return render(request, "scoring_edit.html", {"source": source, "problems": [], "key": key}, page="scoring")


@router.post("/scoring/validate")
def validate(request: Request, session: Session = Viewer, form: FormData = FormFields) -> Response:
    """The inline check (htmx): the problems, or a summary of the model."""
    source = str(form.get("source") or "")
    try:
        m = sm.validate_model(source)
        summary = {"behaviour": len(m.behaviour), "profile": len(m.profile), "thresholds": len(m.thresholds)}
        ctx: dict[str, Any] = {"problems": [], "summary": summary}
    except ScoringError as exc:
        ctx = {"problems": _problems(exc), "summary": None}
    return render(request, "scoring_edit.html", ctx, block="check")


@router.post("/scoring")
def publish(request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    source = str(form.get("source") or "")
    c = container(request)
    try:
        stored = sm.publish_model(c.uow(), c.clock, source)
    except ScoringError as exc:
        ctx = {"source": source, "problems": _problems(exc), "key": None}
        return render(request, "scoring_edit.html", ctx, status=422, page="scoring")
    notice = _("Published %(name)s (version %(version)s).", name=stored.name, version=stored.version)
    return RedirectResponse("/scoring?" + urlencode({"notice": localised(request, notice)}), status_code=303)


@router.post("/scoring/{key}/pause")
def pause(key: str, request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    return _set_active(request, key, False)


@router.post("/scoring/{key}/resume")
def resume(key: str, request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    return _set_active(request, key, True)


def _set_active(request: Request, key: str, active: bool) -> Response:
    c = container(request)
    try:
        m = sm.set_model_active(c.uow(), c.clock, key, active)
    except sm.UnknownModel as exc:
        raise PageNotFound(f"Scoring model {key}") from exc
    notice = (
        _("%(name)s: scoring again.", name=m.name) if active else _("%(name)s: paused (scores kept).", name=m.name)
    )
    return RedirectResponse("/scoring?" + urlencode({"notice": localised(request, notice)}), status_code=303)


@router.get("/contacts/{contact_id}/score")
def contact_score(contact_id: int, request: Request, session: Session = Viewer) -> Response:
    """The contact page's score panel (loaded by htmx)."""
    c = container(request)
    with c.uow(read_only=True) as uow:
        try:
            models = explain_contact(uow.scoring, contact_id, c.clock.now(), history=10)
        except LookupError as exc:
            raise PageNotFound(f"Contact {contact_id}") from exc
    return render(request, "_contact_score.html", {"models": models})
