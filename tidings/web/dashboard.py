"""Page: the dashboard — contacts, active enrolments, this week's messages against last week's,
conversions and revenue attributed to journeys, with charts fed by a JSON endpoint.

The weekly figures come from the engagement rollups (``application/analytics/reports``): opens
are people's opens (unique per message); machine opens (Apple Mail Privacy Protection, scanners,
image proxies) are shown apart and never enter the open rate, whose denominator is delivered."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tidings.application.access.users import Session
from tidings.application.analytics.goals import list_goals
from tidings.application.analytics.reports import Range, channels_report
from tidings.store import page_reads_sql
from tidings.store import web_reads_sql as queries
from tidings.store.analytics import SqlAnalytics
from tidings.store.measurement import SqlAnalyticsStore
from tidings.web.core import WebRoute, render, viewer_locale
from tidings.web.i18n import _, viewing_as
from tidings.web.security import Viewer, container

router = APIRouter(route_class=WebRoute)

#: (rollup metric, label): unique human opens and clicks; machine opens reported apart.
LABELS = [
    ("sent", _("Sent")),
    ("delivered", _("Delivered")),
    ("opened_human_unique", _("Opened (people)")),
    ("opened_machine_unique", _("Opened (machines)")),
    ("clicked_unique", _("Clicked")),
    ("converted", _("Converted")),
    ("unsubscribed", _("Unsubscribed")),
]
#: (rate, label): over delivered (click-to-open over people's opens), ``None`` without a denominator.
RATES = [
    ("open_rate", _("Open rate (people)")),
    ("machine_open_rate", _("Machine opens")),
    ("click_rate", _("Click rate")),
    ("click_to_open_rate", _("Click-to-open")),
]


def week_figures(conn: Any, last_day: date) -> dict[str, Any]:
    """Totals and rates of the 7 days (UTC) ending with ``last_day``, from the rollups."""
    r = Range(last_day - timedelta(days=6), last_day)
    return dict(channels_report(SqlAnalytics(conn), r)["totals"])


DAILY = [
    ("sent", _("Sent")),
    ("opened_human_unique", _("Opened (people)")),
    ("opened_machine_unique", _("Opened (machines)")),
    ("clicked_unique", _("Clicked")),
]


def daily_series(conn: Any, last_day: date, days: int = 14) -> dict[str, Any]:
    """Per-day sends, people's and machines' opens and clicks of the last ``days`` days (rollups)."""
    first = last_day - timedelta(days=days - 1)
    by_day = {row["day"]: row for row in channels_report(SqlAnalytics(conn), Range(first, last_day))["series"]}
    labels = [(first + timedelta(days=i)).isoformat() for i in range(days)]
    return {
        "labels": [label[5:] for label in labels],
        "datasets": [
            {"label": str(name), "data": [int(by_day.get(d, {}).get(k, 0)) for d in labels]} for k, name in DAILY
        ],
    }


def figures(request: Request) -> dict[str, Any]:
    c = container(request)
    now = c.clock.now()
    with c.engine.connect() as conn:
        today = now.date()
        this_week = week_figures(conn, today)
        last_week = week_figures(conn, today - timedelta(days=7))
        contacts, active, journeys_live = page_reads_sql.dashboard_counts(conn)
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

    ctx = {"f": figures(request), "labels": LABELS, "rates": RATES, "control": banner(request)}
    return render(request, "dashboard.html", ctx, page="dashboard")


@router.get("/dashboard/data.json")
def dashboard_data(request: Request, session: Session = Viewer) -> dict[str, Any]:
    """Chart data: this week against last (bars) or the daily message series (line)."""
    chart = request.query_params.get("chart", "week")
    c = container(request)
    if chart == "daily":
        with c.engine.connect() as conn, viewing_as(viewer_locale(request)):
            d = daily_series(conn, c.clock.now().date())
        return {"type": "line", "labels": d["labels"], "datasets": d["datasets"]}
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
