"""The web report pieces: a journey's engagement series (Chart.js, fed as JSON: the strict CSP
allows no inline script) and the per-step funnel figures drawn on the journey graph.

Both read the rollups through ``application/analytics/reports`` (``analytics_daily``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request

from tidings.application.access.users import Session
from tidings.application.analytics import reports
from tidings.store.analytics import SqlAnalytics
from tidings.store.db import Connection
from tidings.web.core import PageNotFound, WebRoute
from tidings.web.security import Viewer, container

router = APIRouter(route_class=WebRoute)

SERIES_DAYS = 30
_SERIES = (
    ("sent", "Sent", "#6366f1"),
    ("delivered", "Delivered", "#0ea5e9"),
    ("opened_human_unique", "Opened (people)", "#16a34a"),
    ("opened_machine_unique", "Opened (machines, e.g. Apple MPP)", "#9ca3af"),
    ("clicked_unique", "Clicked", "#f59e0b"),
    ("converted", "Converted", "#dc2626"),
)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.0f}%"


def step_funnel(conn: Connection, journey_id: int, version: int | None) -> dict[str, str]:
    """step id -> "N sent · open x% · click y% · k conv." for the graph (the shown version)."""
    where: dict[str, Any] = {"journey_id": journey_id}
    if version is not None:
        where["journey_version"] = version
    out: dict[str, str] = {}
    for row in SqlAnalytics(conn).sums(where, None, None, ["step"]):
        r = reports.with_rates(row)
        parts = []
        if r["sent"]:
            parts += [f"{r['sent']} sent", f"open {_pct(r['open_rate'])}", f"click {_pct(r['click_rate'])}"]
        if r["converted"]:
            parts.append(f"{r['converted']} conv.")
        if parts and row["step"]:
            out[str(row["step"])] = " · ".join(parts)
    return out


def edge_funnel(conn: Connection, journey_id: int, version: int | None) -> dict[tuple[str, str], str]:
    """(from step, to step) -> "N · x% of exits" for the graph's edges (the shown version); "" is
    the entry (from) or the end (to)."""
    moves = SqlAnalytics(conn).edge_sums(journey_id, None, None, version)
    out: dict[tuple[str, str], str] = {}
    for e in reports.edge_funnel(moves)["edges"]:
        share = "" if e["share"] is None else f" · {_pct(e['share'])}"
        out[(e["from"] or "", e["to"] or "")] = f"{e['moved']}{share}"
    return out


def series_chart(data: Mapping[str, Any]) -> dict[str, Any]:
    labels = [str(d["day"]) for d in data["series"]]
    return {
        "type": "line",
        "labels": labels,
        "datasets": [
            {"label": label, "data": [d[metric] for d in data["series"]], "color": color}
            for metric, label, color in _SERIES
        ],
    }


@router.get("/journeys/{key}/analytics.json")
def journey_series(key: str, request: Request, session: Session = Viewer) -> dict[str, Any]:
    """The last 30 days of a journey's engagement, by day (machine opens apart)."""
    c = container(request)
    today = c.clock.now().date()
    with c.engine.connect() as conn:
        try:
            data = reports.journey_report(
                SqlAnalytics(conn), key, reports.Range(today - timedelta(days=SERIES_DAYS - 1), today)
            )
        except reports.NotFound as exc:
            raise PageNotFound(f"Journey {key}") from exc
    return series_chart(data)
