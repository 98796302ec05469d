"""The sender port: what the delivery loop hands a provider, and what it gets back.

The application owns this interface; every channel adapter implements it (email, SMS, voice,
direct mail, webhooks under ``tidings/channels/``; tasks in ``application/sales/task_channel.py``),
and every channel has two adapters: a real provider and a local sink that records what it
"sent" into the ``inbox`` table (the web inbox a newcomer sees on a machine with nothing else
installed). One contract test suite
(tests/integration/test_channels_contract.py) runs against both.

Providers are **async**: ``send`` is awaited on the delivery loop's event loop. A provider
never raises for a delivery failure: it returns a ``DeliveryResult`` saying whether to retry
(``failed_temporary``) or give up (``failed_permanent``). An exception escaping ``send`` is
treated by the loop as a temporary failure with the exception text as error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from tidings.domain.channels import Channel

#: channel names (outbox.channel, inbox.channel): the members of ``domain.channels.Channel``.
EMAIL: str = Channel.EMAIL
SMS: str = Channel.SMS
VOICE: str = Channel.VOICE
DIRECT_MAIL: str = Channel.DIRECT_MAIL
WEBHOOK: str = Channel.WEBHOOK
TASK: str = Channel.TASK
CRM: str = Channel.CRM

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
