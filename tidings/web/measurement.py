"""Pages: experiments (live A/B/n tests with their verdict and intervals) and marketing goals
(KPI progress at 3, 12 and 24 months, on track or off track). Data from application/analytics."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from tidings.application.access.users import Session
from tidings.application.analytics import experiments as ex
from tidings.application.analytics import goals as gl
from tidings.store.measurement import SqlAnalyticsStore
from tidings.web.core import PageNotFound, WebRoute, render
from tidings.web.security import FormFields, Viewer, Writer, container

router = APIRouter(route_class=WebRoute)


@router.get("/experiments")
def experiments_page(request: Request, session: Session = Viewer) -> Response:
    c = container(request)
    with c.engine.connect() as conn:
        items = ex.list_experiments(SqlAnalyticsStore(conn), c.clock.now())
    return render(request, "experiments.html", {"items": items}, page="experiments")


def _experiment(request: Request, key: str) -> dict[str, Any]:
    c = container(request)
    with c.engine.connect() as conn:
        try:
            return ex.show_experiment(SqlAnalyticsStore(conn), key, c.clock.now())
        except ex.ExperimentNotFound as exc:
            raise PageNotFound(f"Experiment {key}") from exc


@router.get("/experiments/{key}")
def experiment_page(key: str, request: Request, session: Session = Viewer) -> Response:
    ctx = {"x": _experiment(request, key), "notice": request.query_params.get("notice")}
    return render(request, "experiment.html", ctx, page="experiments")


@router.post("/experiments/{key}/decision")
def experiment_decision(key: str, request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    """The "send X to everyone" button: a manual decision (marketer or admin, CSRF checked)."""
    c = container(request)
    winner, reason = str(form.get("winner") or ""), str(form.get("reason") or "").strip() or None
    try:
        with c.engine.begin() as conn:
            x = ex.decide(SqlAnalyticsStore(conn), key, winner, reason, c.clock.now(), session.user.email)
        notice = x["verdict"]
    except ex.ExperimentNotFound as exc:
        raise PageNotFound(f"Experiment {key}") from exc
    except (ex.DecisionError, ex.AlreadyDecided) as exc:
        notice = f"not decided: {exc}"
    return RedirectResponse(f"/experiments/{quote(key)}?notice={quote(notice)}", status_code=303)


@router.get("/experiments/{key}/chart.json")
def experiment_chart(key: str, request: Request, session: Session = Viewer) -> dict[str, Any]:
    """Each variant's rate (%) with its 95% credible interval as a floating bar."""
    x = _experiment(request, key)
    variants = (x["result"] or {}).get("variants") or []
    return {
        "type": "bar",
        "labels": [v["name"] for v in variants],
        "datasets": [
            {
                "label": "95% interval of the rate (%)",
                "data": [[round(v["interval"][0] * 100, 3), round(v["interval"][1] * 100, 3)] for v in variants],
                "color": "#c7d2fe",
            },
            {
                "label": "observed rate (%)",
                "type": "line",
                "data": [round(v["rate"] * 100, 3) for v in variants],
                "showLine": False,
                "pointRadius": 6,
                "color": "#4f46e5",
            },
        ],
    }


@router.get("/goals")
def goals_page(request: Request, session: Session = Viewer) -> Response:
    c = container(request)
    with c.engine.connect() as conn:
        goals = gl.list_goals(SqlAnalyticsStore(conn), c.clock.now())
    return render(request, "goals.html", {"goals": goals}, page="goals")
