"""Page: the dashboard — contacts, active enrolments, this week's messages against last week's,
conversions and revenue attributed to journeys, with charts fed by a JSON endpoint."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tidings.application.access.users import Session
from tidings.application.analytics.goals import list_goals
from tidings.domain.statuses import EnrolmentStatus
from tidings.store import schema as s
from tidings.store.measurement import SqlAnalyticsStore
from tidings.web import queries
from tidings.web.core import WebRoute, render, viewer_locale
from tidings.web.i18n import _, viewing_as
from tidings.web.security import Viewer, container

router = APIRouter(route_class=WebRoute)

LABELS = [
    ("sent", _("Sent")),
    ("delivered", _("Delivered")),
    ("opened", _("Opened")),
    ("clicked", _("Clicked")),
    ("converted", _("Converted")),
    ("unsubscribed", _("Unsubscribed")),
]


def figures(request: Request) -> dict[str, Any]:
    c = container(request)
    now = c.clock.now()
    with c.engine.connect() as conn:
        this_week = queries.week_figures(conn, now - timedelta(days=7), now + timedelta(seconds=1))
        last_week = queries.week_figures(conn, now - timedelta(days=14), now - timedelta(days=7))
        contacts = queries.count(conn, s.contacts)
        active = queries.count(conn, s.enrollments, s.enrollments.c.status != EnrolmentStatus.ENDED)
        journeys_live = queries.count(conn, s.journeys, s.journeys.c.status == "active")
        revenue = queries.journey_revenue(conn)
        goals = list_goals(SqlAnalyticsStore(conn), now)
    return {
        "this": this_week,
        "last": last_week,
        "contacts": contacts,
        "active": active,
        "journeys_live": journeys_live,
        "revenue_rows": revenue,
        "goals": goals,
    }


@router.get("/")
def dashboard(request: Request, session: Session = Viewer) -> Response:
    from tidings.web.control_page import banner

    ctx = {"f": figures(request), "labels": LABELS, "control": banner(request)}
    return render(request, "dashboard.html", ctx, page="dashboard")


@router.get("/dashboard/data.json")
def dashboard_data(request: Request, session: Session = Viewer) -> dict[str, Any]:
    """Chart data: this week against last (bars) or the daily message series (line)."""
    chart = request.query_params.get("chart", "week")
    c = container(request)
    if chart == "daily":
        with c.engine.connect() as conn:
            d = queries.daily_series(conn, c.clock.now())
        names = {"message.sent": _("Sent"), "message.opened": _("Opened"), "message.clicked": _("Clicked")}
        with viewing_as(viewer_locale(request)):
            return {
                "type": "line",
                "labels": d["labels"],
                "datasets": [{"label": str(names[k]), "data": v} for k, v in d["series"].items()],
            }
    f = figures(request)
    with viewing_as(viewer_locale(request)):
        return {
            "type": "bar",
            "labels": [str(label) for _k, label in LABELS],
            "datasets": [
                {"label": str(_("Last week")), "data": [f["last"][k] for k, _l in LABELS], "color": "#c7d2fe"},
                {"label": str(_("This week")), "data": [f["this"][k] for k, _l in LABELS], "color": "#4f46e5"},
            ],
        }
