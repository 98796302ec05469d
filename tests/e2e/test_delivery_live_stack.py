"""The live stack end to end: outbox -> delivery loop -> real SMTP -> catcher -> inbox API; then the
recipient clicks a tracked link and one-click unsubscribes over real HTTP, and nothing else goes out."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import sqlalchemy as sa

from tests.conftest import LiveStack
from tests.integration.channels_helpers import add_contact, add_outbox, add_template, events, outbox_row
from tidings.application.access.keys import create_key
from tidings.clock import ManualClock
from tidings.store.sql_uow import SqlUnitOfWork


def test_send_click_unsubscribe_over_real_smtp_and_http(live_stack: LiveStack, clock: ManualClock) -> None:
    eng = live_stack.container.engine
    _, key = create_key(SqlUnitOfWork(eng), "e2e", ["admin"], clock.now())
    add_template(eng, clock.now())
    cid = add_contact(eng, clock.now(), email="live@example.org")
    first = add_outbox(eng, clock.now(), cid)
    with httpx.Client(
        base_url=live_stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as http:
        assert http.post("/api/test/settle").status_code == 200
        assert outbox_row(eng, first)["status"] == "sent"
        items = http.get("/api/inbox", params={"channel": "email"}).json()["items"]
        assert [i["recipient"] for i in items] == ["live@example.org"]
        mail = http.get(f"/api/inbox/{items[0]['id']}").json()
        assert mail["headers"]["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
        assert mail["headers"]["message-id"].strip("<>") == outbox_row(eng, first)["rendered"]["message_ref"]
        click = next(u for u in mail["tracking_links"] if "/t/c/" in u)

        http.post("/api/test/clock/advance", json={"seconds": 60})
        r = httpx.get(
            click, follow_redirects=False, headers={"User-Agent": "Mozilla/5.0 (X11; Linux) Firefox/140"}
        )
        assert r.status_code == 302 and r.headers["location"] == "https://shop.example.com/offer?a=1&b=2"

        # a second message is queued, then the recipient one-click unsubscribes (RFC 8058: a bare POST)
        second = add_outbox(eng, clock.now() + timedelta(hours=1), cid)
        unsub = re.search(r"<(http[^>]+/u/[^>]+)>", mail["headers"]["list-unsubscribe"])
        assert unsub
        r = httpx.post(
            unsub.group(1),
            content="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
        )
        assert r.status_code == 200
        assert http.post("/api/test/clock/advance", json={"seconds": 7200}).status_code == 200
        assert outbox_row(eng, second)["status"] == "skipped"
        assert len(http.get("/api/inbox", params={"channel": "email"}).json()["items"]) == 1
        message = http.get(f"/api/messages/{first}").json()
        assert [e["name"] for e in message["events"]] == [
            "message.sent",
            "message.clicked",
            "message.unsubscribed",
        ]
    clicked = events(eng, "message.clicked")
    assert clicked[0]["properties"]["machine"] is False
    with eng.connect() as conn:
        status = conn.execute(
            sa.text("SELECT status FROM consents WHERE contact_id = :c"), {"c": cid}
        ).scalar()
    assert status == "unsubscribed"
