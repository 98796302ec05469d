"""Helpers for the channels tests: a contact with consent, a template, an outbox row."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.application.delivery.templates import save_template
from tidings.domain.templates import TemplateSource
from tidings.store import schema
from tidings.store.sql_uow import joined


def add_contact(
    engine: sa.Engine,
    now: datetime,
    *,
    email: str = "ann@example.org",
    consent: str | None = "granted",
    first_name: str | None = "Ann",
    locale: str | None = None,
    **attrs: Any,
) -> int:
    with engine.begin() as conn:
        cid = conn.execute(
            sa.insert(schema.contacts).values(
                email=email,
                first_name=first_name,
                locale=locale,
                attributes=attrs,
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        if consent:
            conn.execute(
                sa.insert(schema.consents).values(
                    contact_id=cid,
                    channel="email",
                    status=consent,
                    source="test",
                    recorded_at=now,
                    proof={},
                    topics={},
                )
            )
    return int(cid)


def add_template(engine: sa.Engine, now: datetime, key: str = "welcome", **kw: Any) -> None:
    src = TemplateSource(
        key=key,
        subject=kw.pop("subject", "Welcome {{ contact.first_name | default('there') }}"),
        body=kw.pop(
            "body",
            '<html><body><p>Hi {{ contact.first_name | default("there") }}</p>'
            '<a href="https://shop.example.com/offer?a=1&amp;b=2">Offer</a>'
            '<a href="{{ message.unsubscribe_url }}">Unsubscribe</a></body></html>',
        ),
        **kw,
    )
    with engine.begin() as conn:
        save_template(joined(conn), src, now)


def add_outbox(
    engine: sa.Engine,
    now: datetime,
    contact_id: int,
    *,
    template: str = "welcome",
    category: str = "marketing",
    key: str | None = None,
    channel: str = "email",
    status: str = "pending",
    **extra: Any,
) -> int:
    with engine.begin() as conn:
        oid = conn.execute(
            sa.insert(schema.outbox).values(
                contact_id=contact_id,
                idempotency_key=key or f"k-{uuid.uuid4().hex}",
                kind="message",
                channel=channel,
                category=category,
                template=template,
                payload={"channel": channel, "template": template, "category": category, "data": {}},
                status=status,
                next_attempt_at=now,
                created_at=now,
                **extra,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    return int(oid)


def outbox_row(engine: sa.Engine, oid: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(schema.outbox).where(schema.outbox.c.id == oid)).mappings().one())


def events(engine: sa.Engine, name: str | None = None) -> list[dict[str, Any]]:
    e = schema.events
    q = sa.select(e).order_by(e.c.id)
    if name:
        q = q.where(e.c.name == name)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


class RecordingEmail:
    """An in-memory email provider for tests that only need 'it was accepted'."""

    channel = "email"
    name = "recording"

    def __init__(self) -> None:
        from tidings.application.ports.senders import OutgoingMessage

        self.sent: list[OutgoingMessage] = []

    async def send(self, msg: Any) -> Any:
        from tidings.application.ports.senders import DeliveryResult

        self.sent.append(msg)
        return DeliveryResult.accepted(msg.message_ref)

    async def confirm(self, msg: Any) -> bool | None:
        return any(m.message_ref == msg.message_ref for m in self.sent)

    async def aclose(self) -> None:
        return None


async def deliver(container: Any) -> RecordingEmail:
    """Drain the outbox into a RecordingEmail; returns it."""
    from tidings.channels.delivery import Deliverer
    from tidings.channels.registry import ChannelRegistry

    provider = RecordingEmail()
    deliverer = Deliverer(container, ChannelRegistry({"email": provider}))
    await deliverer.drain()
    deliverer.close()
    return provider


def send_one(container: Any, **contact: Any) -> tuple[int, Any]:
    """A contact, the welcome template, one message delivered: (outbox id, OutgoingMessage)."""
    import asyncio

    now = container.clock.now()
    cid = add_contact(container.engine, now, **contact)
    add_template(container.engine, now)
    oid = add_outbox(container.engine, now, cid)
    provider = asyncio.run(deliver(container))
    assert len(provider.sent) == 1, outbox_row(container.engine, oid)
    return oid, provider.sent[0]


def links_client(container: Any) -> Any:
    """A TestClient over the channel routers only (links, templates, inbox, messages), so these tests
    do not depend on every other router of the app; the e2e test uses the whole app."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from tidings.api import errors, inbox, links, messages, self_service, templates

    app = FastAPI()
    app.state.container = container
    errors.install(app)
    for module in (links, self_service, templates, inbox, messages):
        app.include_router(module.router)
    return TestClient(app)


#: the Twilio auth token our signed test webhooks use (``twilio_post``).
TWILIO_TOKEN = "test-twilio-token"


def twilio_post(
    api: Any, container: Any, path: str, form: dict[str, str], *, token: str = TWILIO_TOKEN
) -> Any:
    """POST a webhook as Twilio does: form fields signed with X-Twilio-Signature (the auth token
    is configured on the container when it is not yet)."""
    from dataclasses import replace

    from tidings.channels.twilio import request_signature

    if container.settings.twilio_auth_token != token:
        container.settings = replace(container.settings, twilio_auth_token=token)
    signature = request_signature(token, f"http://testserver{path}", form)
    return api.post(path, data=form, headers={"X-Twilio-Signature": signature})


def add_phone_contact(container: Any, phone: str = "+14155550123", status: str = "granted") -> int:
    """A contact with a phone number and its ``sms`` consent in ``status``."""
    now = container.clock.now()
    with container.engine.begin() as conn:
        cid = conn.execute(
            sa.insert(schema.contacts).values(phone=phone, attributes={}, created_at=now, updated_at=now)
        ).inserted_primary_key[0]  # type: ignore[index]
        conn.execute(
            sa.insert(schema.consents).values(
                contact_id=cid, channel="sms", status=status, source="form", recorded_at=now, proof={}, topics={}
            )
        )
    return int(cid)
