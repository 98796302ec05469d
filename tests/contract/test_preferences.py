"""Contract of the consent and outbox-skip ports, read through the preference use cases: an
unsubscribe and the preference centre give one answer on every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.contract.conftest import NOW, Backend
from tidings.application.contacts.preferences import (
    UnknownMessage,
    get_preferences,
    save_preferences,
    unsubscribe_message,
)


def _template(backend: Backend, key: str, topic: str | None) -> None:
    settings = {"topic": topic} if topic else {}
    values = {"channel": "email", "name": key, "subject": "s", "body": "b", "format": "html", "text_body": None}
    with backend.uow() as uow:
        uow.templates.upsert(key, "", {**values, "settings": settings, "updated_at": NOW})
        uow.commit()


def test_consents_are_added_read_and_updated(backend: Backend) -> None:
    cid = backend.add_contact("a@x.test")
    with backend.uow() as uow:
        assert uow.consents.get(cid, "email") is None
        uow.consents.add(cid, "sms", {"status": "granted", "source": "form", "recorded_at": NOW, "proof": {"f": 1}})
        uow.consents.add(cid, "email", {"status": "pending", "source": "api", "recorded_at": NOW, "proof": {}})
        uow.consents.update(cid, "email", {"status": "granted", "topics": {"news": False}})
        uow.commit()
    with backend.uow() as uow:
        rows = uow.consents.of_contact(cid)
        assert [(r["channel"], r["status"], r["topics"]) for r in rows] == [
            ("email", "granted", {"news": False}),
            ("sms", "granted", {}),
        ]
        sms = uow.consents.get(cid, "sms")
        assert sms is not None and (sms["source"], sms["proof"], sms["paused_until"]) == ("form", {"f": 1}, None)


def test_skip_pending_marketing_leaves_transactional_started_and_other_channels(backend: Backend) -> None:
    cid = backend.add_contact("a@x.test")
    other = backend.add_contact("b@x.test")
    skip = backend.add_outbox(contact_id=cid, idempotency_key="1", channel="email")
    keep = [
        backend.add_outbox(contact_id=cid, idempotency_key="2", channel="email", category="transactional"),
        backend.add_outbox(contact_id=cid, idempotency_key="3", channel="email", status="sending"),
        backend.add_outbox(contact_id=cid, idempotency_key="4", channel="sms"),
        backend.add_outbox(contact_id=cid, idempotency_key="5", channel="email", kind="webhook"),
        backend.add_outbox(contact_id=other, idempotency_key="6", channel="email"),
    ]
    with backend.uow() as uow:
        assert uow.outbox.skip_pending_marketing(cid, "email", "unsubscribed") == 1
        uow.commit()
    with backend.uow() as uow:
        row = uow.outbox.get(skip)
        assert row is not None and (row["status"], row["error"]) == ("skipped", "unsubscribed")
        assert [r["status"] for r in (uow.outbox.get(i) for i in keep) if r] == [
            "pending",
            "sending",
            "pending",
            "pending",
            "pending",
        ]


def test_unsubscribe_then_preference_centre(backend: Backend) -> None:
    cid = backend.add_contact("a@x.test")
    _template(backend, "news", "newsletter")
    _template(backend, "promo", "offers")
    _template(backend, "receipt", None)
    sent = backend.add_outbox(contact_id=cid, idempotency_key="sent", channel="email", status="sent", template="news")
    pending = backend.add_outbox(contact_id=cid, idempotency_key="next", channel="email")
    with backend.uow() as uow:
        with pytest.raises(UnknownMessage):
            unsubscribe_message(uow, sent + 100, NOW, method="page")
        first = unsubscribe_message(uow, sent, NOW, method="one_click", proof={"ip": "1.2.3.4"})
        again = unsubscribe_message(uow, sent, NOW, method="one_click")
        uow.commit()
    assert first == {"contact_id": cid, "channel": "email", "skipped": 1, "changed": True}
    assert again == {"contact_id": cid, "channel": "email", "skipped": 0, "changed": False}
    assert [n for c, n in backend.events() if c == cid] == ["message.unsubscribed", "consent.changed"]
    assert cid in backend.queued()
    with backend.uow() as uow:
        row = uow.outbox.get(pending)
        assert row is not None and row["status"] == "skipped"
        consent = uow.consents.get(cid, "email")
        assert consent is not None and consent["proof"] == {"message_id": sent, "method": "one_click", "ip": "1.2.3.4"}
        prefs = get_preferences(uow, cid)
    assert prefs["topics"] == ["newsletter", "offers"]
    assert prefs["channels"] == {"email": {"status": "unsubscribed", "topics": {}, "paused_until": None}}
    with backend.uow() as uow:
        saved = save_preferences(
            uow, cid, {"email": {"subscribed": True, "topics": {"offers": False}, "pause_days": 7}}, NOW
        )
        with pytest.raises(ValueError, match="pause_days"):
            save_preferences(uow, cid, {"email": {"pause_days": 400}}, NOW)
        with pytest.raises(ValueError, match="unknown channel"):
            save_preferences(uow, cid, {"fax": {"subscribed": True}}, NOW)
        uow.commit()
    assert saved["channels"]["email"] == {
        "status": "granted",
        "topics": {"offers": False},
        "paused_until": NOW + timedelta(days=7),
    }
    names = [n for c, n in backend.events() if c == cid]
    assert names[2:] == ["consent.changed", "preferences.changed"]
