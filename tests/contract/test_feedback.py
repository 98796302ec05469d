"""Contract of ``FeedbackRepository`` (``ports/delivery.py``): bounce and complaint rows, the
suppressions they add, the sending domains' counts and pauses — what ``channels/bounces.py``
decides on — memory and SQL alike."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest

from tests.contract.conftest import NOW, Backend
from tidings.domain.changes import change_event

DAY = timedelta(days=1)
_KEYS = itertools.count(1)


def _outbox(backend: Backend, **values: Any) -> int:
    return backend.add_outbox(idempotency_key=f"k{next(_KEYS)}", **values)


def _feedback(address: str, kind: str, at: Any, **more: Any) -> dict[str, Any]:
    row = {
        "channel": "email", "address": address, "kind": kind, "sending_domain": "mail.example", "contact_id": None,
        "outbox_id": None, "source": "webhook", "ref": None, "detail": {}, "received_at": at,
    }  # fmt: skip
    return row | more


def test_a_notification_is_seen_once_added_and_its_ref_is_unique(backend: Backend) -> None:
    with backend.uow() as uow:
        assert not uow.feedback.seen("ses:m1:ann@example.org")
        uow.feedback.add(_feedback("ann@example.org", "hard_bounce", NOW, ref="ses:m1:ann@example.org"))
        uow.feedback.add(_feedback("ann@example.org", "soft_bounce", NOW))  # no ref: never "seen"
        uow.feedback.add(_feedback("ann@example.org", "soft_bounce", NOW))  # and many rows may have none
        assert uow.feedback.seen("ses:m1:ann@example.org")
        uow.commit()
    with backend.uow() as uow:
        assert uow.feedback.seen("ses:m1:ann@example.org")
        assert not uow.feedback.seen("ses:m2:ann@example.org")
        assert uow.feedback.soft_bounces_since("ann@example.org", NOW, "soft_bounce") == 2
    with backend.uow() as uow, pytest.raises(Exception):  # noqa: B017 (IntegrityError on SQL, KeyError in memory)
        uow.feedback.add(_feedback("ann@example.org", "complaint", NOW, ref="ses:m1:ann@example.org"))


def test_an_uncommitted_notification_is_not_kept(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.feedback.add(_feedback("ann@example.org", "hard_bounce", NOW, ref="r1"))
    with backend.uow() as uow:
        assert not uow.feedback.seen("r1")


def test_the_message_of_our_message_id(backend: Backend) -> None:
    by_provider_id = _outbox(backend, provider_message_id="77.aa11@mail.example", recipient="ann@example.org")
    rendered = _outbox(backend, rendered={"message_ref": "2.bb22@mail.example"})
    assert (by_provider_id, rendered) == (1, 2), "a fresh database numbers outbox rows from 1"
    with backend.uow() as uow:
        found = uow.feedback.message_for_ref("<77.aa11@mail.example>")  # the angle brackets of a header
        assert found is not None and found["id"] == by_provider_id and found["recipient"] == "ann@example.org"
        again = uow.feedback.message_for_ref(" 2.bb22@mail.example ")  # no provider id: by the row id it starts with
        assert again is not None and again["id"] == rendered
        assert uow.feedback.message_for_ref("2.forged@mail.example") is None  # that row rendered another ref
        assert uow.feedback.message_for_ref("1.aa11@mail.example") is None  # row 1 never rendered one
        assert uow.feedback.message_for_ref("99.cc33@mail.example") is None
        assert uow.feedback.message_for_ref("not-ours@mail.example") is None
        assert uow.feedback.message_for_ref(None) is None and uow.feedback.message_for_ref("") is None


def test_the_contact_of_an_address_by_its_lower_cased_email(backend: Backend) -> None:
    ann = backend.add_contact("Ann@Example.org")
    bob = backend.add_contact("bob@example.org")
    with backend.uow() as uow:
        assert uow.feedback.contact_by_email("ann@example.org") == ann
        assert uow.feedback.contact_by_email("bob@example.org") == bob
        assert uow.feedback.contact_by_email("Ann@Example.org") is None  # only the stored side is lowered
        assert uow.feedback.contact_by_email("cat@example.org") is None


def test_soft_bounces_counted_by_address_kind_and_window(backend: Backend) -> None:
    with backend.uow() as uow:
        add = uow.feedback.add
        add(_feedback("ann@example.org", "soft_bounce", NOW - 40 * DAY))  # before the window
        add(_feedback("ann@example.org", "soft_bounce", NOW - 10 * DAY))
        add(_feedback("ann@example.org", "soft_bounce", NOW - DAY))
        add(_feedback("ann@example.org", "hard_bounce", NOW - DAY))  # another kind
        add(_feedback("bob@example.org", "soft_bounce", NOW))  # another address
        uow.commit()
    with backend.uow() as uow:
        count = uow.feedback.soft_bounces_since
        assert count("ann@example.org", NOW - 30 * DAY, "soft_bounce") == 2
        assert count("ann@example.org", NOW - 10 * DAY, "soft_bounce") == 2  # the window's start is in it
        assert count("ann@example.org", NOW - 10 * DAY + timedelta(seconds=1), "soft_bounce") == 1
        assert count("ann@example.org", NOW - 30 * DAY, "hard_bounce") == 1
        assert count("ann@example.org", NOW - 50 * DAY, "soft_bounce") == 3
        assert count("cat@example.org", NOW - 50 * DAY, "soft_bounce") == 0


def test_suppress_an_email_address_once(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.suppressions.add("sms", "ann@example.org", "manual", {}, NOW)  # another channel's list
        assert uow.feedback.suppress("ann@example.org", "hard_bounce", {"source": "ses"}, NOW)
        assert not uow.feedback.suppress("ann@example.org", "complaint", {}, NOW + DAY)  # there already
        assert uow.feedback.suppress("Ann@example.org", "complaint", {}, NOW)  # the address as given, exactly
        uow.commit()
    with backend.uow() as uow:
        assert uow.suppressions.has("email", "ann@example.org") and uow.suppressions.has("email", "Ann@example.org")
        reads = backend.delivery_reads(uow)
        assert reads.suppressed({("email", "ann@example.org"), ("email", "bob@example.org")}) == {
            ("email", "ann@example.org")
        }


def test_recorded_events_are_stored_and_their_contacts_queued(backend: Backend) -> None:
    ann = backend.add_contact("ann@example.org")
    bob = backend.add_contact("bob@example.org")
    backend.add_contact("cat@example.org")
    with backend.uow() as uow:
        uow.feedback.record_events(
            [
                change_event(ann, "message.bounced", {"bounce_type": "hard"}, NOW, "feedback"),
                change_event(bob, "message.complained", {}, NOW, "feedback"),
                change_event(ann, "message.bounced", {"bounce_type": "soft"}, NOW, "feedback"),
            ],
            NOW,
        )
        uow.feedback.record_events([], NOW)  # nothing to record
        uow.commit()
    assert backend.events() == [(ann, "message.bounced"), (bob, "message.complained"), (ann, "message.bounced")]
    assert backend.queued() == {ann, bob}


def test_sending_domains_saved_paused_and_listed(backend: Backend) -> None:
    with backend.uow() as uow:
        fb = uow.feedback
        assert fb.domain("b.example") is None and fb.list_domains() == [] and fb.paused_domains() == set()
        fb.save_domain(
            "b.example", {"status": "active", "reason": None, "detail": {"resumed_at": "x"}, "updated_at": NOW}
        )
        fb.save_domain("a.example", {"status": "active", "reason": None, "detail": {}, "updated_at": NOW})
        fb.save_domain("b.example", {"status": "paused", "reason": "rates", "paused_at": NOW, "updated_at": NOW + DAY})
        uow.commit()
    with backend.uow() as uow:
        fb = uow.feedback
        b = fb.domain("b.example")
        assert b == {
            "domain": "b.example",
            "status": "paused",
            "reason": "rates",
            "detail": {"resumed_at": "x"},
            "paused_at": NOW,
            "updated_at": NOW + DAY,
        }  # fmt: skip  (an update keeps the columns it does not name)
        assert fb.domain("B.example") is None  # callers lower-case the domain
        assert fb.paused_domains() == {"b.example"}
        assert [d["domain"] for d in fb.list_domains()] == ["a.example", "b.example"]
        assert fb.list_domains()[1] == b
        assert fb.list_domains()[0]["paused_at"] is None


def test_sent_since_counts_the_domains_email_sent_or_delivered_in_the_window(backend: Backend) -> None:
    def sent(ref: str, at: Any = NOW - DAY, status: str = "sent", channel: str = "email") -> None:
        _outbox(backend, channel=channel, status=status, sent_at=at, provider_message_id=ref)

    sent("1.a@mail.example")
    sent("2.a@mail.example", status="delivered")
    sent("3.a@mail.example", at=NOW - 7 * DAY)  # the window's start is in it
    sent("4.a@mail.example", at=NOW - 8 * DAY)  # before the window
    sent("5.a@mail.example", status="failed")
    sent("6.a@mail.example", status="bounced")
    sent("7.a@mail.example", channel="sms")
    sent("8.a@sub.mail.example")  # a subdomain is another domain
    sent("9.a@mail.example.com")
    sent("10.a@other.example")
    sent("12.a@Mail.Example")  # a sender written in capitals: the same domain
    sent("13.a@mail_example")  # "_" is not a wildcard
    sent("14.a@x%.example")
    sent("15.a@xyz.example")  # nor is "%"
    _outbox(backend, channel="email", status="sent", sent_at=None, provider_message_id="11.a@mail.example")
    with backend.uow() as uow:
        assert uow.feedback.sent_since("mail.example", NOW - 7 * DAY) == 4
        assert uow.feedback.sent_since("mail.example", NOW - 30 * DAY) == 5
        assert uow.feedback.sent_since("mail.examplE", NOW - 7 * DAY) == 4
        assert uow.feedback.sent_since("x%.example", NOW - 7 * DAY) == 1
        assert uow.feedback.sent_since("other.example", NOW - 7 * DAY) == 1
        assert uow.feedback.sent_since("none.example", NOW - 7 * DAY) == 0


def test_kinds_since_counts_the_domains_feedback_by_kind(backend: Backend) -> None:
    with backend.uow() as uow:
        add = uow.feedback.add
        add(_feedback("a@x.org", "hard_bounce", NOW - DAY))
        add(_feedback("b@x.org", "hard_bounce", NOW - 7 * DAY))
        add(_feedback("c@x.org", "complaint", NOW))
        add(_feedback("d@x.org", "soft_bounce", NOW - 8 * DAY))  # before the window
        add(_feedback("e@x.org", "soft_bounce", NOW, sending_domain="other.example"))
        add(_feedback("f@x.org", "soft_bounce", NOW, sending_domain=None))
        uow.commit()
    with backend.uow() as uow:
        assert uow.feedback.kinds_since("mail.example", NOW - 7 * DAY) == {"hard_bounce": 2, "complaint": 1}
        assert uow.feedback.kinds_since("other.example", NOW - 7 * DAY) == {"soft_bounce": 1}
        assert uow.feedback.kinds_since("none.example", NOW - 7 * DAY) == {}


def test_a_held_messages_attempt_is_given_back_never_below_zero(backend: Backend) -> None:
    tried = _outbox(backend, attempts=2)
    fresh = _outbox(backend, attempts=0)
    with backend.uow() as uow:
        uow.feedback.give_back_attempt(tried)
        uow.feedback.give_back_attempt(fresh)
        uow.feedback.give_back_attempt(tried + fresh + 100)  # no such row
        uow.commit()
    with backend.uow() as uow:
        assert uow.outbox.get(tried)["attempts"] == 1  # type: ignore[index]
        assert uow.outbox.get(fresh)["attempts"] == 0  # type: ignore[index]
