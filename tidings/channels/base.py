"""The channel provider port: what the delivery loop hands a provider, and what it gets back.

The delivery loop (``delivery.py``) owns this interface; every channel adapter (email, SMS,
voice, direct mail, webhooks, tasks) implements it, and every channel has two adapters: a
real provider and a local sink that records what it "sent" into the ``inbox`` table (the web
inbox a newcomer sees on a machine with nothing else installed). One contract test suite
(tests/integration/test_channels_contract.py) runs against both.

Providers are **async**: ``send`` is awaited on the delivery loop's event loop. A provider
never raises for a delivery failure: it returns a ``DeliveryResult`` saying whether to retry
(``failed_temporary``) or give up (``failed_permanent``). An exception escaping ``send`` is
treated by the loop as a temporary failure with the exception text as error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import sqlalchemy as sa

from tidings.store import schema

#: channel names used in outbox.channel, consents.channel, suppressions.channel, inbox.channel.
EMAIL = "email"
SMS = "sms"
VOICE = "voice"
DIRECT_MAIL = "direct_mail"
WEBHOOK = "webhook"
TASK = "task"

MARKETING = "marketing"
TRANSACTIONAL = "transactional"


class DeliveryStatus(StrEnum):
    #: the provider took the message (SMTP 250, HTTP 2xx): it is ours no more.
    ACCEPTED = "accepted"
    #: worth retrying later (connection refused, SMTP 4xx, HTTP 429/5xx).
    FAILED_TEMPORARY = "failed_temporary"
    #: retrying cannot help (SMTP 5xx, HTTP 4xx, invalid address).
    FAILED_PERMANENT = "failed_permanent"


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered message, ready for a provider. Built by the delivery loop from an outbox row.

    ``message_ref`` is our id for the message (the email ``Message-ID`` without brackets, the
    ``X-Tidings-Message`` header of a webhook...): sinks store it in ``inbox.message_ref`` so the
    inbox, tracking and uncertain-send resolution can find the message again.
    """

    outbox_id: int
    channel: str
    contact_id: int
    recipient: str
    idempotency_key: str
    message_ref: str
    category: str = MARKETING
    subject: str | None = None
    html: str | None = None
    #: plain text body: the email alternative, the SMS text, the voice script, the letter text.
    text: str | None = None
    sender: str | None = None
    reply_to: str | None = None
    #: extra headers (email) or HTTP headers (webhooks) to add.
    headers: Mapping[str, str] = field(default_factory=dict)
    #: channel-specific data: the outbox payload (webhook url/body, task title/owner, letter
    #: address...) plus whatever the renderer produced (tracking links, unsubscribe urls).
    data: Mapping[str, Any] = field(default_factory=dict)
    template: str | None = None


@dataclass(frozen=True)
class DeliveryResult:
    status: DeliveryStatus
    provider_message_id: str | None = None
    error: str | None = None
    #: the provider asked us to wait at least this long before retrying (HTTP Retry-After).
    retry_after_s: float | None = None
    #: anything worth keeping with the message (SMS segment count, HTTP status...).
    detail: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def accepted(cls, provider_message_id: str | None = None, **detail: Any) -> DeliveryResult:
        return cls(DeliveryStatus.ACCEPTED, provider_message_id=provider_message_id, detail=detail)

    @classmethod
    def temporary(cls, error: str, *, retry_after_s: float | None = None, **detail: Any) -> DeliveryResult:
        return cls(DeliveryStatus.FAILED_TEMPORARY, error=error, retry_after_s=retry_after_s, detail=detail)

    @classmethod
    def permanent(cls, error: str, **detail: Any) -> DeliveryResult:
        return cls(DeliveryStatus.FAILED_PERMANENT, error=error, detail=detail)

    @property
    def ok(self) -> bool:
        return self.status is DeliveryStatus.ACCEPTED


@runtime_checkable
class ChannelProvider(Protocol):
    """A way to deliver one channel's messages. Implementations: real provider + local sink."""

    #: the channel it serves ("email", "sms", ...).
    channel: str
    #: a short name for logs and the outbox row ("smtp", "catcher", "twilio", "sink"...).
    name: str

    async def send(self, msg: OutgoingMessage) -> DeliveryResult:
        """Deliver one message. Never raises for a delivery failure: returns the result."""
        ...

    async def confirm(self, msg: OutgoingMessage) -> bool | None:
        """After a crash mid-send: did this message reach the provider? None = cannot tell.

        Used to resolve outbox rows left in ``sending`` by a dead worker (see delivery.py).
        Local sinks answer from the inbox table; most real providers answer None.
        """
        ...

    async def aclose(self) -> None:
        """Release connections (called when the delivery loop stops)."""
        ...


@dataclass(frozen=True)
class InboxItem:
    """What a local sink received: a row of the ``inbox`` table (the web inbox)."""

    channel: str
    recipient: str | None
    sender: str | None = None
    subject: str | None = None
    body_text: str | None = None
    body_html: str | None = None
    headers: Mapping[str, Any] = field(default_factory=dict)
    raw: str | None = None
    message_ref: str | None = None


def record_in_inbox(engine: sa.Engine, item: InboxItem, now: datetime) -> int:
    """Store what a local sink received. Every sink (email catcher, SMS, voice, letters,
    webhooks) records through this one function so the web inbox shows every channel alike."""
    with engine.begin() as conn:
        result = conn.execute(
            sa.insert(schema.inbox).values(
                channel=item.channel,
                sender=item.sender,
                recipient=item.recipient,
                subject=item.subject,
                body_text=item.body_text,
                body_html=item.body_html,
                headers=dict(item.headers),
                raw=item.raw,
                message_ref=item.message_ref,
                received_at=now,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def inbox_has(engine: sa.Engine, channel: str, message_ref: str) -> bool:
    """Did a local sink receive this message? (``confirm`` for sinks.)"""
    t = schema.inbox
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(t.c.id).where(t.c.channel == channel, t.c.message_ref == message_ref).limit(1)
        ).first()
    return row is not None


class SinkProvider:
    """A base for local sinks: ``to_inbox`` says what to store; send records it and accepts.

    Subclasses set ``channel`` and override ``to_inbox``. Recording goes through a thread so a
    sink never blocks the delivery loop's event loop on the database.
    """

    channel: str = ""
    name: str = "sink"

    def __init__(self, engine: sa.Engine, clock: Any) -> None:
        self.engine = engine
        self.clock = clock

    def to_inbox(self, msg: OutgoingMessage) -> InboxItem:
        return InboxItem(
            channel=self.channel,
            recipient=msg.recipient,
            sender=msg.sender,
            subject=msg.subject,
            body_text=msg.text,
            body_html=msg.html,
            headers=dict(msg.headers),
            message_ref=msg.message_ref,
        )

    async def send(self, msg: OutgoingMessage) -> DeliveryResult:
        import asyncio

        item = self.to_inbox(msg)
        inbox_id = await asyncio.to_thread(record_in_inbox, self.engine, item, self.clock.now())
        return DeliveryResult.accepted(f"inbox-{inbox_id}")

    async def confirm(self, msg: OutgoingMessage) -> bool | None:
        import asyncio

        return await asyncio.to_thread(inbox_has, self.engine, self.channel, msg.message_ref)

    async def aclose(self) -> None:
        return None
