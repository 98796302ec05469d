"""A real SMTP conversation: the SMTP provider (aiosmtplib) -> aiosmtpd on a free port; the received
bytes carry our headers, a valid DKIM signature and rewritten tracking links."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import dkim
import pytest

from tests.conftest import free_port
from tests.integration.channels_helpers import add_contact, add_outbox, add_template, outbox_row
from tidings.bootstrap import Container
from tidings.channels.catcher import MemoryStore, SmtpCatcher
from tidings.channels.delivery import Deliverer
from tidings.channels.dkim import DkimSigner, generate_key
from tidings.channels.email import SmtpConfig
from tidings.channels.registry import build_registry


@pytest.fixture
def smtp(container: Container, tmp_path: Path) -> Iterator[tuple[Container, MemoryStore, DkimSigner]]:
    store = MemoryStore()
    server = SmtpCatcher("127.0.0.1", free_port(), store)
    server.start()
    pem = generate_key()
    (tmp_path / "dkim.pem").write_bytes(pem)
    container.settings = replace(
        container.settings,
        smtp_url=f"smtp://127.0.0.1:{server.port}?pool=2",
        dkim_domain="shop.example.com",
        dkim_selector="s1",
        dkim_key_file=str(tmp_path / "dkim.pem"),
        email_from="Shop <news@shop.example.com>",
    )
    yield container, store, DkimSigner.from_pem("shop.example.com", "s1", pem)
    server.stop()


def test_smtp_send_is_signed_tracked_and_unsubscribable(
    smtp: tuple[Container, MemoryStore, DkimSigner],
) -> None:
    container, store, signer = smtp
    now = container.clock.now()
    cid = add_contact(container.engine, now)
    add_template(container.engine, now)
    oid = add_outbox(container.engine, now, cid)

    async def go() -> None:
        registry = build_registry(container)
        await Deliverer(container, registry).drain()
        await registry.aclose()

    asyncio.run(go())
    assert outbox_row(container.engine, oid)["status"] == "sent"
    [item] = store.items
    raw = (item.raw or "").encode()

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"s1._domainkey.shop.example.com."
        return signer.public_dns_record().encode()

    assert dkim.verify(raw, dnsfunc=dnsfunc)
    h = item.headers
    assert h["from"] == "Shop <news@shop.example.com>" and h["to"] == "ann@example.org"
    assert h["subject"] == "Welcome Ann"
    assert h["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
    assert (
        "<http://testserver/u/" in h["list-unsubscribe"]
        and "<mailto:unsubscribe@shop.example.com?" in h["list-unsubscribe"]
    )
    assert item.message_ref == outbox_row(container.engine, oid)["rendered"]["message_ref"]
    assert item.message_ref.endswith("@shop.example.com")
    assert "http://testserver/t/c/" in (item.body_html or "") and "shop.example.com/offer" not in (
        item.body_html or ""
    )
    assert "Hi Ann" in (item.body_text or "")


def test_smtp_url_parsing() -> None:
    c = SmtpConfig.from_url("smtps://us%40er:p%3Ass@mail.example.com?pool=3&rate=50")
    assert (c.host, c.port, c.username, c.password, c.use_tls, c.pool, c.rate) == (
        "mail.example.com",
        465,
        "us@er",
        "p:ss",
        True,
        3,
        50.0,
    )
    c = SmtpConfig.from_url("smtp://localhost:2525?starttls=required")
    assert (c.port, c.use_tls, c.start_tls) == (2525, False, True)
    with pytest.raises(ValueError):
        SmtpConfig.from_url("http://mail.example.com")


async def test_refused_recipient_is_a_permanent_failure(container: Container) -> None:
    from tidings.application.ports.senders import DeliveryStatus, OutgoingMessage
    from tidings.channels.email import SmtpProvider

    class Refusing:
        async def handle_RCPT(
            self, server: object, session: object, envelope: object, address: str, rcpt_options: list[str]
        ) -> str:
            return "550 5.1.1 no such user" if address.startswith("ghost") else "451 4.3.0 try later"

    from aiosmtpd.controller import Controller

    port = free_port()
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        provider = SmtpProvider(
            SmtpConfig.from_url(f"smtp://127.0.0.1:{port}?starttls=off"),
            clock=container.clock,
            default_from="a@example.org",
        )
        base = OutgoingMessage(
            outbox_id=1,
            channel="email",
            contact_id=1,
            recipient="ghost@example.org",
            idempotency_key="k",
            message_ref="1.x@example.org",
            subject="s",
            text="t",
        )
        permanent = await provider.send(base)
        temporary = await provider.send(replace(base, recipient="busy@example.org"))
        await provider.aclose()
    finally:
        controller.stop()
    assert permanent.status is DeliveryStatus.FAILED_PERMANENT and "550" in (permanent.error or "")
    assert temporary.status is DeliveryStatus.FAILED_TEMPORARY and "451" in (temporary.error or "")
