"""Sending a test of a template: one rendered email to an operator's address, now.

The one path behind ``POST /api/templates/{key}/send-test``, the web editor's "send test" and
``tidings templates send-test``. It goes through the email provider the caller builds from the
configuration (the built-in inbox by default); consent does not apply, the address is the
operator's own, and nothing is written to the outbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tidings.application.ports.senders import EMAIL, TRANSACTIONAL, ChannelProvider, OutgoingMessage


class NotEmail(ValueError):
    """Only email templates are sent as a test (preview the other channels)."""

    def __init__(self, channel: str) -> None:
        super().__init__(f"only email templates can be sent as a test (this one is {channel})")
        self.channel = channel


class SendTestRefused(RuntimeError):
    """The email provider refused the test; the message says why."""


@dataclass(frozen=True)
class SentTest:
    message_ref: str
    provider: str


def build_test_message(rendered: Mapping[str, Any], *, key: str, to: str, contact_id: int | None) -> OutgoingMessage:
    """The email a test sends, from ``templates.preview``'s output."""
    if rendered["channel"] != EMAIL:
        raise NotEmail(str(rendered["channel"]))
    ref = f"test.{uuid.uuid4().hex}@tidings.localhost"
    return OutgoingMessage(
        outbox_id=0,
        channel=EMAIL,
        contact_id=contact_id or 0,
        recipient=to,
        idempotency_key=ref,
        message_ref=ref,
        category=TRANSACTIONAL,
        subject=f"[test] {rendered['subject'] or key}",
        html=rendered["html"],
        text=rendered["text"],
        template=key,
    )


async def send_test(
    provider: ChannelProvider, rendered: Mapping[str, Any], *, key: str, to: str, contact_id: int | None
) -> SentTest:
    """Send the test through ``provider`` (closed afterwards). Raises NotEmail, SendTestRefused."""
    try:
        msg = build_test_message(rendered, key=key, to=to, contact_id=contact_id)
        result = await provider.send(msg)
    finally:
        await provider.aclose()
    if not result.ok:
        raise SendTestRefused(f"the email provider refused the test: {result.error}")
    return SentTest(msg.message_ref, provider.name)
