"""Attribution over stored events: a global goal (event + filter + value property) shared among the
contact's human clicks by a model; machine clicks never count; bad input names the field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tidings.application.analytics.attribution import Goal, attributed
from tidings.application.analytics.reports import Range, ReportError
from tidings.bootstrap import Container
from tidings.store import schema
from tidings.store.analytics import SqlAnalytics


def _fixture(container: Container) -> None:
    now = container.clock.now()
    with container.engine.begin() as conn:
        jid = conn.execute(
            sa.insert(schema.journeys)
            .values(key="j", name="J", status="active", created_at=now, updated_at=now)
            .returning(schema.journeys.c.id)
        ).scalar_one()
        mids = []
        for n, (step, template) in enumerate([("a", "ta"), ("b", "tb")]):
            mids.append(
                conn.execute(
                    sa.insert(schema.outbox)
                    .values(contact_id=1, idempotency_key=f"k{n}", kind="message", channel="email", template=template,
                            journey_id=jid, journey_version=1, step_id=step, payload={}, status="sent",
                            next_attempt_at=now, created_at=now, sent_at=now - timedelta(days=4))
                    .returning(schema.outbox.c.id)
                ).scalar_one()
            )

        def ev(cid: int, name: str, at: Any, **props: Any) -> dict[str, Any]:
            return {"contact_id": cid, "name": name, "properties": props, "occurred_at": at, "received_at": at}

        conn.execute(
            sa.insert(schema.events),
            [
                ev(1, "message.clicked", now - timedelta(days=3), message_id=mids[0], machine=False),
                ev(1, "message.clicked", now - timedelta(days=2), message_id=mids[1], machine=True),  # a scanner
                ev(1, "message.clicked", now - timedelta(days=1), message_id=mids[1], machine=False),
                ev(1, "order.completed", now, revenue=100, plan="pro"),
                ev(2, "order.completed", now, revenue=50, plan="basic"),  # no click: unattributed
            ],
        )


def test_global_goal_with_filter_and_models(container: Container) -> None:
    _fixture(container)
    with container.engine.connect() as conn:
        repo = SqlAnalytics(conn)
        pro = Goal.parse("Order Completed", "revenue", ["plan=pro"])
        linear = attributed(repo, Range(), model="linear", goal=pro)
        assert linear["conversions"] == 1 and linear["revenue"] == 100
        assert {r["template"]: r["revenue"] for r in linear["by_template"]} == {"ta": 50.0, "tb": 50.0}
        assert {r["step"]: r["conversions"] for r in linear["by_step"]} == {"j/a": 0.5, "j/b": 0.5}
        first = attributed(repo, Range(), model="first_touch", goal=pro)
        assert first["by_template"] == [{"template": "ta", "conversions": 1.0, "revenue": 100.0}]
        every = attributed(repo, Range(), model="last_touch", goal=Goal.parse("Order Completed", "revenue", []))
        assert every["conversions"] == 2 and every["revenue"] == 150
        assert every["unattributed"] == {"conversions": 1, "revenue": 50.0}
        assert every["by_journey"] == [{"journey": "j", "conversions": 1.0, "revenue": 100.0}]
        short = attributed(repo, Range(), model="linear", window_days=2, goal=pro)  # only the last click is in
        assert short["by_template"] == [{"template": "tb", "conversions": 1.0, "revenue": 100.0}]
        with pytest.raises(ReportError) as err:
            attributed(repo, Range(), goal=Goal.parse("Order Complete", "revenue", []))
        assert err.value.field == "goal"
        with pytest.raises(ReportError) as err:
            Goal.parse("Order Completed", None, ["plan"])
        assert err.value.field == "where"


def test_api_attribution_and_bad_input(api: Any, container: Container) -> None:
    _fixture(container)
    r = api.get("/api/analytics/attribution", params={"goal": "Order Completed", "value": "revenue",
                                                        "where": "plan=pro", "model": "position_based"})
    assert r.status_code == 200, r.text
    assert {x["template"]: x["revenue"] for x in r.json()["by_template"]} == {"ta": 50.0, "tb": 50.0}
    for params, field in [
        ({"goal": "Never Happened"}, "goal"),
        ({"model": "u_shaped"}, "model"),
        ({"from": "2026-02-02", "to": "2026-02-01"}, "from"),
    ]:
        bad = api.get("/api/analytics/attribution", params=params)
        assert bad.status_code == 422, params
        assert bad.json()["error"]["details"][0]["loc"] == ["query", field]
    bad = api.get("/api/analytics/channels", params={"from": "March"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["loc"] == ["query", "from"]
