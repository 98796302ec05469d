"""Voice: Twilio-compatible call creation against a real local HTTP server; the local sink."""

from __future__ import annotations

from xml.etree import ElementTree

import sqlalchemy as sa

from tests.fake_http import FakeHttpServer, twilio_responder
from tests.integration.channels_helpers import twilio_post
from tidings.application.ports.senders import DeliveryStatus, OutgoingMessage
from tidings.bootstrap import Container
from tidings.channels.twilio import TwilioClient, status_ref
from tidings.channels.voice import TwilioVoiceProvider, VoiceSink, build_provider
from tidings.store import schema


def call(text: str = "Hello <b>Ann</b> & welcome", to: str = "+14155550123") -> OutgoingMessage:
    return OutgoingMessage(
        outbox_id=1,
        channel="voice",
        contact_id=1,
        recipient=to,
        idempotency_key="k1",
        message_ref="call-1",
        text=text,
        data={"voice": "alice", "language": "en-US"},
    )


async def test_creates_call_with_escaped_twiml(container: Container) -> None:
    with FakeHttpServer(twilio_responder) as server:
        p = TwilioVoiceProvider(TwilioClient(server.url, "AC9", "tok", clock=container.clock), sender="+15005550006")
        result = await p.send(call())
        refused = await p.send(call(to="+15005550001"))
        await p.aclose()
    assert result.status is DeliveryStatus.ACCEPTED and (result.provider_message_id or "").startswith("CA")
    assert refused.status is DeliveryStatus.FAILED_PERMANENT
    req = server.requests[0]
    assert req.path == "/2010-04-01/Accounts/AC9/Calls.json"
    form = req.form
    assert form["To"] == "+14155550123" and form["From"] == "+15005550006"
    say = ElementTree.fromstring(form["Twiml"])[0]
    assert say.tag == "Say" and say.text == "Hello <b>Ann</b> & welcome" and say.get("voice") == "alice"


async def test_sink_records_script_and_twiml(container: Container) -> None:
    sink = build_provider(container)
    assert isinstance(sink, VoiceSink)
    assert (await sink.send(call())).ok
    assert (await sink.send(call(text=""))).status is DeliveryStatus.FAILED_PERMANENT
    with container.engine.connect() as conn:
        rows = conn.execute(sa.select(schema.inbox)).mappings().all()
    assert len(rows) == 1
    assert rows[0]["channel"] == "voice" and rows[0]["body_text"] == "Hello <b>Ann</b> & welcome"
    assert "&lt;b&gt;Ann" in rows[0]["raw"]


def test_completed_call_status_is_a_delivery(api: object, container: Container) -> None:
    now = container.clock.now()
    with container.engine.begin() as conn:
        oid = conn.execute(
            sa.insert(schema.outbox).values(
                contact_id=7,
                idempotency_key="call-7",
                kind="message",
                channel="voice",
                payload={},
                status="sent",
                next_attempt_at=now,
                created_at=now,
                provider_message_id="CA1",
                rendered={"message_ref": "x"},
            )
        ).inserted_primary_key[0]
    ref = status_ref(container.secret_key, oid, now)
    path = f"/api/webhooks/voice/status?ref={ref}"
    r = twilio_post(api, container, path, {"CallSid": "CA1", "CallStatus": "completed"})
    assert r.json() == {"event": "message.delivered"}
    busy = twilio_post(api, container, path, {"CallSid": "CA1", "CallStatus": "busy"})
    assert busy.json() == {"event": None}
    with container.engine.connect() as conn:
        names = conn.execute(sa.select(schema.events.c.name).where(schema.events.c.contact_id == 7)).scalars().all()
    assert names == ["message.delivered"]
