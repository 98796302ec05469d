"""SMS, voice, direct mail and tasks through the real delivery loop (claim, consent, render, sink)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import sqlalchemy as sa

from tests.integration.channels_helpers import add_outbox, add_template, outbox_row, twilio_post
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


def contact(container: Container, consents: dict[str, str], **fields: object) -> int:
    now = container.clock.now()
    with container.engine.begin() as conn:
        cid = conn.execute(
            sa.insert(schema.contacts).values(
                first_name="Ann",
                last_name="Lee",
                created_at=now,
                updated_at=now,
                **({"attributes": {}} | fields),
            )
        ).inserted_primary_key[0]
        for channel, status in consents.items():
            conn.execute(
                sa.insert(schema.consents).values(
                    contact_id=cid,
                    channel=channel,
                    status=status,
                    source="test",
                    recorded_at=now,
                    proof={},
                    topics={},
                )
            )
    return int(cid)


def inbox(container: Container, channel: str) -> list[dict[str, object]]:
    i = schema.inbox
    with container.engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(sa.select(i).where(i.c.channel == channel).order_by(i.c.id)).mappings()
        ]


async def test_sms_needs_sms_consent_and_lands_in_the_sink(container: Container) -> None:
    now = container.clock.now()
    add_template(
        container.engine,
        now,
        key="sms-hi",
        channel="sms",
        subject=None,
        format="text",
        body="Hi {{ contact.first_name }}, 20% off today: {{ message.unsubscribe_url }}",
    )
    yes = contact(container, {"sms": "granted"}, phone="+14155550100")
    no = contact(container, {"sms": "unsubscribed", "email": "granted"}, phone="+14155550101")
    sent = add_outbox(container.engine, now, yes, template="sms-hi", channel="sms")
    skipped = add_outbox(container.engine, now, no, template="sms-hi", channel="sms")
    await drain(container)
    assert outbox_row(container.engine, sent)["status"] == "sent"
    assert outbox_row(container.engine, skipped)["status"] == "skipped"
    (got,) = inbox(container, "sms")
    assert got["recipient"] == "+14155550100"
    assert str(got["body_text"]).startswith("Hi Ann, 20% off today:")
    assert got["headers"]["encoding"] == "GSM-7" and got["headers"]["segments"] == 1


async def test_stop_keyword_suppresses_even_transactional_sms(container: Container, api: object) -> None:
    now = container.clock.now()
    add_template(
        container.engine, now, key="otp", channel="sms", subject=None, format="text", body="Code 1234"
    )
    cid = contact(container, {"sms": "granted"}, phone="+14155550100")
    r = twilio_post(api, container, "/api/webhooks/sms/inbound", {"From": "+14155550100", "Body": "STOP"})
    assert r.status_code == 200, r.text
    oid = add_outbox(container.engine, now, cid, template="otp", channel="sms", category="transactional")
    await drain(container)
    assert outbox_row(container.engine, oid)["status"] == "suppressed"
    assert inbox(container, "sms") == []


async def test_voice_uses_phone_consent(container: Container) -> None:
    now = container.clock.now()
    add_template(
        container.engine,
        now,
        key="call",
        channel="voice",
        subject=None,
        format="text",
        body="Hello {{ contact.first_name }}, your appointment is tomorrow.",
    )
    cid = contact(container, {"phone": "granted"}, phone="+14155550100")
    oid = add_outbox(container.engine, now, cid, template="call", channel="voice")
    await drain(container)
    assert outbox_row(container.engine, oid)["status"] == "sent", outbox_row(container.engine, oid)["error"]
    (got,) = inbox(container, "voice")
    assert "<Say>Hello Ann, your appointment is tomorrow.</Say>" in str(got["raw"])


async def test_direct_mail_letter_through_the_loop(container: Container, tmp_path: Path) -> None:
    container.settings = replace(container.settings, direct_mail_dir=str(tmp_path))
    now = container.clock.now()
    add_template(
        container.engine,
        now,
        key="letter",
        channel="direct_mail",
        subject="Your invitation",
        format="text",
        body="Dear {{ contact.first_name }},\n\nplease join us.",
    )
    good = contact(
        container,
        {"direct_mail": "granted"},
        attributes={
            "address": {
                "line1": "1 Main St",
                "city": "Springfield",
                "state": "IL",
                "postal_code": "62701",
                "country": "US",
            }
        },
    )
    bad = contact(
        container,
        {"direct_mail": "granted"},
        attributes={
            "address": {"line1": "1 Main St", "city": "Springfield", "country": "US", "postal_code": "62701"}
        },
    )
    ok = add_outbox(container.engine, now, good, template="letter", channel="direct_mail")
    refused = add_outbox(container.engine, now, bad, template="letter", channel="direct_mail")
    await drain(container)
    assert outbox_row(container.engine, ok)["status"] == "sent"
    row = outbox_row(container.engine, refused)
    assert row["status"] == "failed" and row["error"].startswith("address.state: is required for US")
    (got,) = inbox(container, "direct_mail")
    assert Path(str(got["headers"]["pdf"])).read_bytes().startswith(b"%PDF")


async def test_task_step_creates_an_assigned_task(container: Container) -> None:
    now = container.clock.now()
    cid = contact(container, {}, email="lead@example.org")
    with container.engine.begin() as conn:
        oid = conn.execute(
            sa.insert(schema.outbox).values(
                contact_id=cid,
                idempotency_key="enr1:task:1",
                kind="task",
                channel="task",
                payload={
                    "title": "Call about the demo",
                    "body": "",
                    "owner": "rep@shop.test",
                    "team": None,
                    "due_in_seconds": 300,
                },
                status="pending",
                next_attempt_at=now,
                created_at=now,
            )
        ).inserted_primary_key[0]
    await drain(container)
    assert outbox_row(container.engine, oid)["status"] == "sent"
    with container.engine.connect() as conn:
        task = conn.execute(sa.select(schema.tasks)).mappings().one()
    assert task["owner"] == "rep@shop.test" and task["outbox_id"] == oid and task["contact_id"] == cid
