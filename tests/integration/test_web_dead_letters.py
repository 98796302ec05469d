"""Web app: the dead letters page — list with reason, channel, contact, time; admins retry or
discard (through services.dead_letters); others only look."""

from __future__ import annotations

import sqlalchemy as sa

from tests.web_support import web_client
from tidings.application.delivery.dead_letters import bury
from tidings.bootstrap import Container
from tidings.store import schema
from tidings.store.sql_uow import joined


def dead(container: Container, n: int = 1) -> list[int]:
    now = container.clock.now()
    ids = []
    with container.engine.begin() as conn:
        cid = conn.execute(
            sa.insert(schema.contacts).values(
                email="hook@example.org", first_name="Hook", attributes={}, created_at=now, updated_at=now
            )
        ).inserted_primary_key[0]
        for i in range(n):
            row = {
                "contact_id": cid,
                "idempotency_key": f"wh-dead-{i}",
                "kind": "webhook",
                "channel": "webhook",
                "payload": {"url": f"https://crm.example/hooks/{i}?token=secret", "method": "POST",
                            "body": {}, "headers": {"Authorization": "Bearer hdr-t0ken"}},
                "status": "sending",
                "attempts": 5,
                "next_attempt_at": now,
                "created_at": now,
            }
            oid = conn.execute(sa.insert(schema.outbox).values(**row)).inserted_primary_key[0]
            bury(joined(conn), row | {"id": oid}, f"HTTP 503 <from> receiver {i}", now)
        ids = list(conn.execute(sa.select(schema.dead_letters.c.id).order_by(schema.dead_letters.c.id)).scalars())
    return ids


def _outbox_status(container: Container, dead_id: int) -> str:
    d, o = schema.dead_letters, schema.outbox
    with container.engine.connect() as conn:
        return str(conn.execute(
            sa.select(o.c.status).select_from(d.join(o, o.c.id == d.c.outbox_id)).where(d.c.id == dead_id)
        ).scalar_one())


def test_admin_lists_retries_and_discards(container):
    first, second = dead(container, 2)
    with web_client(container, "admin") as (client, token):
        html = client.get("/dead-letters").text
        assert "HTTP 503 &lt;from&gt; receiver 0" in html and "receiver 1" in html
        assert "https://crm.example/hooks/0" in html
        assert "secret" not in html and "hdr-t0ken" not in html  # no query strings, no headers
        assert ">Hook</a>" in html and "webhook" in html and "Retry" in html and "Discard" in html
        assert 'data-nav="dead-letters"' in html

        r = client.post(f"/dead-letters/{first}/retry", data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303
        assert "back in the outbox" in client.get(r.headers["location"]).text
        assert _outbox_status(container, first) == "pending"

        r = client.post(f"/dead-letters/{second}/discard", data={"csrf_token": token})
        assert "discarded" in r.text
        assert _outbox_status(container, second) == "dead"

        waiting = client.get("/dead-letters").text
        assert "receiver 0" not in waiting and "receiver 1" not in waiting and "Nothing waiting" in waiting
        everything = client.get("/dead-letters?show=all").text
        assert "s-retried" in everything and "s-discarded" in everything

        # a handled one cannot be handled again; a missing one is a 404
        again = client.post(f"/dead-letters/{second}/retry", data={"csrf_token": token})
        assert "Nothing done" in again.text and "discarded" in again.text
        assert _outbox_status(container, second) == "dead"
        assert client.post("/dead-letters/9999/discard", data={"csrf_token": token}).status_code == 404


def test_the_api_no_longer_lists_discarded_letters(container, api):
    (only,) = dead(container, 1)
    with web_client(container, "admin") as (client, token):
        client.post(f"/dead-letters/{only}/discard", data={"csrf_token": token})
    assert api.get("/api/dead-letters").json()["items"] == []
    assert api.post(f"/api/dead-letters/{only}/retry").status_code == 409


def test_marketers_and_viewers_look_but_cannot_act(container):
    (only,) = dead(container, 1)
    for role in ("marketer", "viewer"):
        with web_client(container, role) as (client, token):
            html = client.get("/dead-letters").text
            assert "receiver 0" in html and "Only an admin can retry" in html
            assert 'action="/dead-letters/' not in html
            for action in ("retry", "discard"):
                r = client.post(f"/dead-letters/{only}/{action}", data={"csrf_token": token})
                assert r.status_code == 403 and "only an admin" in r.text
    assert _outbox_status(container, only) == "dead"
