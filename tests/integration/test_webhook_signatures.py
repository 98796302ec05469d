"""Inbound and status webhooks (SMS, voice) are refused unless Twilio's signature verifies.

Regression tests for issue 12's attack runs: with no auth token configured (the default) a forged
``START``/``STOP`` changed a contact's SMS consent, and bare numeric status refs created forged
``message.bounced`` events and hard-bounce suppressions.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from tests.integration.channels_helpers import TWILIO_TOKEN, add_phone_contact, twilio_post
from tidings.bootstrap import Container
from tidings.channels.twilio import request_signature, signature_problem, status_ref, url_variants
from tidings.store import schema

#: Twilio's published example ("Validating requests" docs and twilio-python's own test suite):
#: auth token 12345, this URL and these parameters give these signatures.
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_DOCS_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
TWILIO_LIB_PARAMS = TWILIO_DOCS_PARAMS | {"Caller": "+14158675309", "From": "+14158675309"}


def test_twilio_published_signature_vectors() -> None:
    assert request_signature("12345", TWILIO_URL, TWILIO_DOCS_PARAMS) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert request_signature("12345", TWILIO_URL, TWILIO_LIB_PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert signature_problem("12345", [TWILIO_URL], TWILIO_LIB_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=") is None
    # the same request signed with the explicit default port (Twilio signs either form)
    assert signature_problem(
        "12345", ["https://mycompany.com:443/myapp.php?foo=1&bar=2"], TWILIO_LIB_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    ) is None
    assert url_variants("http://h:80/p") == ["http://h:80/p", "http://h/p"]
    assert signature_problem("12345", [TWILIO_URL], TWILIO_LIB_PARAMS | {"Digits": "9"}, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert signature_problem(None, [TWILIO_URL], TWILIO_LIB_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert signature_problem("12345", [TWILIO_URL], TWILIO_LIB_PARAMS, "") == "missing X-Twilio-Signature"
    # a repeated field: every value counts, sorted (as Twilio's validators do)
    pairs = [("To", "+1"), ("Media", "b"), ("Media", "a")]
    assert request_signature("t", "https://x/y", pairs) == request_signature(
        "t", "https://x/y", [("Media", "a"), ("Media", "b"), ("To", "+1")]
    )
    assert request_signature("t", "https://x/y", pairs) != request_signature("t", "https://x/y", dict(pairs))


def add_contact(container: Container, phone: str = "+14155550123", status: str = "unsubscribed") -> int:
    return add_phone_contact(container, phone, status)


def consent(container: Container, cid: int) -> str:
    k = schema.consents
    with container.engine.connect() as conn:
        return str(conn.execute(sa.select(k.c.status).where(k.c.contact_id == cid, k.c.channel == "sms")).scalar())


def counts(container: Container) -> tuple[int, int]:
    with container.engine.connect() as conn:
        events = conn.execute(
            sa.select(sa.func.count())
            .select_from(schema.events)
            .where(schema.events.c.name.in_(["message.bounced", "message.delivered", "consent.changed"]))
        ).scalar()
        suppressions = conn.execute(sa.select(sa.func.count()).select_from(schema.suppressions)).scalar()
    return int(events or 0), int(suppressions or 0)


def test_without_an_auth_token_forged_consent_is_refused(api: Any, container: Container) -> None:
    assert container.settings.twilio_auth_token is None  # the default
    cid = add_contact(container)
    r = api.post("/api/webhooks/sms/inbound", data={"From": "+14155550123", "Body": "START"})
    assert r.status_code == 401, r.text
    assert "TIDINGS_TWILIO_AUTH_TOKEN" in r.json()["error"]["message"]
    # a signature made with a guessed token does not help either
    form = {"From": "+14155550123", "Body": "START"}
    sig = request_signature("guess", "http://testserver/api/webhooks/sms/inbound", form)
    r = api.post("/api/webhooks/sms/inbound", data=form, headers={"X-Twilio-Signature": sig})
    assert r.status_code == 401
    assert consent(container, cid) == "unsubscribed"
    assert counts(container) == (0, 0)


@pytest.mark.parametrize("path", ["/api/webhooks/sms/status", "/api/webhooks/voice/status"])
def test_unsigned_status_callbacks_are_refused(api: Any, container: Container, path: str) -> None:
    oid = sent_row(container, "sms" if "/sms/" in path else "voice")
    ref = status_ref(container.secret_key, oid, container.clock.now())
    form = {"MessageSid": "SM1", "MessageStatus": "undelivered", "CallStatus": "completed", "ErrorCode": "30006"}
    r = api.post(f"{path}?ref={ref}", data=form)
    assert r.status_code == 401
    container.settings = replace(container.settings, twilio_auth_token=TWILIO_TOKEN)
    r = api.post(f"{path}?ref={ref}", data=form, headers={"X-Twilio-Signature": "bm9wZQ=="})
    assert r.status_code == 401
    assert counts(container) == (0, 0)


def sent_row(container: Container, channel: str = "sms", rendered: dict[str, Any] | None = None) -> int:
    """A sent message of ``channel`` to a new contact."""
    now = container.clock.now()
    with container.engine.connect() as conn:
        n = int(conn.execute(sa.select(sa.func.count()).select_from(schema.outbox)).scalar() or 0)
    cid = add_contact(container, phone=f"+1415555{n:04d}")
    with container.engine.begin() as conn:
        return int(
            conn.execute(
                sa.insert(schema.outbox).values(
                    contact_id=cid,
                    idempotency_key=f"sent-{n}",
                    kind="message",
                    channel=channel,
                    payload={},
                    status="sent",
                    next_attempt_at=now,
                    created_at=now,
                    recipient=f"+1415555{n:04d}",
                    rendered=rendered,
                )
            ).inserted_primary_key[0]
        )


def test_guessed_numeric_refs_change_nothing(api: Any, container: Container) -> None:
    """The attack: signed or not, `?ref=N` for every N must never name a message."""
    oids = [sent_row(container, rendered=r) for r in (None, {}, {"message_ref": None})]
    form = {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30006"}
    for oid in oids:
        for ref in (str(oid), f"{oid}.", f"{oid}.0@tidings.localhost", f"<{oid}>"):
            r = twilio_post(api, container, f"/api/webhooks/sms/status?{urlencode({'ref': ref})}", form)
            assert r.status_code == 200 and r.json() == {"event": None}, (ref, r.text)
    # a valid ref for another channel's row, or signed with another secret, names nothing either
    voice = sent_row(container, "voice")
    other = status_ref("not-our-secret", oids[0], container.clock.now())
    for path in (
        f"/api/webhooks/sms/status?ref={status_ref(container.secret_key, voice, container.clock.now())}",
        f"/api/webhooks/sms/status?ref={other}",
    ):
        assert twilio_post(api, container, path, form).json() == {"event": None}
    assert counts(container) == (0, 0)
    # the real ref works
    good = status_ref(container.secret_key, oids[0], container.clock.now())
    ok = twilio_post(api, container, f"/api/webhooks/sms/status?ref={good}", form)
    assert ok.json() == {"event": "message.bounced"}
    assert counts(container) == (1, 1)


def test_insecure_development_setting_accepts_unsigned_calls_loudly(
    api: Any, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    from tidings.server import create_app

    container.settings = replace(container.settings, insecure_unsigned_webhooks=True)
    with caplog.at_level(logging.WARNING):
        create_app(container)
    assert "INSECURE" in caplog.text and "TIDINGS_INSECURE_UNSIGNED_WEBHOOKS" in caplog.text
    caplog.clear()
    cid = add_contact(container)
    with caplog.at_level(logging.WARNING):
        r = api.post("/api/webhooks/sms/inbound", data={"From": "+14155550123", "Body": "START"})
    assert r.status_code == 200, r.text
    assert consent(container, cid) == "granted"
    assert "INSECURE: accepted an unverified webhook /api/webhooks/sms/inbound" in caplog.text


def test_setting_is_read_from_the_environment() -> None:
    from tidings.settings import Settings

    assert Settings.from_env({}).insecure_unsigned_webhooks is False
    assert Settings.from_env({"TIDINGS_INSECURE_UNSIGNED_WEBHOOKS": "1"}).insecure_unsigned_webhooks is True
