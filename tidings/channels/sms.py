"""SMS: a Twilio-compatible HTTP provider and a local sink (the web inbox).

The channel is named ``sms`` like the consent channel, so the delivery loop's consent check
(no SMS without granted ``sms`` consent) applies to it. Quiet hours belong to the journey engine.
Every send records the encoding and the number of segments (what the message costs).
Inbound STOP/START/HELP keywords arrive at ``POST /api/webhooks/sms/inbound`` (api/sms.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from tidings.application.ports.senders import SMS, DeliveryResult, OutgoingMessage
from tidings.channels.base import InboxItem, SinkProvider
from tidings.channels.twilio import TwilioClient, status_ref
from tidings.domain.sms import analyse

if TYPE_CHECKING:
    from tidings.application.ports.clock import Clock
    from tidings.application.ports.wiring import Wiring
    from tidings.store.db import Engine

STATUS_PATH = "/api/webhooks/sms/status"
#: longer texts are refused rather than sent as a ten-part bill.
MAX_SEGMENTS = 10


def status_callback_url(base: str, secret: str, outbox_id: int, now: datetime) -> str:
    """Where the provider reports delivery: our status webhook, naming the message by a signed ref."""
    return f"{base}?{urlencode({'ref': status_ref(secret, outbox_id, now)})}"


def sms_text(msg: OutgoingMessage) -> str:
    return (msg.text or "").strip()


def check(msg: OutgoingMessage) -> DeliveryResult | None:
    """A permanent failure when the message cannot be an SMS, else None."""
    text = sms_text(msg)
    if not msg.recipient:
        return DeliveryResult.permanent("the contact has no phone number")
    if not text:
        return DeliveryResult.permanent("the SMS text is empty")
    info = analyse(text)
    if info.segments > MAX_SEGMENTS:
        return DeliveryResult.permanent(
            f"the SMS needs {info.segments} segments ({info.encoding}); at most {MAX_SEGMENTS} are sent"
        )
    return None


class TwilioSmsProvider:
    channel = SMS
    name = "twilio"

    def __init__(
        self,
        client: TwilioClient,
        *,
        sender: str | None,
        status_callback: str | None = None,
        secret: str | None = None,
    ) -> None:
        if status_callback and not secret:
            raise ValueError("a status callback needs the secret that signs its refs")
        self.client = client
        self.sender = sender
        self.status_callback = status_callback
        #: signs the ``ref`` of status callbacks (the container's secret).
        self.secret = secret

    async def send(self, msg: OutgoingMessage) -> DeliveryResult:
        refused = check(msg)
        if refused is not None:
            return refused
        text = sms_text(msg)
        info = analyse(text)
        sender = msg.sender or self.sender
        if not sender:
            return DeliveryResult.permanent("no SMS sender: set TIDINGS_TWILIO_FROM or the template's sender")
        form = {"To": msg.recipient, "From": sender, "Body": text}
        if self.status_callback and self.secret:
            form["StatusCallback"] = status_callback_url(
                self.status_callback, self.secret, msg.outbox_id, self.client.clock.now()
            )
        return await self.client.create("Messages", form, segments=info.segments, encoding=info.encoding)

    async def confirm(self, msg: OutgoingMessage) -> bool | None:
        return None

    async def aclose(self) -> None:
        await self.client.aclose()


class SmsSink(SinkProvider):
    """Records SMS into the inbox (channel ``sms``) with their encoding and segment count."""

    channel = SMS
    name = "sink"

    def __init__(self, engine: Engine, clock: Clock, sender: str | None = None) -> None:
        super().__init__(engine, clock)
        self.sender = sender

    def to_inbox(self, msg: OutgoingMessage) -> InboxItem:
        info = analyse(sms_text(msg))
        return InboxItem(
            channel=SMS,
            recipient=msg.recipient,
            sender=msg.sender or self.sender,
            body_text=sms_text(msg),
            message_ref=msg.message_ref,
            headers={"encoding": info.encoding, "segments": info.segments},
        )

    async def send(self, msg: OutgoingMessage) -> DeliveryResult:
        refused = check(msg)
        if refused is not None:
            return refused
        result = await super().send(msg)
        info = analyse(sms_text(msg))
        return DeliveryResult.accepted(
            result.provider_message_id, segments=info.segments, encoding=info.encoding
        )


def build_provider(container: Wiring) -> TwilioSmsProvider | SmsSink:
    s = container.settings
    if s.twilio_account_sid and s.twilio_auth_token:
        client = TwilioClient(
            s.twilio_base_url, s.twilio_account_sid, s.twilio_auth_token, clock=container.clock
        )
        return TwilioSmsProvider(
            client,
            sender=s.twilio_from,
            status_callback=f"{s.public_url}{STATUS_PATH}",
            secret=container.secret_key,
        )
    return SmsSink(container.engine, container.clock, sender=s.twilio_from or "tidings")
