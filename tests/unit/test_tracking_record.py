"""Opens and clicks recorded through the unit of work's ports (outbox, event log): on the memory twin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tidings.channels import tracking
from tidings.store.memory import MemoryStore, MemoryUnitOfWork

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


def _store_with_message() -> tuple[MemoryStore, int]:
    store = MemoryStore()
    oid = store.add_outbox(
        {
            "contact_id": 7,
            "kind": "message",
            "channel": "email",
            "template": "welcome",
            "status": "sent",
            "sent_at": NOW - timedelta(hours=1),
            "rendered": {"links": ["https://shop.example/a", "https://shop.example/b"]},
            "payload": {},
        }
    )
    return store, oid


def test_a_click_records_its_event_queues_the_contact_and_returns_the_stored_link() -> None:
    store, oid = _store_with_message()
    with MemoryUnitOfWork(store) as uow:
        token = tracking.Token(tracking.CLICK, oid, 1, NOW)
        url = tracking.record_click(uow, token, user_agent=UA, ip="8.8.8.8", now=NOW)
        uow.commit()
    assert url == "https://shop.example/b"
    [event] = store.state.events
    assert (event["contact_id"], event["name"], event["source"], event["message_id"]) == (
        7, "message.clicked", "tracking", None
    )
    assert event["properties"]["url"] == "https://shop.example/b" and event["properties"]["machine"] is False
    assert event["properties"]["message_id"] == oid
    assert 7 in store.state.queued_contacts


def test_an_unknown_link_or_message_records_nothing() -> None:
    store, oid = _store_with_message()
    with MemoryUnitOfWork(store) as uow:
        no_link = tracking.Token(tracking.CLICK, oid, 2, NOW)
        assert tracking.record_click(uow, no_link, user_agent=UA, ip=None, now=NOW) is None
        no_message = tracking.Token(tracking.OPEN, oid + 1, 0, NOW)
        assert not tracking.record_open(uow, no_message, user_agent=UA, ip=None, now=NOW)
        uow.commit()
    assert store.state.events == []


def test_an_open_without_user_agent_is_marked_machine() -> None:
    store, oid = _store_with_message()
    with MemoryUnitOfWork(store) as uow:
        assert tracking.record_open(uow, tracking.Token(tracking.OPEN, oid, 0, NOW), user_agent=None, ip=None, now=NOW)
        uow.commit()
    [event] = store.state.events
    assert event["name"] == "message.opened"
    assert event["properties"]["machine"] is True and event["properties"]["machine_reason"] == "no user agent"
