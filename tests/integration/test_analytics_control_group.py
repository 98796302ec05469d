"""Control groups through the worker: held-out entrants get no message (a trace says why), stay
enrolled so their goal conversions count, and the journey report shows the incremental lift."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tests.integration.journey_support import add_contact, add_event, drain
from tidings.application.analytics.reports import Range, journey_report
from tidings.bootstrap import Container
from tidings.clock import ManualClock
from tidings.domain.analytics.holdout import in_control_group
from tidings.store import schema
from tidings.store.analytics import SqlAnalytics
from tidings.worker import JourneyWorker

DOC = """
key: held
triggers:
  - event: signed.up
settings:
  control_group: 30
  goal: {event: order.completed, revenue: total}
steps:
  - id: hello
    type: send
    channel: email
    template: welcome
  - id: linger
    type: wait
    duration: 5d
"""


def test_held_out_entrants_get_nothing_and_the_report_shows_lift(
    api: Any, container: Container, clock: ManualClock
) -> None:
    r = api.post("/api/journeys?publish=true", content=DOC, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    w = JourneyWorker(container)
    with container.engine.begin() as conn:
        people = [add_contact(conn, clock.now(), f"c{i}@example.org") for i in range(40)]
        for cid in people:
            add_event(conn, cid, "signed.up", clock.now())
    drain(w)
    control = {cid for cid in people if in_control_group("held", cid, 30)}
    assert 0 < len(control) < 40
    buyers = people[:20]
    with container.engine.begin() as conn:
        for cid in buyers:
            add_event(conn, cid, "order.completed", clock.now(), total=10)
    drain(w)
    with container.engine.connect() as conn:
        o, t = schema.outbox, schema.traces
        sent_to = {int(r[0]) for r in conn.execute(sa.select(o.c.contact_id))}
        held = {int(r[0]) for r in conn.execute(sa.select(t.c.contact_id).where(t.c.action == "held_out"))}
        data = journey_report(SqlAnalytics(conn), "held", Range())
    assert sent_to == set(people) - control and held == control
    cg = data["control_group"]
    tb = [c for c in buyers if c not in control]
    cb = [c for c in buyers if c in control]
    assert cg["percent"] == 30.0
    assert (cg["treated_contacts"], cg["treated_converted"]) == (40 - len(control), len(tb))
    assert (cg["control_contacts"], cg["control_converted"]) == (len(control), len(cb))
    assert cg["lift_points"] == round(len(tb) / (40 - len(control)) - len(cb) / len(control), 6)
    assert data["totals"]["converted"] == 20
    r = api.get("/api/analytics/journeys/held").json()
    assert r["control_group"] == cg
    # the economics: incremental revenue against the control group, with its interval
    econ = api.get("/api/journeys/held/economics").json()
    per_t, per_c = 10 * len(tb) / (40 - len(control)), 10 * len(cb) / len(control)
    assert econ["incremental_revenue"] == round((per_t - per_c) * (40 - len(control)), 2)
    inc = econ["incremental"]
    assert inc["percent"] == 30.0 and inc["control_entrants"] == len(control)
    assert inc["treated_revenue"] == 10 * len(tb) and inc["control_revenue"] == 10 * len(cb)
    lo, hi = inc["interval"]
    assert lo < econ["incremental_revenue"] < hi
    assert econ["attributed_revenue"] == 200.0


def test_economics_says_no_control_group_when_there_is_none(api: Any) -> None:
    doc = DOC.replace("key: held", "key: plain").replace("  control_group: 30\n", "")
    assert api.post("/api/journeys?publish=true", content=doc, headers={"Content-Type": "application/yaml"}).is_success
    econ = api.get("/api/journeys/plain/economics").json()
    assert econ["incremental_revenue"] is None and econ["incremental"] is None
    assert econ["incremental_note"].startswith("no control group")
