"""HTTP routes: engagement analytics from the rollups (``application/analytics``), JSON or CSV."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tidings.api.deps import RequireRead, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.analytics import attribution, reports
from tidings.application.ports.analytics import AnalyticsRepository
from tidings.domain.analytics.attribution import MODELS
from tidings.store.analytics import SqlAnalytics

router = APIRouter(tags=["analytics"], route_class=StrictRoute)

FromQ = Query(None, alias="from", description="first day (inclusive), YYYY-MM-DD")
ToQ = Query(None, alias="to", description="last day (inclusive), YYYY-MM-DD")
FormatQ = Query("json", description="json, or csv for the series by day (per step for /steps)")
ModelQ = Query(None, description=f"add attributed conversions and revenue under a model: {', '.join(MODELS)}")
WindowQ = Query(7.0, gt=0, le=3650, description="attribution window in days (at most ten years)")


def _range(start: date | None, end: date | None) -> reports.Range:
    try:
        return reports.Range(start, end)
    except reports.ReportError as exc:
        raise _invalid(exc) from exc


def _invalid(exc: reports.ReportError) -> ApiError:
    return ApiError(
        422, "validation_error", f"query.{exc.field}: {exc}", [{"loc": ["query", exc.field], "msg": str(exc)}]
    )


def _run(request: Request, fn: Callable[[AnalyticsRepository], dict[str, Any]]) -> dict[str, Any]:
    with container(request).engine.connect() as conn:
        try:
            return fn(SqlAnalytics(conn))
        except reports.ReportError as exc:
            raise _invalid(exc) from exc
        except reports.NotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from exc


def _answer(data: dict[str, Any], fmt: str, rows_key: str = "series", first: tuple[str, ...] = ("day",)) -> Any:
    if fmt == "csv":
        name = f"{data['kind']}-{data.get('key', 'all')}.csv".replace("/", "_")
        # a header is latin-1: an ASCII fallback name, and the real one RFC 5987-encoded
        plain = "".join(ch if ch.isascii() and ch.isprintable() and ch not in '"\\' else "_" for ch in name)
        disposition = f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
        return Response(
            reports.to_csv(data[rows_key], first),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": disposition},
        )
    return data


def _with_attribution(
    repo: AnalyticsRepository,
    data: dict[str, Any],
    r: reports.Range,
    model: str | None,
    window: float,
    journey: str | None,
) -> dict[str, Any]:
    if model is not None:
        data["attribution"] = attribution.attributed(repo, r, model=model, window_days=window, journey=journey)
    return data


@dataclass(frozen=True)
class Params:
    """The query every report takes: the range (``from``/``to``) and the format."""

    range: reports.Range
    format: str


def _params(
    start: date | None = FromQ,
    end: date | None = ToQ,
    format: Literal["json", "csv"] = FormatQ,  # noqa: A002
) -> Params:
    return Params(_range(start, end), format)


P = Annotated[Params, Depends(_params)]


@router.get("/api/analytics/journeys/{key}", dependencies=[RequireRead])
def journey(key: str, request: Request, p: P, model: str | None = ModelQ, window_days: float = WindowQ) -> Any:
    """A journey's totals and rates, its series by day, per step and per version."""
    r = p.range
    data = _run(
        request, lambda repo: _with_attribution(repo, reports.journey_report(repo, key, r), r, model, window_days, key)
    )
    return _answer(data, p.format)


@router.get("/api/analytics/journeys/{key}/steps", dependencies=[RequireRead])
def steps(
    key: str,
    request: Request,
    p: P,
    version: int | None = Query(None, ge=1, description="only this version of the journey"),
) -> Any:
    """The funnel: counts and rates per step, and per edge (``edges``: moved along it, share of
    the source step's exits; ``from`` null = entry, ``to`` null = end). CSV: the per-step rows."""
    data = _run(request, lambda repo: reports.steps_report(repo, key, p.range, version))
    return _answer(data, p.format, "steps", ("step",))


@router.get("/api/analytics/journeys/{key}/steps/{step}", dependencies=[RequireRead])
def step(key: str, step: str, request: Request, p: P) -> Any:
    """One step: totals, series by day, per template."""
    return _answer(_run(request, lambda repo: reports.step_report(repo, f"{key}/{step}", p.range)), p.format)


@router.get("/api/analytics/templates/{key}", dependencies=[RequireRead])
def template(key: str, request: Request, p: P) -> Any:
    """A template across journeys: totals, series by day, per channel."""
    return _answer(_run(request, lambda repo: reports.template_report(repo, key, p.range)), p.format)


@router.get("/api/analytics/campaigns/{key}", dependencies=[RequireRead])
def campaign(key: str, request: Request, p: P) -> Any:
    """Messages tagged with a campaign (``campaign`` in the send payload): totals, series, per template."""
    return _answer(_run(request, lambda repo: reports.campaign_report(repo, key, p.range)), p.format)


@router.get("/api/analytics/channels", dependencies=[RequireRead])
def channels(request: Request, p: P) -> Any:
    """Every channel: totals, series by day, per channel (CSV: the per-channel rows)."""
    data = _run(request, lambda repo: reports.channels_report(repo, p.range))
    return _answer(data, p.format, "by_channel", ("channel",))


@router.get("/api/analytics/attribution", dependencies=[RequireRead])
def attributed(
    request: Request,
    start: date | None = FromQ,
    end: date | None = ToQ,
    model: str = Query("last_touch", description=f"one of {', '.join(MODELS)}"),
    window_days: float = WindowQ,
    journey: str | None = Query(None, description="only this journey's conversions"),
    goal: str | None = Query(None, description="a global goal: attribute this event instead of the journey goals"),
    value: str | None = Query(None, description="the goal's amount property, e.g. revenue"),
    where: list[str] | None = Query(None, description="goal filter PROPERTY=VALUE (repeatable)"),
) -> Any:
    """Conversions and revenue attributed to journeys, steps and templates under a model: the
    journeys' goal conversions, or the events of a global goal (``goal``, ``value``, ``where``)."""
    r = _range(start, end)

    def run(repo: AnalyticsRepository) -> dict[str, Any]:
        g = attribution.Goal.parse(goal, value, where) if goal is not None else None
        return attribution.attributed(repo, r, model=model, window_days=window_days, journey=journey, goal=g)

    return _run(request, run)
