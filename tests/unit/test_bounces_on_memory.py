"""``channels/bounces.py`` and ``channels/prepare.py`` on the memory twins of their ports
(``FeedbackRepository``, ``DeliveryReads``): their decisions need no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tidings.channels.bounces import (
    HARD,
    SOFT,
    Feedback,
    Limits,
    is_domain_paused,
    paused_domains,
    record_feedback,
    resume_domain,
)
from tidings.channels.prepare import Links, Preparer
from tidings.store.memory import MemoryStore, MemoryUnitOfWork
from tidings.store.memory.delivery_reads import MemoryDeliveryReads

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LIMITS = Limits(soft_bounce_threshold=2, rate_min_volume=3, bounce_rate_limit=0.5)


def test_feedback_suppresses_records_events_and_pauses_a_domain() -> None:
    store = MemoryStore()
    ann = store.add_contact({"email": "ann@example.org"})
    bounce = Feedback(HARD, "Ann@Example.org", "webhook", ref="n1", sending_domain="mail.example")
    soft = [Feedback(SOFT, "bob@example.org", "webhook", ref=f"s{i}", sending_domain="mail.example") for i in range(2)]
    with MemoryUnitOfWork(store) as uow:
        result = record_feedback(uow, [bounce, bounce, *soft], NOW, LIMITS)  # the replay is a duplicate
        uow.commit()
    assert (result.recorded, result.duplicates) == (3, 1)
    assert result.suppressed == ["ann@example.org", "bob@example.org"]  # bob: two soft bounces in the window
    assert result.paused_domains == ["mail.example"]  # 3 bounces over 3 messages
    assert {k: r["reason"] for k, r in store.state.suppressions.items()} == {
        ("email", "ann@example.org"): HARD,
        ("email", "bob@example.org"): "soft_bounces",
    }
    assert [(e["contact_id"], e["name"]) for e in store.state.events] == [(ann, "message.bounced")]
    assert store.state.queued_contacts == {ann}
    with MemoryUnitOfWork(store) as uow:
        assert paused_domains(uow, NOW) == {"mail.example"} and is_domain_paused(uow, "Mail.Example", NOW)
        assert resume_domain(uow, "mail.example", NOW + timedelta(hours=1))
        assert not is_domain_paused(uow, "mail.example", NOW) and not resume_domain(uow, "mail.example", NOW)
        uow.commit()


def _message(store: MemoryStore, contact_id: int) -> dict[str, Any]:
    row = {
        "contact_id": contact_id, "kind": "message", "channel": "email", "category": "marketing",
        "template": "welcome", "payload": {}, "status": "sending", "attempts": 1, "next_attempt_at": NOW,
        "created_at": NOW,
    }  # fmt: skip
    oid = store.add_outbox(row | {"idempotency_key": f"welcome:{contact_id}"})
    return store.state.outbox[oid] | {}


def test_prepare_checks_suppression_consent_and_paused_domains_on_memory() -> None:
    store = MemoryStore()
    ann = store.add_contact({"email": "ann@example.org", "first_name": "Ann"})
    bob = store.add_contact({"email": "Bob@Example.org"})
    cat = store.add_contact({"email": "cat@example.org"})
    with MemoryUnitOfWork(store) as uow:
        uow.templates.upsert(
            "welcome",
            "",
            {
                "channel": "email", "name": "Welcome", "subject": "Hi {{ contact.first_name }}", "format": "html",
                "body": "<p>Hello</p>", "text_body": None, "settings": {"from": "news@mail.example"},
                "updated_at": NOW,
            },
        )  # fmt: skip
        uow.consents.add(ann, "email", {"status": "granted", "source": "form", "recorded_at": NOW, "proof": {}})
        uow.suppressions.add("email", "bob@example.org", HARD, {}, NOW)
        uow.commit()
    rows = [_message(store, ann), _message(store, bob), _message(store, cat)]
    preparer = Preparer(Links("secret", "https://t.example", "news@mail.example"))

    ready, decided, rendered = preparer.prepare(MemoryDeliveryReads(store), rows, NOW)
    assert [(r["contact_id"], m.recipient, m.subject) for r, m in ready] == [(ann, "ann@example.org", "Hi Ann")]
    assert [(o.row["contact_id"], o.status) for o in decided] == [(bob, "suppressed"), (cat, "skipped")]
    assert [r[0] for r in rendered] == [rows[0]["id"]]

    store.state.sending_domains["mail.example"] = {"domain": "mail.example", "status": "paused", "detail": {}}
    ready, decided, _ = preparer.prepare(MemoryDeliveryReads(store), rows, NOW)
    assert ready == []
    assert [(o.row["contact_id"], o.status) for o in decided] == [
        (ann, "pending"),
        (bob, "suppressed"),
        (cat, "pending"),
    ]
    assert store.state.outbox[rows[0]["id"]]["attempts"] == 0  # the held message's attempt is given back
