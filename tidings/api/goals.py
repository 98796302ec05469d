"""HTTP routes: marketing goals and KPIs, and the economics of a journey.

A goal document is JSON (or YAML with ``Content-Type: application/yaml``); bad input is a 422
naming the field (``kpis.0.targets.3m``, ``to``...).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import yaml
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tidings.api.deps import RequireRead, RequireWrite, container
from tidings.api.errors import ApiError
from tidings.api.experiments import field_error
from tidings.api.routing import StrictRoute
from tidings.application.analytics import economics as eco
from tidings.application.analytics import goals as gl
from tidings.domain.experiments.economics import EconomicsError
from tidings.domain.experiments.goals import GoalError
from tidings.store.measurement import SqlAnalyticsStore

router = APIRouter(tags=["goals"], route_class=StrictRoute)


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        text = raw.decode()
        if "yaml" in request.headers.get("content-type", ""):
            return yaml.safe_load(text)
        return json.loads(text)
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise ApiError(422, "validation_error", f"invalid body: {exc}", [{"loc": ["body"], "msg": str(exc)}]) from exc


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ApiError(
            422, "validation_error", f"{name}: a date like 2027-01-31", [{"loc": ["query", name], "msg": str(exc)}]
        ) from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@router.get("/api/goals", dependencies=[RequireRead])
def list_goals(request: Request) -> dict[str, Any]:
    """Every goal with each KPI's progress at 3, 12 and 24 months."""
    c = container(request)
    with c.engine.connect() as conn:
        return {"items": gl.list_goals(SqlAnalyticsStore(conn), c.clock.now())}


@router.get("/api/goals.csv", dependencies=[RequireRead], response_class=Response)
def goals_csv(request: Request) -> Response:
    """One row per goal, KPI and horizon: target, expected by now, actual, status."""
    c = container(request)
    with c.engine.connect() as conn:
        text = gl.goals_csv(gl.list_goals(SqlAnalyticsStore(conn), c.clock.now()))
    return Response(text, media_type="text/csv; charset=utf-8")


@router.put("/api/goals", dependencies=[RequireWrite])
def save_goal(request: Request, raw: Any = Depends(_body)) -> dict[str, Any]:
    """Create or replace a goal document ``{key, name, start, kpis: [{kpi, targets, event?}]}``."""
    c = container(request)
    with c.engine.begin() as conn:
        try:
            return gl.save_goal(SqlAnalyticsStore(conn), raw, c.clock.now())
        except GoalError as exc:
            raise field_error(exc) from exc


@router.get("/api/goals/{key}", dependencies=[RequireRead])
def get_goal(key: str, request: Request) -> dict[str, Any]:
    c = container(request)
    with c.engine.connect() as conn:
        try:
            return gl.show_goal(SqlAnalyticsStore(conn), key, c.clock.now())
        except gl.GoalNotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from exc


@router.delete("/api/goals/{key}", dependencies=[RequireWrite], status_code=204, response_class=Response)
def delete_goal(key: str, request: Request) -> Response:
    with container(request).engine.begin() as conn:
        try:
            gl.delete_goal(SqlAnalyticsStore(conn), key)
        except gl.GoalNotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from exc
    return Response(status_code=204)


@router.get("/api/kpis/{kpi}", dependencies=[RequireRead])
def kpi_value(
    kpi: str,
    request: Request,
    start: str = Query(alias="from"),
    end: str = Query(alias="to"),
    event: str | None = None,
) -> dict[str, Any]:
    """One KPI over [from, to)."""
    s, e = _when(start, "from"), _when(end, "to")
    assert s is not None and e is not None
    with container(request).engine.connect() as conn:
        try:
            return gl.measure(SqlAnalyticsStore(conn), kpi, s, e, event)
        except GoalError as exc:
            raise field_error(exc, "path" if exc.field == "kpi" else "query") from exc


@router.get("/api/journeys/{key}/economics", dependencies=[RequireRead])
def get_economics(
    key: str,
    request: Request,
    start: str | None = Query(default=None, alias="from"),
    end: str | None = Query(default=None, alias="to"),
) -> dict[str, Any]:
    """Hours saved, cost, attributed revenue, ROI and break-even date of a journey."""
    c = container(request)
    with c.engine.connect() as conn:
        try:
            return eco.journey_economics(
                SqlAnalyticsStore(conn), key, c.clock.now(), _when(start, "from"), _when(end, "to")
            )
        except eco.JourneyNotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from exc
        except GoalError as exc:
            raise field_error(exc, "query") from exc


@router.put("/api/journeys/{key}/economics", dependencies=[RequireWrite])
def put_economics(key: str, request: Request, raw: Any = Depends(_body)) -> dict[str, Any]:
    """Save a journey's inputs (merged over what was saved): hours_per_enrolment, hourly_rate, ..."""
    c = container(request)
    with c.engine.begin() as conn:
        try:
            return eco.set_inputs(SqlAnalyticsStore(conn), key, raw, c.clock.now())
        except eco.JourneyNotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from exc
        except EconomicsError as exc:
            raise field_error(exc) from exc
