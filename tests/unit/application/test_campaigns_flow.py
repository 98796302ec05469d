"""Campaign use cases and the sender on the in-memory store: states, exactly-once, A/B, crash resume."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tidings.application.campaigns import campaigns as svc
from tidings.application.campaigns.sending import CampaignSender
from tidings.clock import ManualClock
from tidings.domain.campaigns.model import CampaignError, StateError
from tidings.store.memory import MemoryStore, MemoryUnitOfWork

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def store() -> MemoryStore:
    s = MemoryStore()
    ids = [s.add_contact({"email": f"c{i}@example.com", "attributes": {}, "created_at": NOW, "updated_at": NOW,
                          "timezone": "America/New_York" if i % 3 == 0 else None}) for i in range(40)]
    s.state.segment_members["all"] = ids
    with MemoryUnitOfWork(s) as uow:
        uow.templates.upsert("news", "", {"channel": "email", "name": "News", "subject": "Hi", "body": "<p>x</p>",
                                          "format": "html", "text_body": None, "settings": {}, "updated_at": NOW})
        uow.commit()
    return s


def _go(store: MemoryStore, doc: dict[str, Any], clock: ManualClock) -> None:
    with MemoryUnitOfWork(store) as uow:
        svc.create(uow, doc, clock.now(), by="m@example.com")
        svc.approve(uow, doc["key"], clock.now(), by="admin@example.com")
        svc.schedule(uow, doc["key"], clock.now())
        uow.commit()


def _outbox(store: MemoryStore) -> list[dict[str, Any]]:
    return list(store.state.outbox.values())


def test_refusals_name_the_field(store: MemoryStore) -> None:
    with MemoryUnitOfWork(store) as uow:
        with pytest.raises(CampaignError) as e:
            svc.create(uow, {"key": "x", "segment": "nope", "template": "nope"}, NOW, by=None)
        assert {p for p, _ in e.value.problems} == {"segment", "template"}
        svc.create(uow, {"key": "x", "segment": "all", "template": "news"}, NOW, by=None)
        with pytest.raises(CampaignError):
            svc.create(uow, {"key": "x", "segment": "all", "template": "news"}, NOW, by=None)
        with pytest.raises(StateError):
            svc.schedule(uow, "x", NOW)  # not approved
        approved = svc.approve(uow, "x", NOW, by="admin@example.com")
        assert approved["approved_by"] == "admin@example.com" and approved["audience_count"] == 40
        edited = svc.edit(uow, "x", {"segment": "all", "template": "news", "name": "X2"}, NOW)
        assert edited["status"] == "draft" and edited["approved_by"] is None  # the approval is dropped


def test_send_enqueues_each_member_once_in_throttled_batches_and_resumes_after_a_crash(store: MemoryStore) -> None:
    clock = ManualClock(NOW)
    _go(store, {"key": "spring", "segment": "all", "template": "news", "throttle": {"max": 10, "per": "minute"}},
        clock)
    sender = CampaignSender(lambda: MemoryUnitOfWork(store), clock, batch=15)
    assert sender.run_once() == 1  # start: audience frozen
    assert sender.run_once() == 1  # first batch of 15
    assert len(_outbox(store)) == 15
    # a crash: a new sender, and a member added to the segment after the start does not join
    store.state.segment_members["all"].append(store.add_contact({"email": "late@example.com", "attributes": {},
                                                                 "created_at": NOW, "updated_at": NOW}))
    sender = CampaignSender(lambda: MemoryUnitOfWork(store), clock, batch=15)
    while sender.run_once():
        pass
    rows = _outbox(store)
    assert len(rows) == 40 and len({r["contact_id"] for r in rows}) == 40
    slots = Counter(r["next_attempt_at"] for r in rows)
    assert max(slots.values()) <= 10 and max(slots) == NOW + timedelta(minutes=3)
    assert all(r["payload"]["campaign"] == "spring" and r["category"] == "marketing" for r in rows)
    with MemoryUnitOfWork(store) as uow:
        shown = svc.show(uow, "spring")
    assert shown["status"] == "sent" and shown["progress"]["queued"] == 40 and shown["progress"]["audience"] == 40


def test_ab_test_group_then_the_winner_for_the_rest(store: MemoryStore) -> None:
    clock = ManualClock(NOW)
    _go(store, {"key": "ab", "segment": "all", "template": "news", "subjects": ["Subject A", "Subject B"],
                "ab": {"test_share": 0.5, "winner_after_hours": 2, "metric": "opens"}}, clock)
    sender = CampaignSender(lambda: MemoryUnitOfWork(store), clock)
    while sender.run_once():
        pass
    test = _outbox(store)
    assert len(test) == 20 and Counter(r["payload"]["variant"] for r in test) == {"A": 10, "B": 10}
    for r in test:  # delivered; B opened far more often
        r["status"] = "sent"
        if r["payload"]["variant"] == "B" or r["id"] % 5 == 0:
            store.state.analytics_firsts.add((r["id"], "open_human"))
    clock.advance(timedelta(hours=1))
    assert sender.run_once() == 0  # not yet
    clock.advance(timedelta(hours=1))
    while sender.run_once():
        pass
    rest = [r for r in _outbox(store) if r["id"] not in {t["id"] for t in test}]
    assert len(rest) == 20 and {r["payload"]["subject"] for r in rest} == {"Subject B"}
    with MemoryUnitOfWork(store) as uow:
        shown = svc.show(uow, "ab")
    assert shown["winner"] == "B" and shown["status"] == "sent" and "B" in shown["winner_verdict"]


def test_cancel_skips_what_is_not_sent_yet(store: MemoryStore) -> None:
    clock = ManualClock(NOW)
    _go(store, {"key": "c", "segment": "all", "template": "news", "throttle": {"max": 5, "per": "hour"}}, clock)
    sender = CampaignSender(lambda: MemoryUnitOfWork(store), clock)
    sender.run_once()
    sender.run_once()
    with MemoryUnitOfWork(store) as uow:
        svc.cancel(uow, "c", clock.now())
        uow.commit()
    assert sender.run_once() == 0
    assert {r["status"] for r in _outbox(store)} == {"skipped"}
