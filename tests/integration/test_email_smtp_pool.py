"""The SMTP provider's connection pool, concurrency cap and rate limit, against a real server."""

from __future__ import annotations

import asyncio
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import free_port
from tidings.application.ports.senders import OutgoingMessage
from tidings.bootstrap import Container
from tidings.channels.email import RateLimiter, SmtpConfig, SmtpProvider


class Sessions:
    """Counts messages per SMTP session (one session = one TCP connection)."""

    def __init__(self) -> None:
        self.per_session: dict[int, int] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.per_session[id(session)] = self.per_session.get(id(session), 0) + 1
        await asyncio.sleep(0.01)  # a slow server: concurrent sends pile up on the cap
        return "250 OK"


def message(n: int) -> OutgoingMessage:
    return OutgoingMessage(
        outbox_id=n,
        channel="email",
        contact_id=n,
        recipient=f"c{n}@example.org",
        idempotency_key=f"k{n}",
        message_ref=f"{n}.x@example.org",
        subject="s",
        text="t",
    )


async def test_pool_caps_connections_and_reuses_them(container: Container) -> None:
    handler = Sessions()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        provider = SmtpProvider(
            SmtpConfig.from_url(f"smtp://127.0.0.1:{port}?pool=3&starttls=off"),
            clock=container.clock,
            default_from="a@example.org",
        )
        results = await asyncio.gather(*(provider.send(message(n)) for n in range(30)))
        await provider.aclose()
    finally:
        controller.stop()
    assert all(r.ok for r in results)
    assert sum(handler.per_session.values()) == 30
    assert len(handler.per_session) <= 3  # never more connections than the pool allows


async def test_rate_limiter_spaces_sends() -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))

    limiter = RateLimiter(4, now=lambda: 100.0, sleep=fake_sleep)
    for _ in range(5):
        await limiter.acquire()
    assert slept == [0.25, 0.5, 0.75, 1.0]
    unlimited = RateLimiter(0, now=lambda: 100.0, sleep=fake_sleep)
    await unlimited.acquire()
    assert len(slept) == 4
