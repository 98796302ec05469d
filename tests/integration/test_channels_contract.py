"""One contract, every channel: each provider (real one against a local real server, and the
local sink) must behave the same way for the delivery loop.

Add a channel: write a harness factory decorated with ``@case("name")`` yielding a ``Harness``
(the provider, a way to read what the far side received, and a message factory). Every test
below then runs against it. Providers are async; tests are ``async def`` (asyncio_mode=auto).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace

import pytest
import sqlalchemy as sa

from tests.conftest import free_port
from tidings.application.ports.senders import ChannelProvider, DeliveryStatus, OutgoingMessage
from tidings.bootstrap import Container
from tidings.channels.base import InboxItem
from tidings.channels.catcher import MemoryStore, SmtpCatcher
from tidings.channels.email import SmtpConfig, SmtpProvider, build_provider
from tidings.runtime import catcher_service
from tidings.store import schema


@dataclass
class Harness:
    provider: ChannelProvider
    #: what the far side (server, sink) received so far.
    received: Callable[[], list[InboxItem]]
    #: a valid message for this channel, numbered n.
    message: Callable[[int], OutgoingMessage]
    #: a provider pointed at nothing (connection refused), when the channel has a remote end.
    unreachable: Callable[[], ChannelProvider] | None = None


CASES: dict[str, Callable[[Container], AbstractContextManager[Harness]]] = {}


def case(
    name: str,
) -> Callable[[Callable[[Container], Iterator[Harness]]], Callable[[Container], Iterator[Harness]]]:
    def register(fn: Callable[[Container], Iterator[Harness]]) -> Callable[[Container], Iterator[Harness]]:
        CASES[name] = contextmanager(fn)
        return fn

    return register


def email_message(n: int) -> OutgoingMessage:
    return OutgoingMessage(
        outbox_id=n,
        channel="email",
        contact_id=n,
        recipient=f"c{n}@example.org",
        idempotency_key=f"contract-{n}",
        message_ref=f"contract-{n}.x@tidings.test",
        subject=f"Hello {n}",
        text=f"Plain {n}",
        html=f"<p>Html {n}</p>",
        sender="Shop <shop@tidings.test>",
    )


def inbox_rows(engine: sa.Engine, channel: str) -> list[InboxItem]:
    t = schema.inbox
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).where(t.c.channel == channel).order_by(t.c.id)).mappings().all()
    return [
        InboxItem(
            channel=r["channel"],
            recipient=r["recipient"],
            sender=r["sender"],
            subject=r["subject"],
            body_text=r["body_text"],
            body_html=r["body_html"],
            headers=r["headers"],
            message_ref=r["message_ref"],
        )
        for r in rows
    ]


@case("email-smtp")
def _email_smtp(container: Container) -> Iterator[Harness]:
    """The real SMTP provider against a real (aiosmtpd) server with authentication off."""
    store = MemoryStore()
    server = SmtpCatcher("127.0.0.1", free_port(), store)
    server.start()
    provider = SmtpProvider(
        SmtpConfig.from_url(f"smtp://127.0.0.1:{server.port}?pool=2&starttls=off"),
        clock=container.clock,
        default_from="shop@tidings.test",
    )

    def unreachable() -> ChannelProvider:
        return SmtpProvider(
            SmtpConfig.from_url(f"smtp://127.0.0.1:{free_port()}?timeout=2"),
            clock=container.clock,
            default_from="shop@tidings.test",
        )

    try:
        yield Harness(provider, lambda: list(store.items), email_message, unreachable)
    finally:
        server.stop()


@case("email-catcher")
def _email_catcher(container: Container) -> Iterator[Harness]:
    """The local sink: the default provider (no TIDINGS_SMTP_URL) sending to the built-in catcher."""
    container.settings = replace(container.settings, catcher_port=free_port())
    catcher = catcher_service(container)
    catcher.start()
    try:
        yield Harness(build_provider(container), lambda: inbox_rows(container.engine, "email"), email_message)
    finally:
        catcher.stop()


@pytest.fixture(params=sorted(CASES))
def harness(request: pytest.FixtureRequest, container: Container) -> Iterator[Harness]:
    with CASES[request.param](container) as h:
        yield h


async def test_accepted_message_is_received_once(harness: Harness) -> None:
    msg = harness.message(1)
    result = await harness.provider.send(msg)
    await harness.provider.aclose()
    assert result.status is DeliveryStatus.ACCEPTED, result.error
    got = harness.received()
    assert len(got) == 1
    assert msg.recipient in (got[0].recipient or "")
    assert got[0].message_ref == msg.message_ref


async def test_connections_are_reused_across_sends(harness: Harness) -> None:
    results = [await harness.provider.send(harness.message(n)) for n in range(1, 6)]
    await harness.provider.aclose()
    assert all(r.ok for r in results), [r.error for r in results]
    assert sorted(i.message_ref or "" for i in harness.received()) == sorted(
        harness.message(n).message_ref for n in range(1, 6)
    )


async def test_confirm_never_contradicts_what_happened(harness: Harness) -> None:
    sent, unsent = harness.message(1), harness.message(2)
    assert (await harness.provider.send(sent)).ok
    assert await harness.provider.confirm(sent) in (True, None)
    assert await harness.provider.confirm(unsent) in (False, None)
    await harness.provider.aclose()


async def test_unreachable_provider_fails_temporarily(harness: Harness) -> None:
    if harness.unreachable is None:
        pytest.skip("a local sink has no remote end")
    provider = harness.unreachable()
    result = await provider.send(harness.message(1))
    await provider.aclose()
    assert result.status is DeliveryStatus.FAILED_TEMPORARY
    assert result.error
