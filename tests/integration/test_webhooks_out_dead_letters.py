"""Dead letters (API and CLI) and the built-in webhook sink."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner

from tidings.application.delivery.dead_letters import bury
from tidings.application.ports.senders import OutgoingMessage
from tidings.bootstrap import Container
from tidings.channels.ssrf import AllowList
from tidings.channels.webhooks import WebhookProvider, secret_for, sign
from tidings.store import schema
from tidings.store.sql_uow import joined


def dead_row(container: Container) -> int:
    now = container.clock.now()
    with container.engine.begin() as conn:
        oid = conn.execute(
            sa.insert(schema.outbox).values(
                contact_id=5,
                idempotency_key="wh-dead",
                kind="webhook",
                channel="webhook",
                payload={"url": "https://crm.example/hook"},
                status="sending",
                attempts=6,
                next_attempt_at=now,
                created_at=now,
            )
        ).inserted_primary_key[0]
        row = dict(conn.execute(sa.select(schema.outbox).where(schema.outbox.c.id == oid)).mappings().one())
        bury(joined(conn), row, "HTTP 503 from https://crm.example/hook", now)
        bury(joined(conn), row, "HTTP 503 from https://crm.example/hook", now)  # idempotent
    return int(oid)


def test_list_and_retry_through_the_api(api: Any, container: Container) -> None:
    oid = dead_row(container)
    items = api.get("/api/dead-letters").json()["items"]
    assert len(items) == 1
    item = items[0]
    assert item["outbox_id"] == oid and item["status"] == "dead" and "503" in item["reason"]
    r = api.post(f"/api/dead-letters/{item['id']}/retry")
    assert r.status_code == 200, r.text
    with container.engine.connect() as conn:
        row = conn.execute(sa.select(schema.outbox).where(schema.outbox.c.id == oid)).mappings().one()
    assert (
        row["status"] == "pending"
        and row["attempts"] == 0
        and row["next_attempt_at"] == container.clock.now()
    )
    assert api.get("/api/dead-letters").json()["items"] == []
    assert len(api.get("/api/dead-letters?include_retried=true").json()["items"]) == 1
    again = api.post(f"/api/dead-letters/{item['id']}/retry")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    missing = api.post("/api/dead-letters/999/retry")
    assert missing.status_code == 404 and missing.json()["error"]["details"][0]["loc"] == [
        "path",
        "dead_letter_id",
    ]


def test_cli_list_and_retry(container: Container, db_url: str, monkeypatch: Any) -> None:
    from tidings.cli import common
    from tidings.cli.main import app

    monkeypatch.setattr(common.console, "width", 250)
    dead_row(container)
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    runner = CliRunner()
    listed = runner.invoke(app, ["dead-letters", "list"])
    assert listed.exit_code == 0, listed.output
    assert "crm.example" in listed.output
    ok = runner.invoke(app, ["dead-letters", "retry", "1"])
    assert ok.exit_code == 0, ok.output
    assert "pending again" in ok.output
    bad = runner.invoke(app, ["dead-letters", "retry", "1"])
    assert bad.exit_code != 0


def webhook_message(url: str, n: int, **data: Any) -> OutgoingMessage:
    return OutgoingMessage(
        outbox_id=n,
        channel="webhook",
        contact_id=1,
        recipient=url,
        idempotency_key=f"i{n}",
        message_ref=f"wh-{n}",
        data={"url": url, **data},
    )


async def test_sink_records_signed_webhooks_only(live_server: Any, container: Container) -> None:
    import httpx

    provider = WebhookProvider(
        secret=secret_for(container),
        clock=container.clock,
        allow=AllowList.parse([], own_urls=[live_server.url]),
    )
    url = f"{live_server.url}/sink/webhook/crm"
    result = await provider.send(webhook_message(url, 1, body={"hello": "sink"}))
    await provider.aclose()
    assert result.ok, result.error
    async with httpx.AsyncClient() as client:
        forged = await client.post(
            url,
            content=b"{}",
            headers={"X-Tidings-Timestamp": "1", "X-Tidings-Signature": sign("nope", 1, b"{}")},
        )
    assert forged.status_code == 401
    with container.engine.connect() as conn:
        rows = conn.execute(sa.select(schema.inbox)).mappings().all()
    assert len(rows) == 1
    assert (
        rows[0]["channel"] == "webhook" and rows[0]["subject"] == "crm" and rows[0]["message_ref"] == "wh-1"
    )
    assert rows[0]["body_text"] == '{"hello":"sink"}'


async def test_webhook_steps_cannot_call_our_own_api(live_server: Any, container: Container, admin_key: str) -> None:
    """Issue 12: only the local sinks of our own origin, never its API (even with an admin key)."""
    provider = WebhookProvider(
        secret=secret_for(container), clock=container.clock, allow=AllowList.parse([], own_urls=[live_server.url])
    )
    results = []
    for path in ("/api/events", "/sink/../api/events", "/api/contacts"):
        msg = webhook_message(
            f"{live_server.url}{path}",
            2,
            headers={"Authorization": f"Bearer {admin_key}"},
            body={"email": "forged@example.org", "name": "order.completed"},
        )
        results.append(await provider.send(msg))
    await provider.aclose()
    for result in results:
        assert not result.ok and result.status.name == "FAILED_PERMANENT"
        assert "own origin" in (result.error or "")
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.events)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.contacts)).scalar() == 0
