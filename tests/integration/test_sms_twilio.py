"""SMS: the Twilio-compatible provider against a real local HTTP server; inbound STOP/START/HELP."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa

from tests.fake_http import FakeHttpServer, Reply, twilio_responder
from tests.integration.channels_helpers import add_phone_contact, twilio_post
from tidings.application.ports.senders import DeliveryStatus, OutgoingMessage
from tidings.bootstrap import Container
from tidings.channels.sms import SmsSink, TwilioSmsProvider, build_provider
from tidings.channels.twilio import TwilioClient, request_signature, status_outbox_id, status_ref
from tidings.store import schema


def sms(n: int = 1, text: str = "Your order shipped", to: str = "+14155550123") -> OutgoingMessage:
    return OutgoingMessage(
        outbox_id=n,
        channel="sms",
        contact_id=n,
        recipient=to,
        idempotency_key=f"k{n}",
        message_ref=f"ref-{n}",
        text=text,
    )


def provider(url: str, container: Container) -> TwilioSmsProvider:
    return TwilioSmsProvider(TwilioClient(url, "AC123", "tok", clock=container.clock), sender="+15005550006")


async def test_posts_twilio_form_with_basic_auth(container: Container) -> None:
    with FakeHttpServer(twilio_responder) as server:
        p = provider(server.url, container)
        result = await p.send(sms(text="Prix: 10€ {promo}"))
        await p.aclose()
    assert result.status is DeliveryStatus.ACCEPTED
    assert result.provider_message_id and result.provider_message_id.startswith("SM")
    assert result.detail["segments"] == 1 and result.detail["encoding"] == "GSM-7"
    (req,) = server.requests
    assert req.method == "POST"
    assert req.path == "/2010-04-01/Accounts/AC123/Messages.json"
    assert req.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert req.headers["authorization"] == "Basic " + base64.b64encode(b"AC123:tok").decode()
    assert req.form == {"To": "+14155550123", "From": "+15005550006", "Body": "Prix: 10€ {promo}"}


async def test_provider_errors_are_classified(container: Container) -> None:
    with FakeHttpServer(twilio_responder) as server:
        p = provider(server.url, container)
        bad = await p.send(sms(to="+15005550001"))
        empty = await p.send(sms(text="  "))
        await p.aclose()
    assert bad.status is DeliveryStatus.FAILED_PERMANENT
    assert bad.error and "21211" in bad.error
    assert empty.status is DeliveryStatus.FAILED_PERMANENT and "empty" in (empty.error or "")
    assert len(server.requests) == 1  # the empty text never reached the provider

    with FakeHttpServer(lambda r: Reply(503, {"message": "busy"}, {"Retry-After": "120"})) as server:
        p = provider(server.url, container)
        busy = await p.send(sms())
        await p.aclose()
    assert busy.status is DeliveryStatus.FAILED_TEMPORARY
    assert busy.retry_after_s == 120


async def test_too_long_sms_is_refused_before_sending(container: Container) -> None:
    sink = SmsSink(container.engine, container.clock)
    result = await sink.send(sms(text="ü✓" * 400))
    assert result.status is DeliveryStatus.FAILED_PERMANENT
    assert "segments" in (result.error or "")


def test_build_provider_uses_sink_without_credentials(container: Container) -> None:
    assert isinstance(build_provider(container), SmsSink)
    assert build_provider(container).channel == "sms"  # the consent channel's name


# --------------------------------------------------------------------------- inbound keywords


def add_contact(container: Container, phone: str = "+14155550123") -> int:
    cid = add_phone_contact(container, phone)
    now = container.clock.now()
    with container.engine.begin() as conn:
        conn.execute(
            sa.insert(schema.outbox).values(
                contact_id=cid,
                idempotency_key="pending-sms",
                kind="message",
                channel="sms",
                payload={},
                status="pending",
                next_attempt_at=now,
                created_at=now,
            )
        )
    return int(cid)


def inbound(api: Any, container: Container, form: dict[str, str]) -> Any:
    return twilio_post(api, container, "/api/webhooks/sms/inbound", form)


def consent(container: Container, cid: int) -> str:
    k = schema.consents
    with container.engine.connect() as conn:
        return str(
            conn.execute(sa.select(k.c.status).where(k.c.contact_id == cid, k.c.channel == "sms")).scalar()
        )


def events(container: Container, cid: int) -> list[dict[str, Any]]:
    e = schema.events
    with container.engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(sa.select(e).where(e.c.contact_id == cid).order_by(e.c.id)).mappings()
        ]


def test_stop_and_start_keywords_change_sms_consent(api: Any, container: Container) -> None:
    cid = add_contact(container)
    r = inbound(api, container, {"From": "+14155550123", "To": "+15005550006", "Body": "Stop", "MessageSid": "SM1"})
    assert r.status_code == 200, r.text
    assert "<Message>" in r.text and "START" in r.text
    assert consent(container, cid) == "unsubscribed"
    (ev,) = [e for e in events(container, cid) if e["name"] == "consent.changed"]
    assert ev["properties"]["channel"] == "sms" and ev["properties"]["status"] == "unsubscribed"
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(schema.outbox.c.status)).scalar() == "skipped"
        assert conn.execute(sa.select(schema.contact_queue.c.contact_id)).scalar() == cid
        sup = conn.execute(sa.select(schema.suppressions)).mappings().all()
    assert [(s["channel"], s["address"]) for s in sup] == [("sms", "+14155550123")]

    r = inbound(api, container, {"From": "+14155550123", "Body": "START"})
    assert r.status_code == 200
    assert consent(container, cid) == "granted"
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.suppressions)).scalar() == 0


def test_help_and_ordinary_messages_change_nothing(api: Any, container: Container) -> None:
    cid = add_contact(container)
    r = inbound(api, container, {"From": "+14155550123", "Body": "HELP"})
    assert r.status_code == 200 and "Reply STOP" in r.text
    r = inbound(api, container, {"From": "+14155550123", "Body": "please stop by"})
    assert r.status_code == 200 and "<Message>" not in r.text
    assert consent(container, cid) == "granted"
    assert not [e for e in events(container, cid) if e["name"] == "consent.changed"]


def test_stop_from_unknown_number_is_suppressed(api: Any, container: Container) -> None:
    r = inbound(api, container, {"From": "+442071838750", "Body": "unsubscribe"})
    assert r.status_code == 200
    with container.engine.connect() as conn:
        rows = conn.execute(sa.select(schema.suppressions.c.address)).scalars().all()
    assert rows == ["+442071838750"]


def test_signature_is_required_when_a_token_is_configured(api: Any, container: Container) -> None:
    from dataclasses import replace

    container.settings = replace(container.settings, twilio_auth_token="secret-token")
    cid = add_contact(container)
    form = {"From": "+14155550123", "Body": "STOP", "MessageSid": "SM9"}
    r = api.post("/api/webhooks/sms/inbound", data=form)
    assert r.status_code == 401
    assert r.json()["error"]["details"][0]["loc"] == ["header", "X-Twilio-Signature"]
    r = api.post("/api/webhooks/sms/inbound", data=form, headers={"X-Twilio-Signature": "AAAA"})
    assert r.status_code == 401
    other = request_signature("another-token", "http://testserver/api/webhooks/sms/inbound", form)
    r = api.post("/api/webhooks/sms/inbound", data=form, headers={"X-Twilio-Signature": other})
    assert r.status_code == 401
    tampered = request_signature("secret-token", "http://testserver/api/webhooks/sms/inbound", form)
    r = api.post(
        "/api/webhooks/sms/inbound", data=form | {"Body": "START"}, headers={"X-Twilio-Signature": tampered}
    )
    assert r.status_code == 401
    assert consent(container, cid) == "granted"
    good = request_signature("secret-token", "http://testserver/api/webhooks/sms/inbound", form)
    r = api.post("/api/webhooks/sms/inbound", data=form, headers={"X-Twilio-Signature": good})
    assert r.status_code == 200, r.text
    assert consent(container, cid) == "unsubscribed"


def test_status_callbacks_become_delivered_and_bounced_events(api: Any, container: Container) -> None:
    cid = add_contact(container)
    now = container.clock.now()
    with container.engine.begin() as conn:
        oid = conn.execute(
            sa.insert(schema.outbox).values(
                contact_id=cid,
                idempotency_key="sent-sms",
                kind="message",
                channel="sms",
                payload={},
                status="sent",
                next_attempt_at=now,
                created_at=now,
                recipient="+14155550123",
            )
        ).inserted_primary_key[0]
    path = f"/api/webhooks/sms/status?ref={status_ref(container.secret_key, oid, now)}"
    r = twilio_post(api, container, path, {"MessageSid": "SM1", "MessageStatus": "delivered"})
    assert r.json() == {"event": "message.delivered"}
    again = twilio_post(api, container, path, {"MessageSid": "SM1", "MessageStatus": "delivered"})
    assert again.json() == {"event": None}  # a repeated callback is not a second delivery
    r = twilio_post(
        api, container, path, {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30006"}
    )
    assert r.json() == {"event": "message.bounced"}
    nope = twilio_post(api, container, "/api/webhooks/sms/status?ref=nope", {"MessageStatus": "delivered"})
    assert nope.json() == {"event": None}
    names = [e["name"] for e in events(container, cid)]
    assert names.count("message.delivered") == 1 and names.count("message.bounced") == 1
    bounced = [e for e in events(container, cid) if e["name"] == "message.bounced"][0]
    assert bounced["properties"]["message_id"] == oid and bounced["properties"]["bounce_type"] == "hard"
    with container.engine.connect() as conn:
        reasons = conn.execute(sa.select(schema.suppressions.c.reason)).scalars().all()
    assert reasons == ["hard_bounce"]


async def test_status_callback_names_the_message_by_a_signed_ref(container: Container) -> None:
    with FakeHttpServer(twilio_responder) as server:
        p = TwilioSmsProvider(
            TwilioClient(server.url, "AC1", "t", clock=container.clock),
            sender="+15005550006",
            status_callback="https://tidings.example/api/webhooks/sms/status",
            secret="s3cret",
        )
        assert (await p.send(sms(3))).ok
        await p.aclose()
    callback = urlsplit(server.requests[0].form["StatusCallback"])
    assert callback.geturl().startswith("https://tidings.example/api/webhooks/sms/status?ref=")
    (ref,) = parse_qs(callback.query)["ref"]
    assert ref != "3" and not ref.startswith("3.")  # not the row number
    now = container.clock.now()
    assert status_outbox_id("s3cret", ref, now) == 3
    assert status_outbox_id("another-secret", ref, now) is None
    assert status_outbox_id("s3cret", ref[:-2] + ("AA" if ref[-2:] != "AA" else "BB"), now) is None
