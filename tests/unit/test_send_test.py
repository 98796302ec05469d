"""The one send-test path: an email template goes to the operator's address through the
provider it is given (closed afterwards); other channels and refusals are errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tidings.application.delivery.send_test import NotEmail, SendTestRefused, send_test
from tidings.application.ports.senders import DeliveryResult, OutgoingMessage

RENDERED = {"channel": "email", "subject": "Hi", "html": "<p>Hi</p>", "text": "Hi"}


class FakeProvider:
    channel = "email"
    name = "fake"

    def __init__(self, result: DeliveryResult) -> None:
        self.result = result
        self.sent: list[OutgoingMessage] = []
        self.closed = False

    async def send(self, msg: OutgoingMessage) -> DeliveryResult:
        self.sent.append(msg)
        return self.result

    async def confirm(self, msg: OutgoingMessage) -> bool | None:
        return None

    async def aclose(self) -> None:
        self.closed = True


def run(provider: FakeProvider, rendered: dict[str, Any]) -> Any:
    return asyncio.run(send_test(provider, rendered, key="welcome", to="me@example.org", contact_id=7))


def test_an_email_test_is_sent_transactional_with_a_marked_subject() -> None:
    provider = FakeProvider(DeliveryResult.accepted("x"))
    sent = run(provider, RENDERED)
    (msg,) = provider.sent
    assert (msg.recipient, msg.subject, msg.category, msg.contact_id) == (
        "me@example.org", "[test] Hi", "transactional", 7,
    )  # fmt: skip
    assert sent.message_ref == msg.message_ref and sent.provider == "fake" and provider.closed


def test_a_refusal_says_why_and_still_closes_the_provider() -> None:
    provider = FakeProvider(DeliveryResult.permanent("550 no such user"))
    with pytest.raises(SendTestRefused, match="550 no such user"):
        run(provider, RENDERED)
    assert provider.closed


def test_only_email_templates_are_sent() -> None:
    provider = FakeProvider(DeliveryResult.accepted("x"))
    with pytest.raises(NotEmail):
        run(provider, {**RENDERED, "channel": "sms"})
    assert provider.sent == [] and provider.closed
