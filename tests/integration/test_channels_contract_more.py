"""The channel contract (tests/integration/test_channels_contract.py) for SMS, voice, direct mail,
webhooks and tasks: each real provider against a real local HTTP server of ours, and each local sink.

The contract's tests are imported below, so pytest runs them here against these harnesses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from tests.conftest import LiveServer, free_port
from tests.fake_http import FakeHttpServer, Recorded, Reply, twilio_responder
from tests.integration.test_channels_contract import (  # noqa: F401  (collected here too)
    Harness,
    inbox_rows,
    test_accepted_message_is_received_once,
    test_confirm_never_contradicts_what_happened,
    test_connections_are_reused_across_sends,
    test_unreachable_provider_fails_temporarily,
)
from tidings.application.ports.senders import ChannelProvider, DeliveryResult, OutgoingMessage
from tidings.application.sales.task_channel import TaskProvider
from tidings.bootstrap import Container
from tidings.channels.base import InboxItem
from tidings.channels.direct_mail import BatchFolder, LobProvider, PrintBatchProvider
from tidings.channels.sms import SmsSink, TwilioSmsProvider
from tidings.channels.ssrf import AllowList
from tidings.channels.twilio import TwilioClient, status_outbox_id
from tidings.channels.voice import TwilioVoiceProvider, VoiceSink
from tidings.channels.webhooks import WebhookProvider, secret_for
from tidings.store import schema

CASES: dict[str, Callable[[Container, Path], AbstractContextManager[Harness]]] = {}


def case(name: str):  # type: ignore[no-untyped-def]
    def register(fn):  # type: ignore[no-untyped-def]
        CASES[name] = contextmanager(fn)
        return fn

    return register


def phone_message(channel: str) -> Callable[[int], OutgoingMessage]:
    def make(n: int) -> OutgoingMessage:
        return OutgoingMessage(
            outbox_id=n,
            channel=channel,
            contact_id=n,
            recipient=f"+1415555{n:04d}",
            idempotency_key=f"c-{channel}-{n}",
            message_ref=f"{n}.c@tidings.test",
            text=f"Hello {n}, your order shipped",
        )

    return make


def twilio_received(server: FakeHttpServer, container: Container) -> Callable[[], list[InboxItem]]:
    def received() -> list[InboxItem]:
        out = []
        for r in server.requests:
            signed = parse_qs(urlsplit(r.form.get("StatusCallback", "")).query).get("ref", [""])[0]
            # the status callback names the row by a signed ref: read it back to our message ref
            oid = status_outbox_id(container.secret_key, signed, container.clock.now())
            ref = f"{oid}.c@tidings.test" if oid is not None else None
            out.append(
                InboxItem(
                    channel="twilio",
                    recipient=r.form.get("To"),
                    body_text=r.form.get("Body"),
                    message_ref=ref,
                )
            )
        return out

    return received


def twilio_case(container: Container, cls: type, channel: str) -> Iterator[Harness]:
    def make(url: str) -> ChannelProvider:
        return cls(
            TwilioClient(url, "AC1", "tok", clock=container.clock, timeout=2),
            sender="+15005550006",
            status_callback="http://testserver/api/webhooks/status",
            secret=container.secret_key,
        )  # type: ignore[no-any-return]

    with FakeHttpServer(twilio_responder) as server:
        yield Harness(
            make(server.url),
            twilio_received(server, container),
            phone_message(channel),
            lambda: make(f"http://127.0.0.1:{free_port()}"),
        )


@case("sms-twilio")
def _sms_twilio(container: Container, tmp: Path) -> Iterator[Harness]:
    yield from twilio_case(container, TwilioSmsProvider, "sms")


@case("sms-sink")
def _sms_sink(container: Container, tmp: Path) -> Iterator[Harness]:
    yield Harness(
        SmsSink(container.engine, container.clock),
        lambda: inbox_rows(container.engine, "sms"),
        phone_message("sms"),
    )


@case("voice-twilio")
def _voice_twilio(container: Container, tmp: Path) -> Iterator[Harness]:
    yield from twilio_case(container, TwilioVoiceProvider, "voice")


@case("voice-sink")
def _voice_sink(container: Container, tmp: Path) -> Iterator[Harness]:
    yield Harness(
        VoiceSink(container.engine, container.clock),
        lambda: inbox_rows(container.engine, "voice"),
        phone_message("voice"),
    )


ADDRESS = {"line1": "10 Downing St", "city": "London", "postal_code": "SW1A 2AA", "country": "GB"}


def letter(n: int) -> OutgoingMessage:
    contact = {"first_name": "Ann", "last_name": f"Lee{n}", "attributes": {"address": ADDRESS}}
    return OutgoingMessage(
        outbox_id=n,
        channel="direct_mail",
        contact_id=n,
        recipient=f"Ann Lee{n}",
        idempotency_key=f"c-dm-{n}",
        message_ref=f"{n}.c@tidings.test",
        subject="Invitation",
        text=f"Dear Ann,\n\nletter {n}.",
        data={"contact": contact},
    )


@case("direct-mail-batch")
def _direct_mail_batch(container: Container, tmp: Path) -> Iterator[Harness]:
    provider = PrintBatchProvider(container.engine, container.clock, BatchFolder(tmp / "dm"))
    yield Harness(provider, lambda: inbox_rows(container.engine, "direct_mail"), letter)


@case("direct-mail-lob")
def _direct_mail_lob(container: Container, tmp: Path) -> Iterator[Harness]:
    def responder(r: Recorded) -> Reply:
        return Reply(200, {"id": f"ltr_{len(r.body)}"})

    def received() -> list[InboxItem]:
        return [
            InboxItem(
                channel="lob",
                recipient=r.json["to"]["name"],
                message_ref=r.json["metadata"]["tidings_message"],
            )
            for r in server.requests
        ]

    with FakeHttpServer(responder) as server:
        yield Harness(
            LobProvider(server.url, "k", clock=container.clock),
            received,
            letter,
            lambda: LobProvider(f"http://127.0.0.1:{free_port()}", "k", clock=container.clock, timeout=2),
        )


def webhook_message(base: str) -> Callable[[int], OutgoingMessage]:
    def make(n: int) -> OutgoingMessage:
        url = f"{base}/sink/webhook/crm"
        return OutgoingMessage(
            outbox_id=n,
            channel="webhook",
            contact_id=n,
            recipient=url,
            idempotency_key=f"c-wh-{n}",
            message_ref=f"{n}.c@tidings.test",
            data={"url": url, "body": {"n": n}},
        )

    return make


@case("webhook-http")
def _webhook_http(container: Container, tmp: Path) -> Iterator[Harness]:
    allow = AllowList.parse(["127.0.0.1/32"])

    def received() -> list[InboxItem]:
        return [
            InboxItem(
                channel="http", recipient=f"{server.url}{r.path}", message_ref=r.headers["x-tidings-message"]
            )
            for r in server.requests
        ]

    class Unreachable(WebhookProvider):
        """The webhook's URL is in the message: point it at a port nobody listens on."""

        async def send(self, msg: OutgoingMessage) -> DeliveryResult:
            url = f"http://127.0.0.1:{free_port()}/x"
            return await super().send(replace(msg, recipient=url, data={**msg.data, "url": url}))

    with FakeHttpServer() as server:
        yield Harness(
            WebhookProvider(secret="s", allow=allow, clock=container.clock),
            received,
            webhook_message(server.url),
            lambda: Unreachable(secret="s", allow=allow, clock=container.clock, timeout=2),
        )


@case("webhook-sink")
def _webhook_sink(container: Container, tmp: Path) -> Iterator[Harness]:
    """Our own server's sink endpoint: allowed because it is our public origin."""
    server = LiveServer(container).start()
    try:
        provider = WebhookProvider(
            secret=secret_for(container),
            clock=container.clock,
            allow=AllowList.parse([], own_urls=[server.url]),
        )
        yield Harness(provider, lambda: inbox_rows(container.engine, "webhook"), webhook_message(server.url))
    finally:
        server.stop()


@case("task")
def _task(container: Container, tmp: Path) -> Iterator[Harness]:
    now = container.clock.now()
    with container.engine.begin() as conn:
        for n in range(1, 6):
            conn.execute(
                sa.insert(schema.contacts).values(id=n, attributes={}, created_at=now, updated_at=now)
            )

    def make(n: int) -> OutgoingMessage:
        return OutgoingMessage(
            outbox_id=n,
            channel="task",
            contact_id=n,
            recipient="rep@shop.test",
            idempotency_key=f"c-task-{n}",
            message_ref=f"task-{n}",
            data={"title": f"Call lead {n}", "owner": "rep@shop.test"},
        )

    def received() -> list[InboxItem]:
        t = schema.tasks
        with container.engine.connect() as conn:
            rows = conn.execute(sa.select(t).order_by(t.c.id)).mappings().all()
        return [
            InboxItem(channel="task", recipient=r["owner"], message_ref=make(r["outbox_id"]).message_ref)
            for r in rows
        ]

    yield Harness(TaskProvider(container.uow, container.clock), received, make)


@pytest.fixture(params=sorted(CASES))
def harness(request: pytest.FixtureRequest, container: Container, tmp_path: Path) -> Iterator[Harness]:
    with CASES[request.param](container, tmp_path) as h:
        yield h
