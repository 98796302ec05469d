"""Contract of what inbound SMS keywords and status callbacks use — the suppression list, a
contact by phone, an event by its message id — and the use cases themselves
(``application/ingest/sms_inbound``), run on memory, SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta

from tests.contract.conftest import NOW, Backend
from tidings.application.ingest.sms_inbound import (
    HELP_REPLY,
    START_REPLY,
    STOP_REPLY,
    SUPPRESSION_REASON,
    handle_inbound,
    handle_status,
)
from tidings.domain.changes import change_event

PHONE = "+4915550001"


def _stop(backend: Backend, phone: str = PHONE, body: str = "STOP") -> tuple[str | None, int | None, str | None]:
    with backend.uow() as uow:
        r = handle_inbound(uow, {"From": phone, "To": "+4915559999", "Body": body, "MessageSid": "SM1"}, NOW)
        uow.commit()
    return r.keyword, r.contact_id, r.reply


def test_the_suppression_list_keeps_the_first_reason_and_lifts_only_its_own(backend: Backend) -> None:
    with backend.uow() as uow:
        assert not uow.suppressions.has("sms", PHONE)
        assert uow.suppressions.add("sms", PHONE, "sms_stop", {"keyword": "STOP"}, NOW) is True
        assert uow.suppressions.add("sms", PHONE, "hard_bounce", {}, NOW) is False  # already suppressed
        assert uow.suppressions.has("sms", PHONE) and not uow.suppressions.has("email", PHONE)
        uow.suppressions.lift("sms", PHONE, "hard_bounce")  # not its reason: stays
        assert uow.suppressions.has("sms", PHONE)
        uow.commit()
    with backend.uow() as uow:
        assert uow.suppressions.has("sms", PHONE)  # committed
        uow.suppressions.lift("sms", PHONE, "sms_stop")
        assert not uow.suppressions.has("sms", PHONE)
    with backend.uow() as uow:
        assert uow.suppressions.has("sms", PHONE)  # no commit: rolled back


def test_a_contact_by_identifier_and_an_event_by_message_id(backend: Backend) -> None:
    ann = backend.add_contact("ann@shop.test", phone=PHONE, external_id="u-1")
    with backend.uow() as uow:
        assert uow.contacts.id_by("phone", PHONE) == ann
        assert uow.contacts.id_by("email", "ann@shop.test") == ann
        assert uow.contacts.id_by("external_id", "u-1") == ann
        assert uow.contacts.id_by("phone", "+4915550002") is None
        assert not uow.events.has_message_id("m-1")
        event = change_event(ann, "contact.updated", {"changed": {}}, NOW, "test") | {"message_id": "m-1"}
        uow.events.append_changes([event], NOW)
        assert uow.events.has_message_id("m-1") and not uow.events.has_message_id("m-2")
        uow.commit()
    assert backend.queued() == {ann}


def test_stop_opts_a_known_contact_out_and_start_opts_back_in(backend: Backend) -> None:
    ann = backend.add_contact("ann@shop.test", phone=PHONE)
    marketing = backend.add_outbox(contact_id=ann, channel="sms", category="marketing", idempotency_key="k1")
    receipt = backend.add_outbox(contact_id=ann, channel="sms", category="transactional", idempotency_key="k2")
    assert _stop(backend) == ("stop", ann, STOP_REPLY)
    with backend.uow() as uow:
        consent = uow.consents.get(ann, "sms")
        assert consent is not None and consent["status"] == "unsubscribed" and consent["source"] == "sms_keyword"
        assert consent["proof"]["keyword"] == "STOP" and consent["proof"]["from"] == PHONE
        assert uow.suppressions.has("sms", PHONE)
        skipped, kept = uow.outbox.get(marketing), uow.outbox.get(receipt)
        assert skipped is not None and skipped["status"] == "skipped"
        assert kept is not None and kept["status"] == "pending"  # transactional messages still go
    assert backend.events() == [(ann, "consent.changed")] and backend.queued() == {ann}
    assert _stop(backend) == ("stop", ann, STOP_REPLY)  # a second STOP: the consent is unchanged
    assert backend.events() == [(ann, "consent.changed")]
    assert _stop(backend, body="start") == ("start", ann, START_REPLY)
    with backend.uow() as uow:
        consent = uow.consents.get(ann, "sms")
        assert consent is not None and consent["status"] == "granted"
        assert not uow.suppressions.has("sms", PHONE)
    assert backend.events() == [(ann, "consent.changed"), (ann, "consent.changed")]


def test_an_unknown_number_is_suppressed_and_help_changes_nothing(backend: Backend) -> None:
    assert _stop(backend, phone="+1 (415) 555-0132") == ("stop", None, STOP_REPLY)
    with backend.uow() as uow:
        assert uow.suppressions.has("sms", "+14155550132")  # normalised (E.164)
    assert _stop(backend, phone="+4915550004", body="HELP") == ("help", None, HELP_REPLY)
    assert _stop(backend, phone="+4915550004", body="hello there") == (None, None, None)
    with backend.uow() as uow:
        assert not uow.suppressions.has("sms", "+4915550004")
    assert backend.events() == []


def test_status_callbacks_append_once_and_a_hard_bounce_suppresses(backend: Backend) -> None:
    ann = backend.add_contact("ann@shop.test", phone=PHONE)
    sms = backend.add_outbox(
        contact_id=ann, channel="sms", recipient=PHONE, template="hi", status="sent", idempotency_key="k3"
    )
    mail = backend.add_outbox(
        contact_id=ann, channel="email", recipient="ann@shop.test", status="sent", idempotency_key="k4"
    )

    def status(outbox_id: int | None, form: dict[str, str], channel: str = "sms") -> str | None:
        with backend.uow() as uow:
            name = handle_status(uow, channel, outbox_id, form, NOW + timedelta(minutes=1))
            uow.commit()
        return name

    assert status(sms, {"MessageSid": "SM9", "MessageStatus": "delivered"}) == "message.delivered"
    assert status(sms, {"MessageSid": "SM9", "MessageStatus": "delivered"}) is None  # the same receipt again
    assert status(mail, {"MessageSid": "SM9", "MessageStatus": "delivered"}) is None  # another channel's row
    assert status(None, {"MessageStatus": "delivered"}) is None and status(10_000, {"MessageStatus": "sent"}) is None
    assert status(sms, {"MessageSid": "SM9", "MessageStatus": "queued"}) is None
    assert status(sms, {"MessageSid": "SM9", "MessageStatus": "failed", "ErrorCode": "30003"}) == "message.bounced"
    with backend.uow() as uow:
        assert not uow.suppressions.has("sms", PHONE)  # a soft bounce
    assert status(sms, {"MessageSid": "SM9", "MessageStatus": "undelivered", "ErrorCode": "21211"}) == "message.bounced"
    with backend.uow() as uow:
        assert uow.suppressions.has("sms", PHONE)
    assert backend.events() == [(ann, "message.delivered"), (ann, "message.bounced"), (ann, "message.bounced")]
    assert SUPPRESSION_REASON == "sms_stop"
