"""Bounces seen by the delivery loop: suppressed addresses, paused sending domains hold email."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from tests.integration.channels_helpers import (
    RecordingEmail,
    add_contact,
    add_outbox,
    add_template,
    outbox_row,
)
from tidings.bootstrap import Container
from tidings.channels.bounces import Feedback, Limits, record_feedback
from tidings.channels.delivery import Deliverer
from tidings.channels.registry import ChannelRegistry
from tidings.store import schema
from tidings.store.sql_uow import joined


async def drain(container: Container) -> RecordingEmail:
    email = RecordingEmail()
    await Deliverer(container, ChannelRegistry({"email": email})).drain()
    return email


async def test_hard_bounce_suppresses_later_sends(container: Container) -> None:
    now = container.clock.now()
    cid = add_contact(container.engine, now, email="gone@example.org")
    add_template(container.engine, now)
    with container.engine.begin() as conn:
        record_feedback(
            joined(conn), [Feedback("hard_bounce", "Gone@Example.org", "webhook", ref="x")], now, Limits()
        )
    marketing = add_outbox(container.engine, now, cid)
    transactional = add_outbox(container.engine, now, cid, category="transactional")
    sent = await drain(container)
    assert sent.sent == []
    assert outbox_row(container.engine, marketing)["status"] == "suppressed"
    assert outbox_row(container.engine, transactional)["status"] == "suppressed"


async def test_paused_domain_holds_its_email_until_resumed(container: Container, api: Any) -> None:
    container.settings = replace(container.settings, email_from="News <news@mail.shop.test>")
    now = container.clock.now()
    cid = add_contact(container.engine, now)
    add_template(container.engine, now)
    with container.engine.begin() as conn:
        conn.execute(
            sa.insert(schema.sending_domains).values(
                domain="mail.shop.test",
                status="paused",
                reason="test",
                detail={},
                paused_at=now,
                updated_at=now,
            )
        )
    oid = add_outbox(container.engine, now, cid)
    sent = await drain(container)
    assert sent.sent == []
    row = outbox_row(container.engine, oid)
    assert row["status"] == "pending" and "mail.shop.test" in row["error"] and row["next_attempt_at"] > now
    assert api.post("/api/sending-domains/mail.shop.test/resume").status_code == 200
    container.clock.set(row["next_attempt_at"])
    sent = await drain(container)
    assert [m.outbox_id for m in sent.sent] == [oid]
