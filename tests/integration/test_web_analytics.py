"""Web app: a journey's funnel drawn on its graph (sent, human open and click rates per step) and
its engagement series for the chart (JSON: no inline script), both from the rollups."""

from __future__ import annotations

from tests.journey_docs import send_then_wait
from tests.web_support import web_client
from tidings.store import schema
from tidings.store.analytics import SqlAnalytics

JOURNEY = send_then_wait("welcome", "subscribed", "1d")


def test_funnel_on_the_graph_and_series_for_the_chart(container):
    with web_client(container, "marketer") as (client, token):
        assert client.post("/journeys/new", data={"csrf_token": token, "source": JOURNEY}).status_code == 200
        client.post("/journeys/welcome/publish", data={"csrf_token": token})
        today = container.clock.now().date().isoformat()
        with container.engine.begin() as conn:
            j = schema.journeys
            jid = conn.execute(j.select().where(j.c.key == "welcome")).mappings().one()["id"]
            SqlAnalytics(conn).add_rollups(
                [
                    {"day": today, "journey_id": jid, "journey_version": 1, "step": "hello", "template": "welcome",
                     "channel": "email", "campaign": "", "sent": 4, "delivered": 4, "opened_human_unique": 2,
                     "opened_machine_unique": 3, "clicked_unique": 1, "converted": 1, "revenue": 10.0},
                ]
            )
        page = client.get("/journeys/welcome").text
        assert 'class="metrics"' in page and "4 sent · open 50% · click 25% · 1 conv." in page
        assert 'data-chart="/journeys/welcome/analytics.json"' in page
        spec = client.get("/journeys/welcome/analytics.json").json()
        assert spec["type"] == "line" and spec["labels"] == [today]
        data = {d["label"]: d["data"] for d in spec["datasets"]}
        assert data["Opened (people)"] == [2] and data["Opened (machines, e.g. Apple MPP)"] == [3]
        assert client.get("/journeys/nope/analytics.json").status_code == 404
