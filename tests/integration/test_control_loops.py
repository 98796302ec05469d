"""The loop breaker with a real worker: the issue's runaway pair stops within the rounds, an alert exists."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.integration.journey_support import add_contact, add_event, count, drain, publish
from tidings.application.control import chains
from tidings.application.journeys import journeys as js
from tidings.bootstrap import Container
from tidings.clock import ManualClock
from tidings.store import schema
from tidings.store.control import SqlControl
from tidings.worker import JourneyWorker

TOSS = """
key: {key}
triggers:
  - tag_added: {on}
settings:
  reentry: after_exit
{{limit}}
steps:
  - id: mark
    type: update_contact
    add_tags: [{give}]
    remove_tags: [{on}]
"""
#: the issue's runaway pair: ping adds x (pong's trigger), pong adds y (ping's trigger)
PING = TOSS.format(key="ping", on="y", give="x")
PONG = TOSS.format(key="pong", on="x", give="y")


def _runaway(container: Container, clock: ManualClock, limit: str = "  loop_limit: 3") -> int:
    publish(container, PING.format(limit=limit))
    publish(container, PONG.format(limit=limit))
    with container.engine.begin() as conn:
        cid = add_contact(conn, clock.now(), "loop@example.org")
        conn.execute(sa.insert(schema.contact_tags).values(contact_id=cid, tag="y", created_at=clock.now()))
        add_event(conn, cid, "tag.added", clock.now(), tag="y")
    drain(JourneyWorker(container), limit=100)
    return cid


def _enrolments(conn: sa.Connection, key: str) -> int:
    e, j = schema.enrollments, schema.journeys
    return int(
        conn.execute(
            sa.select(sa.func.count()).select_from(e.join(j, j.c.id == e.c.journey_id)).where(j.c.key == key)
        ).scalar_one()
    )


def test_the_runaway_pair_stops_after_three_rounds_and_raises_an_alert(
    container: Container, clock: ManualClock
) -> None:
    cid = _runaway(container, clock)
    with container.engine.connect() as conn:
        assert (_enrolments(conn, "ping"), _enrolments(conn, "pong")) == (3, 3)
        t = schema.traces
        stops = conn.execute(sa.select(t.c.detail).where(t.c.action == "loop_stopped")).scalars().all()
        assert len(stops) == 1
        assert stops[0]["text"] == "ping -> pong -> ping -> pong -> ping -> pong -> ping"
        assert stops[0]["rounds"] == 4 and stops[0]["limit"]["rounds"] == 3
        assert stops[0]["cause"]["kind"] == "tag_added" and stops[0]["cause"]["value"] == "y"
        alerts = SqlControl(conn).list_alerts()
        assert [(a["kind"], a["contact_id"], a["count"]) for a in alerts] == [("loop_stopped", cid, 1)]
        assert "ping -> pong" in alerts[0]["message"]
        # every enrolment of the chain recorded its cause and its parent
        causes = conn.execute(sa.select(schema.enrollment_causes).order_by("enrollment_id")).mappings().all()
        assert [c["journey_key"] for c in causes] == ["ping", "pong"] * 3
        assert causes[0]["parent_enrollment_id"] is None
        assert all(c["parent_enrollment_id"] == p["enrollment_id"] for p, c in zip(causes, causes[1:], strict=False))
        assert count(conn, schema.contact_queue) == 0


def test_a_per_journey_limit_overrides_the_global_one(container: Container, clock: ManualClock) -> None:
    _runaway(container, clock, "  loop_limit: {rounds: 1, window: 1h}")
    with container.engine.connect() as conn:
        assert (_enrolments(conn, "ping"), _enrolments(conn, "pong")) == (1, 1)
        assert "ping -> pong -> ping" in SqlControl(conn).list_alerts()[0]["message"]


def test_a_cycle_is_refused_at_publish_unless_loop_limit_is_declared(container: Container) -> None:
    publish(container, PING.format(limit=""))
    with pytest.raises(js.Conflict, match=r"loop in the journey map: ping -> pong -> ping"):
        publish(container, PONG.format(limit=""))
    p = publish(container, PONG.format(limit="  loop_limit: 2"))
    assert p.warnings == ("loop in the journey map: ping -> pong -> ping",)


def test_enrol_step_cause(container: Container, clock: ManualClock) -> None:
    assert chains.enrol_cause({"journey": "a", "enrollment": 7}).parent_enrollment == 7


def test_a_new_alert_is_posted_to_the_admins_webhook_once(container: Container, clock: ManualClock) -> None:
    from tidings.application.control import policies

    with container.engine.begin() as conn:
        policies.save(SqlControl(conn), {"notify": {"webhook": "https://ops.example.com/tidings"}}, clock.now())
    cid = _runaway(container, clock)
    with container.engine.connect() as conn:
        o = schema.outbox
        rows = conn.execute(sa.select(o).where(o.c.kind == "webhook")).mappings().all()
    assert len(rows) == 1 and rows[0]["contact_id"] == cid and rows[0]["recipient"] == "https://ops.example.com/tidings"
    alert = rows[0]["payload"]["body"]["alert"]
    assert alert["kind"] == "loop_stopped" and "ping -> pong" in alert["message"]


VIA_SEGMENT = """
key: {key}
triggers:
  - segment_entered: {segment}
settings:
  reentry: after_exit
  loop_limit: 2
steps:
  - id: mark
    type: update_contact
    add_tags: [{give}]
    remove_tags: [{take}]
"""


def test_a_loop_through_segments_is_counted_like_a_direct_one(container: Container, clock: ManualClock) -> None:
    from tidings.application.segments.segments import create_segment

    create_segment(container.segments, "has_x", "Has x", 'tag("x")', clock.now())
    create_segment(container.segments, "has_y", "Has y", 'tag("y")', clock.now())
    publish(container, VIA_SEGMENT.format(key="ping", segment="has_y", give="x", take="y"))
    publish(container, VIA_SEGMENT.format(key="pong", segment="has_x", give="y", take="x"))
    with container.engine.begin() as conn:
        cid = add_contact(conn, clock.now(), "seg@example.org")
        conn.execute(sa.insert(schema.contact_tags).values(contact_id=cid, tag="y", created_at=clock.now()))
        add_event(conn, cid, "tag.added", clock.now(), tag="y")
    drain(JourneyWorker(container), limit=100)
    with container.engine.connect() as conn:
        assert (_enrolments(conn, "ping"), _enrolments(conn, "pong")) == (2, 2)
        [alert] = SqlControl(conn).list_alerts()
    assert "ping -> pong -> ping -> pong -> ping" in alert["message"]
