"""Global send policies with a real worker: a capped contact gets exactly the allowed messages across journeys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tests.integration.journey_support import add_contact, add_event, drain, outbox, publish
from tidings.application.control import policies
from tidings.application.journeys import journeys as js
from tidings.bootstrap import Container
from tidings.clock import ManualClock
from tidings.store import schema
from tidings.store.control import SqlControl
from tidings.store.sql_uow import joined
from tidings.worker import JourneyWorker

TWO_SENDS = """
key: {key}
triggers:
  - event: signed_up
settings:
{extra}
steps:
  - id: first
    type: send
    channel: email
    template: {key}-1
  - id: second
    type: send
    channel: email
    template: {key}-2
"""

POLICY = {
    "caps": [
        {"channel": "email", "category": "marketing", "max": 1, "per": "day"},
        {"channel": "email", "category": "marketing", "max": 3, "per": "week"},
    ],
    "on_cap": "delay",
    "priorities": ["promo", "news"],
}


def _setup(container: Container, clock: ManualClock, policy: dict, extra: str = "  category: marketing") -> int:
    with container.engine.begin() as conn:
        policies.save(SqlControl(conn), policy, clock.now())
    publish(container, TWO_SENDS.format(key="news", extra=extra))
    publish(container, TWO_SENDS.format(key="promo", extra="  category: marketing"))
    with container.engine.begin() as conn:
        cid = add_contact(conn, clock.now(), "capped@example.org", timezone="America/New_York")
        add_event(conn, cid, "signed_up", clock.now())
    return cid


def _sent(container: Container, cid: int) -> list[tuple[str, datetime]]:
    with container.engine.connect() as conn:
        return [(r["template"], r["created_at"]) for r in outbox(conn, cid)]


def _walk(container: Container, clock: ManualClock, until: datetime) -> None:
    w = JourneyWorker(container)
    drain(w)
    while clock.now() < until:
        clock.advance(timedelta(hours=1))
        drain(w)


def test_one_marketing_email_a_local_day_three_a_week_across_two_journeys(
    container: Container, clock: ManualClock
) -> None:
    assert clock.now() == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday, 04:00 in New York
    cid = _setup(container, clock, POLICY)
    # through Sunday 23:00 in New York (EDT from March 8)
    _walk(container, clock, datetime(2026, 3, 9, 3, 0, tzinfo=UTC))
    sent = _sent(container, cid)
    # promo wins the contested slots (priorities); one a local day; the fourth waits for next week
    assert [t for t, _ in sent] == ["promo-1", "promo-2", "news-1"]
    assert [at for _, at in sent] == [
        datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        datetime(2026, 3, 3, 5, 0, tzinfo=UTC),  # Tuesday 00:00 EST
        datetime(2026, 3, 4, 5, 0, tzinfo=UTC),
    ]
    with container.engine.connect() as conn:
        t = schema.traces
        waits = (
            conn.execute(sa.select(t.c.detail).where(t.c.action == "wait", t.c.step_id == "second").order_by(t.c.id))
            .scalars()
            .all()
        )
    last = [w for w in waits if w.get("reason") == "send_policy_cap"][-1]
    assert last["cap"]["per"] == "week" and last["until"].startswith("2026-03-09T04:00")  # Monday 00:00 EDT
    _walk(container, clock, datetime(2026, 3, 9, 5, 0, tzinfo=UTC))
    assert [t for t, _ in _sent(container, cid)] == ["promo-1", "promo-2", "news-1", "news-2"]


def test_skip_drops_capped_messages_and_an_exempt_journey_is_not_capped(
    container: Container, clock: ManualClock
) -> None:
    policy = {**POLICY, "on_cap": "skip"}
    cid = _setup(container, clock, policy, extra="  exempt_from_caps: true")
    _walk(container, clock, clock.now() + timedelta(hours=2))
    # news is exempt: both its sends go; promo: the first, its second is skipped (the day's one was used)
    assert sorted(t for t, _ in _sent(container, cid)) == ["news-1", "news-2", "promo-1"]
    with container.engine.connect() as conn:
        t = schema.traces
        skipped = conn.execute(sa.select(t.c.detail).where(t.c.action == "send_skipped")).scalars().all()
    assert [s["reason"] for s in skipped] == ["send_policy_cap"]
    with container.engine.connect() as conn:  # the exemption is shown (journeys show --json)
        shown = js.describe(joined(conn), "news")
    assert shown["control"] == {"category": "marketing", "exempt_from_caps": True, "loop_limit": None}
    assert shown["enrollments"][0]["count"] == 1
