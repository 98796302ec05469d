"""Voice calls: Twilio-compatible call creation reading a text-to-speech script, and a local sink.

The script is the message's plain text. It is placed in TwiML ``<Say>`` XML-escaped, so a
contact's name such as ``</Say><Dial>...`` stays text and can never become instructions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from tidings.application.ports.senders import VOICE, DeliveryResult, OutgoingMessage
from tidings.channels.base import InboxItem, SinkProvider
from tidings.channels.twilio import TwilioClient

if TYPE_CHECKING:
    from tidings.application.ports.clock import Clock
    from tidings.application.ports.wiring import Wiring
    from tidings.store.db import Engine

#: script length cap: a call is not an essay (and TwiML requests are size limited).
MAX_SCRIPT_CHARS = 4000


def twiml(script: str, *, voice: str | None = None, language: str | None = None) -> str:
    """``<Response><Say>script</Say></Response>`` with every user value escaped."""
    attrs = ""
    if voice:
        attrs += f" voice={quoteattr(voice)}"
    if language:
        attrs += f" language={quoteattr(language)}"
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Say{attrs}>{escape(script)}</Say></Response>'


def check(msg: OutgoingMessage) -> DeliveryResult | None:
    script = (msg.text or "").strip()
    if not msg.recipient:
        return DeliveryResult.permanent("the contact has no phone number")
    if not script:
        return DeliveryResult.permanent("the call script is empty")
    if len(script) > MAX_SCRIPT_CHARS:
        return DeliveryResult.permanent(
            f"the call script has {len(script)} characters; at most {MAX_SCRIPT_CHARS}"
        )
    return None


def call_twiml(msg: OutgoingMessage) -> str:
    data = msg.data or {}
    return twiml((msg.text or "").strip(), voice=data.get("voice"), language=data.get("language"))


class TwilioVoiceProvider:
    channel = VOICE
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
        sender = msg.sender or self.sender
        if not sender:
            return DeliveryResult.permanent("no caller id: set TIDINGS_TWILIO_FROM or the template's sender")
        form = {"To": msg.recipient, "From": sender, "Twiml": call_twiml(msg)}
        if self.status_callback and self.secret:
            from tidings.channels.sms import status_callback_url

            form["StatusCallback"] = status_callback_url(
                self.status_callback, self.secret, msg.outbox_id, self.client.clock.now()
            )
        return await self.client.create("Calls", form)

    async def confirm(self, msg: OutgoingMessage) -> bool | None:
        return None

    async def aclose(self) -> None:
        await self.client.aclose()


class VoiceSink(SinkProvider):
    """Records calls into the inbox (channel ``voice``): the script and the TwiML that would run."""

    channel = VOICE
    name = "sink"

    def __init__(self, engine: Engine, clock: Clock, sender: str | None = None) -> None:
        super().__init__(engine, clock)
        self.sender = sender

    def to_inbox(self, msg: OutgoingMessage) -> InboxItem:
        return InboxItem(
            channel=VOICE,
            recipient=msg.recipient,
            sender=msg.sender or self.sender,
            subject=msg.subject,
            body_text=(msg.text or "").strip(),
            raw=call_twiml(msg),
            message_ref=msg.message_ref,
        )

    async def send(self, msg: OutgoingMessage) -> DeliveryResult:
        refused = check(msg)
        return refused if refused is not None else await super().send(msg)


def build_provider(container: Wiring) -> TwilioVoiceProvider | VoiceSink:
    s = container.settings
    if s.twilio_account_sid and s.twilio_auth_token:
        client = TwilioClient(
            s.twilio_base_url, s.twilio_account_sid, s.twilio_auth_token, clock=container.clock
        )
        return TwilioVoiceProvider(
            client,
            sender=s.twilio_from,
            status_callback=f"{s.public_url}/api/webhooks/voice/status",
            secret=container.secret_key,
        )
    return VoiceSink(container.engine, container.clock, sender=s.twilio_from or "tidings")
