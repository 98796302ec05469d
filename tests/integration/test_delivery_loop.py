"""The delivery loop against a real SMTP conversation (the catcher on a free port)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.conftest import free_port
from tests.integration.channels_helpers import add_contact, add_outbox, add_template, events, outbox_row
from tidings.bootstrap import Container
from tidings.channels.delivery import Deliverer
from tidings.channels.registry import build_registry
from tidings.runtime import catcher_service
from tidings.store import schema


@pytest.fixture
def stack(container: Container) -> Iterator[Container]:
    container.settings = replace(container.settings, catcher_port=free_port())
    catcher = catcher_service(container)
    catcher.start()
    yield container
    catcher.stop()


def inbox(engine: sa.Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(schema.inbox).order_by(schema.inbox.c.id)).mappings()]


async def drain(container: Container) -> int:
    registry = build_registry(container)
    try:
        deliverer = Deliverer(container, registry)
        total = await deliverer.drain()
        deliverer.close()
        return total
    finally:
        await registry.aclose()


async def test_pending_message_is_rendered_sent_and_recorded(stack: Container) -> None:
    now = stack.clock.now()
    cid = add_contact(stack.engine, now)
    add_template(stack.engine, now)
    oid = add_outbox(stack.engine, now, cid)
    assert await drain(stack) == 1
    row = outbox_row(stack.engine, oid)
    assert row["status"] == "sent", row["error"]
    assert row["sent_at"] == now and row["attempts"] == 1
    assert row["rendered"]["links"] == ["https://shop.example.com/offer?a=1&b=2"]
    got = inbox(stack.engine)
    assert len(got) == 1
    assert got[0]["subject"] == "Welcome Ann"
    assert got[0]["message_ref"] == row["rendered"]["message_ref"]
    assert "/t/c/" in got[0]["body_html"] and "shop.example.com" not in got[0]["body_html"]
    assert "/t/o/" in got[0]["body_html"]
    sent = events(stack.engine, "message.sent")
    assert [e["properties"]["message_id"] for e in sent] == [oid]
    assert sent[0]["properties"]["template"] == "welcome"
    with stack.engine.connect() as conn:
        assert conn.execute(sa.select(schema.contact_queue.c.contact_id)).scalars().all() == [cid]


async def test_marketing_without_consent_is_skipped_but_transactional_goes(stack: Container) -> None:
    now = stack.clock.now()
    cid = add_contact(stack.engine, now, consent="unsubscribed")
    add_template(stack.engine, now)
    marketing = add_outbox(stack.engine, now, cid)
    transactional = add_outbox(stack.engine, now, cid, category="transactional")
    await drain(stack)
    assert outbox_row(stack.engine, marketing)["status"] == "skipped"
    assert "consent" in outbox_row(stack.engine, marketing)["error"]
    assert outbox_row(stack.engine, transactional)["status"] == "sent"
    got = inbox(stack.engine)
    assert len(got) == 1
    assert "list-unsubscribe" not in got[0]["headers"]  # transactional: no unsubscribe header


async def test_suppressed_address_gets_nothing_even_transactional(stack: Container) -> None:
    now = stack.clock.now()
    cid = add_contact(stack.engine, now, email="Bounced@Example.org")
    add_template(stack.engine, now)
    with stack.engine.begin() as conn:
        conn.execute(
            sa.insert(schema.suppressions).values(
                channel="email",
                address="bounced@example.org",
                reason="hard_bounce",
                detail={},
                created_at=now,
            )
        )
    oid = add_outbox(stack.engine, now, cid, category="transactional")
    await drain(stack)
    assert outbox_row(stack.engine, oid)["status"] == "suppressed"
    assert inbox(stack.engine) == []


async def test_render_failure_fails_that_message_only_with_its_line(stack: Container) -> None:
    now = stack.clock.now()
    good = add_contact(stack.engine, now)
    bad = add_contact(stack.engine, now, email="bob@example.org")
    add_template(stack.engine, now, key="strict", body="<p>Hello</p>\n<p>{{ contact.plan.name }}</p>")
    add_template(stack.engine, now)
    b = add_outbox(stack.engine, now, bad, template="strict")
    g = add_outbox(stack.engine, now, good)
    await drain(stack)
    failed = outbox_row(stack.engine, b)
    assert failed["status"] == "failed"
    assert "line 2" in failed["error"] and "plan" in failed["error"]
    assert outbox_row(stack.engine, g)["status"] == "sent"
    assert [i["recipient"] for i in inbox(stack.engine)] == ["ann@example.org"]
    with stack.engine.connect() as conn:
        trace = conn.execute(sa.select(schema.traces).where(schema.traces.c.outbox_id == b)).mappings().one()
    assert trace["action"] == "message.failed"


async def test_temporary_failure_is_retried_with_backoff(container: Container) -> None:
    container.settings = replace(container.settings, catcher_port=free_port())  # nothing listens there
    now = container.clock.now()
    cid = add_contact(container.engine, now)
    add_template(container.engine, now)
    oid = add_outbox(container.engine, now, cid)
    await drain(container)
    row = outbox_row(container.engine, oid)
    assert row["status"] == "pending" and row["attempts"] == 1
    assert row["next_attempt_at"] == now + timedelta(seconds=30)
    assert row["error"]
    assert await drain(container) == 0  # not due yet


async def test_expired_lease_with_catcher_confirmation_is_not_resent(stack: Container) -> None:
    now = stack.clock.now()
    cid = add_contact(stack.engine, now)
    add_template(stack.engine, now)
    oid = add_outbox(stack.engine, now, cid)
    await drain(stack)
    # simulate a worker that sent it and died before recording: back to "sending", lease expired.
    with stack.engine.begin() as conn:
        conn.execute(
            sa.update(schema.outbox)
            .where(schema.outbox.c.id == oid)
            .values(
                status="sending", lease_owner="dead", lease_until=now - timedelta(seconds=1), handed_off_at=now
            )
        )
    await drain(stack)
    assert outbox_row(stack.engine, oid)["status"] == "sent"
    assert len(inbox(stack.engine)) == 1  # confirmed by the catcher's inbox, not resent


async def test_expired_lease_without_confirmation_becomes_uncertain(container: Container) -> None:
    container.settings = replace(container.settings, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    now = container.clock.now()
    cid = add_contact(container.engine, now)
    oid = add_outbox(
        container.engine,
        now,
        cid,
        status="sending",
        lease_owner="dead",
        lease_until=now - timedelta(seconds=1),
        handed_off_at=now,
        rendered={"message_ref": "1.x@example.org", "subject": "s", "text": "t"},
    )
    await drain(container)
    row = outbox_row(container.engine, oid)
    assert row["status"] == "uncertain"
    assert row["error"].startswith("uncertain")


async def test_a_rendered_message_never_handed_off_is_sent_after_its_sender_died(stack: Container) -> None:
    """Claimed and rendered by a sender that died before its provider call: not uncertain, sent."""
    now = stack.clock.now()
    cid = add_contact(stack.engine, now)
    add_template(stack.engine, now)
    oid = add_outbox(
        stack.engine,
        now,
        cid,
        status="sending",
        attempts=1,
        lease_owner="dead",
        lease_until=stack.lease_clock.now() - timedelta(seconds=1),
        rendered={"message_ref": "9.x@example.org", "subject": "s", "text": "t"},
    )
    live = add_outbox(  # another sender's row whose lease still runs: left alone
        stack.engine, now, cid, status="sending", lease_owner="alive",
        lease_until=stack.lease_clock.now() + timedelta(minutes=1), key="alive",
    )
    await drain(stack)
    row = outbox_row(stack.engine, oid)
    assert row["status"] == "sent" and row["attempts"] == 1, row["error"]
    assert row["handed_off_at"] == now
    assert len(inbox(stack.engine)) == 1
    assert outbox_row(stack.engine, live)["status"] == "sending"


async def test_operator_can_resend_an_uncertain_message(stack: Container, admin_key: str) -> None:
    from tests.integration.channels_helpers import links_client

    now = stack.clock.now()
    cid = add_contact(stack.engine, now)
    add_template(stack.engine, now)
    oid = add_outbox(stack.engine, now, cid, status="uncertain", error="uncertain: ...")
    sent = add_outbox(stack.engine, now, cid, status="sent")
    with links_client(stack) as api:
        api.headers["Authorization"] = f"Bearer {admin_key}"
        assert api.post(f"/api/messages/{sent}/resend").status_code == 409
        assert api.post("/api/messages/999/resend").status_code == 404
        r = api.post(f"/api/messages/{oid}/resend")
        assert r.status_code == 200 and r.json()["status"] == "pending"
    await drain(stack)
    assert outbox_row(stack.engine, oid)["status"] == "sent"
    assert len(inbox(stack.engine)) == 1


async def test_a_provider_crash_is_recorded_and_the_loop_goes_on(container: Container) -> None:
    from tidings.application.ports.senders import DeliveryResult
    from tidings.channels.registry import ChannelRegistry

    class Flaky:
        channel, name = "email", "flaky"

        async def send(self, msg: object) -> DeliveryResult:
            if getattr(msg, "recipient", "").startswith("boom"):
                raise RuntimeError("provider bug")
            return DeliveryResult.accepted("ok")

        async def confirm(self, msg: object) -> bool | None:
            return None

        async def aclose(self) -> None:
            return None

    now = container.clock.now()
    add_template(container.engine, now)
    bad = add_outbox(container.engine, now, add_contact(container.engine, now, email="boom@example.org"))
    good = add_outbox(container.engine, now, add_contact(container.engine, now, email="fine@example.org"))
    deliverer = Deliverer(container, ChannelRegistry({"email": Flaky()}))
    await deliverer.drain()
    deliverer.close()
    crashed = outbox_row(container.engine, bad)
    assert crashed["status"] == "pending" and "provider bug" in crashed["error"]
    assert crashed["next_attempt_at"] == now + timedelta(seconds=30)
    assert outbox_row(container.engine, good)["status"] == "sent"
    with container.engine.connect() as conn:
        actions = conn.execute(
            sa.select(schema.traces.c.action).where(schema.traces.c.outbox_id == bad)
        ).scalars()
        assert list(actions) == ["message.retry"]


async def test_temporary_failures_give_up_after_max_attempts(container: Container) -> None:
    container.settings = replace(container.settings, catcher_port=free_port())  # nothing listens there
    now = container.clock.now()
    add_template(container.engine, now)
    oid = add_outbox(container.engine, now, add_contact(container.engine, now), attempts=7)
    await drain(container)
    row = outbox_row(container.engine, oid)
    assert row["status"] == "failed" and row["attempts"] == 8
    assert "gave up after 8 attempts" in row["error"]


async def test_an_odd_row_fails_alone_and_the_batch_goes_on(stack: Container) -> None:
    now = stack.clock.now()
    add_template(stack.engine, now)
    odd = add_contact(stack.engine, now, email="odd@example.org")
    with stack.engine.begin() as conn:  # attributes that are not an object (bad import)
        conn.execute(
            sa.update(schema.contacts).where(schema.contacts.c.id == odd).values(attributes=["x", "y"])
        )
    bad = add_outbox(stack.engine, now, odd)
    good = add_outbox(stack.engine, now, add_contact(stack.engine, now, email="fine@example.org"))
    await drain(stack)
    assert outbox_row(stack.engine, bad)["status"] == "failed"
    assert outbox_row(stack.engine, bad)["error"].startswith("cannot prepare")
    assert outbox_row(stack.engine, good)["status"] == "sent"
