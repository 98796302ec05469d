"""Web pages: experiments (verdict, intervals chart data), goals (on/off track), a journey's economics."""

from __future__ import annotations

from typing import Any

from tests.integration.test_experiments_live import run_promo
from tests.web_support import web_client
from tidings.application.analytics.goals import save_goal
from tidings.bootstrap import Container
from tidings.clock import ManualClock
from tidings.store.measurement import SqlAnalyticsStore


def test_experiment_pages_and_chart(container: Container, clock: ManualClock) -> None:
    run_promo(container, clock)
    with web_client(container, "viewer") as (client, _):
        listing = client.get("/experiments")
        assert (
            listing.status_code == 200 and "promo.offer" in listing.text and "B wins on Order Completed" in listing.text
        )
        page = client.get("/experiments/promo.offer")
        assert page.status_code == 200
        assert 'data-chart="/experiments/promo.offer/chart.json"' in page.text
        assert "Chance to beat A" in page.text and "Sample ratio: ok" in page.text
        chart: dict[str, Any] = client.get("/experiments/promo.offer/chart.json").json()
        assert chart["labels"] == ["A", "B"]
        lo, hi = chart["datasets"][0]["data"][1]
        assert 90 < lo < hi < 100  # everyone in B converted: the Beta(1+n, 1) interval sits just below 100 %
        assert chart["datasets"][1]["data"] == [0.0, 100.0]
        assert client.get("/experiments/nope.x").status_code == 404
        journey = client.get("/journeys/promo").text
        assert 'data-testid="economics"' in journey and "Hours saved" in journey
        assert "Incremental revenue" in journey and "no control group" in journey


def test_goals_page_shows_on_and_off_track(container: Container, clock: ManualClock) -> None:
    goal = {
        "key": "g",
        "name": "Plan 2026",
        "start": "2026-01-01",
        "kpis": [{"kpi": "leads", "targets": {"3m": 1000}}, {"kpi": "unsubscribe_rate", "targets": {"12m": 0.01}}],
    }
    with container.engine.begin() as conn:
        save_goal(SqlAnalyticsStore(conn), goal, clock.now())
    with web_client(container, "viewer") as (client, _):
        page = client.get("/goals").text
        assert "Plan 2026" in page and "off track" in page and "on track" in page
        dashboard = client.get("/").text
        assert 'data-testid="goals"' in dashboard and "leads 3m" in dashboard
