"""Analytics end to end: a journey sends over real SMTP to the catcher, recipients open (some through
Apple Mail Privacy Protection), click and unsubscribe over real HTTP, one buys; the rollups fed by the
worker equal the events in the database, machine opens are reported apart and never in the human
open rate, and the API, the CSV export and `tidings report` say the same. The backfill rebuilds the
same figures from the events."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.conftest import LiveStack
from tests.integration.channels_helpers import add_contact, add_template
from tests.integration.journey_support import add_event
from tests.journey_docs import send_then_wait
from tidings.application.access.keys import create_key
from tidings.clock import ManualClock
from tidings.store import schema
from tidings.store.sql_uow import SqlUnitOfWork

JOURNEY = send_then_wait(
    "welcome", "signed.up", "5d", wait_id="linger", settings="  goal: {event: order.completed, revenue: total}\n"
)
HUMAN = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"}
APPLE_MPP = {"User-Agent": "Mozilla/5.0"}


def _db_counts(engine: sa.Engine) -> dict[str, Any]:
    e = schema.events
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(e.c.name, e.c.properties, e.c.value).where(
                e.c.name.like("message.%") | (e.c.name == "journey.converted")
            )
        ).all()
    opens = [p for n, p, _ in rows if n == "message.opened"]
    clicks = [p for n, p, _ in rows if n == "message.clicked"]
    return {
        "sent": sum(n == "message.sent" for n, _, _ in rows),
        "opened_human": sum(not p["machine"] for p in opens),
        "opened_human_unique": len({p["message_id"] for p in opens if not p["machine"]}),
        "opened_machine": sum(bool(p["machine"]) for p in opens),
        "opened_machine_unique": len({p["message_id"] for p in opens if p["machine"]}),
        "clicked": sum(not p["machine"] for p in clicks),
        "clicked_unique": len({p["message_id"] for p in clicks if not p["machine"]}),
        "unsubscribed": sum(n == "message.unsubscribed" for n, _, _ in rows),
        "converted": sum(n == "journey.converted" for n, _, _ in rows),
        "revenue": sum(float(v or 0) for n, _, v in rows if n == "journey.converted"),
    }


def test_rollups_equal_the_events_of_a_live_run(
    live_stack: LiveStack, clock: ManualClock, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    eng = live_stack.container.engine
    _, key = create_key(SqlUnitOfWork(eng), "e2e", ["admin"], clock.now())
    add_template(eng, clock.now())
    people = [add_contact(eng, clock.now(), email=f"p{i}@example.org") for i in range(4)]
    with httpx.Client(base_url=live_stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        r = http.post("/api/journeys?publish=true", content=JOURNEY, headers={"Content-Type": "application/yaml"})
        assert r.status_code == 201, r.text
        with eng.begin() as conn:
            for cid in people:
                add_event(conn, cid, "signed.up", clock.now())
        assert http.post("/api/test/settle").status_code == 200
        mails = {}
        for item in http.get("/api/inbox", params={"channel": "email"}).json()["items"]:
            mails[item["recipient"]] = http.get(f"/api/inbox/{item['id']}").json()
        assert sorted(mails) == [f"p{i}@example.org" for i in range(4)]
        assert http.post("/api/test/clock/advance", json={"seconds": 60}).status_code == 200

        def pixel(i: int) -> str:
            return next(u for u in mails[f"p{i}@example.org"]["tracking_links"] if "/t/o/" in u)

        def link(i: int) -> str:
            return next(u for u in mails[f"p{i}@example.org"]["tracking_links"] if "/t/c/" in u)

        for url, headers in [
            (pixel(0), HUMAN), (pixel(0), HUMAN),  # p0 opens twice...
            (link(0), HUMAN),  # ...and clicks
            (pixel(1), APPLE_MPP),  # p1: only Apple's proxy fetches the pixel
            (pixel(2), APPLE_MPP), (pixel(2), HUMAN),  # p2: the proxy, then the person
        ]:
            assert httpx.get(url, headers=headers, follow_redirects=False).status_code in (200, 302)
        unsub = re.search(r"<(http[^>]+/u/[^>]+)>", mails["p3@example.org"]["headers"]["list-unsubscribe"])
        assert unsub
        r = httpx.post(unsub.group(1), content="List-Unsubscribe=One-Click",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 200
        with eng.begin() as conn:
            add_event(conn, people[0], "order.completed", clock.now(), total=49.5)
        assert http.post("/api/test/settle").status_code == 200

        expected = _db_counts(eng)
        assert expected == {
            "sent": 4, "opened_human": 3, "opened_human_unique": 2, "opened_machine": 2,
            "opened_machine_unique": 2, "clicked": 1, "clicked_unique": 1, "unsubscribed": 1,
            "converted": 1, "revenue": 49.5,
        }
        report = http.get("/api/analytics/journeys/welcome").json()
        totals = report["totals"]
        assert {k: totals[k] for k in expected} == expected
        assert totals["delivered"] == 4
        assert totals["open_rate"] == 0.5  # 2 people of 4 opened; Apple's proxy does not count
        assert totals["machine_open_rate"] == 0.5
        assert totals["click_rate"] == 0.25 and totals["click_to_open_rate"] == 0.5
        assert [s["step"] for s in report["by_step"]] == ["hello"]
        assert [v["journey_version"] for v in report["by_version"]] == [1]
        assert sum(d["sent"] for d in report["series"]) == 4
        funnel = http.get("/api/analytics/journeys/welcome/steps").json()["steps"]
        assert funnel[0]["step"] == "hello" and funnel[0]["opened_human_unique"] == 2

        today = clock.now().date()
        csv_text = http.get("/api/analytics/journeys/welcome", params={"format": "csv"}).text
        rows = list(csv.DictReader(io.StringIO(csv_text)))
        assert [(r["day"], r["sent"], r["opened_human_unique"]) for r in rows] == [(today.isoformat(), "4", "2")]
        assert http.get("/api/analytics/templates/welcome").json()["totals"]["clicked_unique"] == 1
        chan = http.get("/api/analytics/channels").json()["by_channel"]
        assert [(c["channel"], c["sent"]) for c in chan] == [("email", 4)]
        attributed = http.get("/api/analytics/journeys/welcome", params={"model": "linear"}).json()["attribution"]
        assert attributed["by_step"] == [{"step": "welcome/hello", "conversions": 1.0, "revenue": 49.5}]

        bad = http.get("/api/analytics/journeys/welcome", params={"from": "2026-03-10", "to": "2026-03-01"})
        assert bad.status_code == 422 and bad.json()["error"]["details"][0]["loc"] == ["query", "from"]
        assert http.get("/api/analytics/journeys/nope").status_code == 404
        paths = http.get("/openapi.json").json()["paths"]
        assert "/api/analytics/journeys/{key}" in paths and "/api/analytics/channels" in paths

    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    from tidings.cli.main import app

    run = CliRunner().invoke
    out = run(app, ["report", "journey", "welcome", "--json"])
    assert out.exit_code == 0, out.output
    assert {k: json.loads(out.output)["totals"][k] for k in expected} == expected
    out = run(app, ["report", "step", "welcome/hello"])
    assert out.exit_code == 0 and "hello" in out.output
    out = run(app, ["report", "journey", "welcome", "--from", "2026-03-10", "--to", "2026-03-01"])
    assert out.exit_code == 2 and "--from" in out.output
    # the backfill rebuilds the same figures from the events
    with eng.begin() as conn:
        conn.execute(sa.delete(schema.analytics_daily))
    out = run(app, ["analytics", "backfill", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output.strip().splitlines()[-1])["counted"] > 0
    out = run(app, ["report", "journey", "welcome", "--json"])
    assert {k: json.loads(out.output)["totals"][k] for k in expected} == expected
    assert json.loads(out.output)["totals"]["delivered"] == 4
