"""Webhook steps through the real delivery loop: delivered, refused (reason kept), retried, dead-lettered."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from tests.fake_http import FakeHttpServer, Reply
from tests.integration.channels_helpers import outbox_row
from tidings.bootstrap import Container
from tidings.channels.delivery import Deliverer
from tidings.channels.registry import build_registry
from tidings.store import schema


async def drain(container: Container) -> int:
    registry = build_registry(container)
    try:
        return await Deliverer(container, registry).drain()
    finally:
        await registry.aclose()


def webhook_row(container: Container, url: str, key: str = "enr1:hook:1") -> int:
    now = container.clock.now()
    with container.engine.begin() as conn:
        cid = conn.execute(
            sa.insert(schema.contacts).values(
                email="ann@example.org", attributes={}, created_at=now, updated_at=now
            )
        ).inserted_primary_key[0]
        return int(
            conn.execute(
                sa.insert(schema.outbox).values(
                    contact_id=cid,
                    idempotency_key=key,
                    kind="webhook",
                    channel="webhook",
                    payload={"url": url, "method": "POST", "body": {"lead": "ann"}, "headers": {}},
                    status="pending",
                    next_attempt_at=now,
                    created_at=now,
                )
            ).inserted_primary_key[0]
        )


async def test_internal_url_is_refused_and_the_reason_recorded(container: Container) -> None:
    oid = webhook_row(container, "http://169.254.169.254/latest/meta-data/")
    await drain(container)
    row = outbox_row(container.engine, oid)
    assert row["status"] in {"failed", "dead"}
    assert "169.254.169.254 is a cloud metadata address; allow it with TIDINGS_WEBHOOK_ALLOW" in row["error"]


async def test_allowed_receiver_gets_it_once(container: Container) -> None:
    with FakeHttpServer() as server:
        container.settings = replace(container.settings, webhook_allow=("127.0.0.1/32",))
        oid = webhook_row(container, f"{server.url}/hook")
        await drain(container)
    assert outbox_row(container.engine, oid)["status"] == "sent"
    assert len(server.requests) == 1 and server.requests[0].json == {"lead": "ann"}


async def test_failing_receiver_is_retried_then_dead_lettered_and_retryable(
    container: Container, api: Any
) -> None:
    answers = [Reply(503, {})] * 3 + [Reply(200, {})]
    with FakeHttpServer(lambda r: answers[min(len(server.requests), len(answers)) - 1]) as server:
        container.settings = replace(
            container.settings, webhook_allow=("127.0.0.1/32",), webhook_max_attempts=3
        )
        oid = webhook_row(container, f"{server.url}/hook")
        for _ in range(3):
            await drain(container)
            container.clock.advance(timedelta(hours=7))
        row = outbox_row(container.engine, oid)
        assert row["status"] == "dead", row
        assert len(server.requests) == 3
        (dead,) = api.get("/api/dead-letters").json()["items"]
        assert dead["outbox_id"] == oid and "503" in dead["reason"]
        assert api.post(f"/api/dead-letters/{dead['id']}/retry").status_code == 200
        await drain(container)
    assert outbox_row(container.engine, oid)["status"] == "sent"
    assert len(server.requests) == 4
    assert server.requests[3].headers["x-tidings-idempotency-key"] == "enr1:hook:1"
