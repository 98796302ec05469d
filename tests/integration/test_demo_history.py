"""The demo's 90 days of history: counts, spread, reports filled, nothing re-sent, idempotent."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.integration.journey_support import drain
from tidings.application.analytics import reports
from tidings.application.analytics.attribution import attributed
from tidings.bootstrap import Container
from tidings.cli.demo import LIVE_HOURS, load_demo
from tidings.store import schema
from tidings.store.analytics import SqlAnalytics
from tidings.worker import JourneyWorker


def _count(conn: sa.Connection, table: sa.Table, *where: object) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())


@pytest.fixture
def seeded(container: Container) -> Container:
    load_demo(container)
    return container


def test_history_counts_and_spread(seeded: Container) -> None:
    now = seeded.clock.now()
    c, e, o, en = schema.contacts, schema.events, schema.outbox, schema.enrollments
    with seeded.engine.connect() as conn:
        assert _count(conn, c) >= 400
        oldest = conn.execute(sa.select(sa.func.min(c.c.created_at))).scalar_one()
        assert now - timedelta(days=91) < oldest.replace(tzinfo=now.tzinfo) <= now - timedelta(days=89)
        locales = {r[0] for r in conn.execute(sa.select(c.c.locale).distinct())}
        assert {"ar", "th", "uk", "zh-Hans", "lo", "en"} <= locales
        for name in (
            "page.viewed",
            "product.viewed",
            "cart.abandoned",
            "order.completed",
            "message.opened",
            "message.clicked",
            "journey.converted",
        ):
            assert _count(conn, e, e.c.name == name) > 0, name
        assert _count(conn, o, o.c.status == "sent") > 500
        assert _count(conn, en, en.c.status == "ended") > 100
        assert _count(conn, en, en.c.status == "waiting") > 0
        # every waiting history enrolment has its timer in the future
        waiting_timers = (
            conn.execute(sa.select(schema.timers.c.due_at).join(en, en.c.id == schema.timers.c.enrollment_id))
            .scalars()
            .all()
        )
        assert waiting_timers and all(t.replace(tzinfo=now.tzinfo) > now for t in waiting_timers)
        revenue = conn.execute(sa.select(sa.func.sum(e.c.value)).where(e.c.name == "order.completed")).scalar_one()
        assert revenue > 0


def test_reports_are_filled(seeded: Container) -> None:
    with seeded.engine.connect() as conn:
        repo = SqlAnalytics(conn)
        r = reports.Range(None, None)
        for key in ("welcome-series", "abandoned-cart"):
            rep = reports.journey_report(repo, key, r)
            text = repr(rep)
            assert "sent" in text
            totals = rep["totals"]
            assert totals["sent"] > 0 and totals["delivered"] > 0
            assert 0 < totals["open_rate"] < 1 and 0 < totals["click_rate"] < 1
        cart = reports.journey_report(repo, "abandoned-cart", r)["totals"]
        assert cart["converted"] > 0 and cart["revenue"] > 0
        channels = reports.channels_report(repo, r)
        assert "email" in repr(channels)
        att = attributed(repo, r, journey="abandoned-cart")
        assert att["conversions"] > 0 and att["revenue"] > 0
        assert att["by_template"] and att["by_template"][0]["revenue"] > 0


def test_no_live_send_to_old_subscribers(seeded: Container) -> None:
    """After seeding, the worker runs to quiet: no welcome goes to anyone who subscribed before the
    welcome series' first wait (a day), and no message to a contact who did nothing recently."""
    o, e = schema.outbox, schema.events
    with seeded.engine.connect() as conn:
        before = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(o.c.id), 0))).scalar_one())
    drain(JourneyWorker(seeded))
    now = seeded.clock.now()
    with seeded.engine.connect() as conn:
        new = conn.execute(sa.select(o.c.contact_id, o.c.template).where(o.c.id > before)).all()
        assert new, "the showcase's live events (a cart left minutes ago) do run"
        for contact_id, template in new:
            times = conn.execute(
                sa.select(e.c.name, e.c.occurred_at).where(e.c.contact_id == contact_id, e.c.source == "demo")
            ).all()
            subscribed = [t.replace(tzinfo=now.tzinfo) for name, t in times if name == "subscribed"]
            if str(template).startswith("welcome-"):
                assert not [t for t in subscribed if t < now - timedelta(days=1)], (contact_id, template)
            recent = [t for _, t in times if t.replace(tzinfo=now.tzinfo) > now - timedelta(hours=LIVE_HOURS)]
            assert recent, (contact_id, template)


def test_second_load_adds_nothing(seeded: Container) -> None:
    tables = (schema.contacts, schema.events, schema.outbox, schema.enrollments, schema.timers, schema.analytics_daily)
    with seeded.engine.connect() as conn:
        before = [_count(conn, t) for t in tables]
        sums = conn.execute(sa.select(sa.func.sum(schema.analytics_daily.c.sent))).scalar_one()
    load_demo(seeded)
    with seeded.engine.connect() as conn:
        assert [_count(conn, t) for t in tables] == before
        assert conn.execute(sa.select(sa.func.sum(schema.analytics_daily.c.sent))).scalar_one() == sums


def test_dashboard_and_timeline_show_the_past(seeded: Container) -> None:
    from tests.web_support import web_client

    with seeded.engine.connect() as conn:
        cid = conn.execute(
            sa.select(schema.contacts.c.id).where(schema.contacts.c.email == "demo-000@example.com")
        ).scalar_one()
    with web_client(seeded, "viewer") as (client, _):
        daily = client.get("/dashboard/data.json?chart=daily").json()
        series = {d["label"]: d["data"] for d in daily["datasets"]}
        assert sum(series["Sent"]) > 0 and sum(series["Opened (people)"]) > 0
        page = client.get(f"/contacts/{cid}")
        assert page.status_code == 200
        assert "subscribed" in page.text and "message.sent" in page.text


def test_waiting_enrolments_go_on_when_their_time_comes(seeded: Container) -> None:
    """The replayed enrolments are the engine's own: when their timers fall due, the worker takes
    them to their next step (the welcome series' next day, the cart's next reminder)."""
    o, en, c = schema.outbox, schema.enrollments, schema.contacts
    with seeded.engine.connect() as conn:
        before = int(conn.execute(sa.select(sa.func.max(o.c.id))).scalar_one())
        waiting = _count(conn, en, en.c.status == "waiting")
    drain(JourneyWorker(seeded))
    seeded.clock.advance(timedelta(days=4))  # type: ignore[attr-defined]
    drain(JourneyWorker(seeded))
    with seeded.engine.connect() as conn:
        new = (
            conn.execute(
                sa.select(o.c.template)
                .join(c, c.c.id == o.c.contact_id)
                .where(o.c.id > before, c.c.email.like("demo-%"))
            )
            .scalars()
            .all()
        )
        still = _count(
            conn, en, en.c.status == "waiting", en.c.contact_id.in_(sa.select(c.c.id).where(c.c.email.like("demo-%")))
        )
    assert {t for t in new if t.startswith("welcome-")} and {t for t in new if t.startswith("cart-reminder")}, new
    assert "welcome-1" not in new  # the entry message went in the past, once
    assert still < waiting


def test_why_explains_a_past_message(seeded: Container) -> None:
    """Each history message has the engine's trace: "why" tells the path that sent it."""
    from tidings.application.journeys.why import why
    from tidings.store.traces_sql import SqlMessageTraces

    o, c = schema.outbox, schema.contacts
    with seeded.engine.connect() as conn:
        untraced = _count(
            conn, o, o.c.trace_id.is_(None), o.c.contact_id.in_(sa.select(c.c.id).where(c.c.email.like("demo-%")))
        )
        cid, mid = conn.execute(
            sa.select(o.c.contact_id, o.c.id)
            .join(c, c.c.id == o.c.contact_id)
            .where(c.c.email.like("demo-%"), o.c.template == "welcome-2")
            .limit(1)
        ).one()
        answer = why(SqlMessageTraces(conn), int(cid), int(mid))
    assert untraced == 0
    msg = answer["message"]
    assert msg["journey"] == "welcome-series" and msg["step"] == "best-of" and msg["trace"] is not None
    steps = [p["step"] for p in msg["path"]]
    assert "welcome" in steps and "wait-day-2" in steps, steps
    assert msg["explanation"]
