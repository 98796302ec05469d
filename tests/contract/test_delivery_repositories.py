"""Contract of the delivery ports the use cases touch: outbox rows and dead letters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.contract.conftest import NOW, Backend


def _effect(key: str, **more: Any) -> dict[str, Any]:
    return {
        "kind": "webhook",
        "channel": "webhook",
        "category": "transactional",
        "template": None,
        "idempotency_key": key,
        "payload": {"url": "https://crm.test/hook"},
        **more,
    }


def test_outbox_enqueue_is_idempotent_per_key(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.outbox.enqueue(7, [_effect("k1"), _effect("k2")], NOW)
        uow.outbox.enqueue(7, [_effect("k1", payload={"url": "https://other.test"})], NOW + timedelta(1))
        uow.commit()
    with backend.uow() as uow:
        row = uow.outbox.by_idempotency_key("k1")
        assert row is not None
        assert (row["contact_id"], row["status"], row["attempts"], row["next_attempt_at"], row["created_at"]) == (
            7, "pending", 0, NOW, NOW
        )
        assert row["payload"] == {"url": "https://crm.test/hook"}
        assert row["lease_owner"] is None and row["error"] is None and row["sent_at"] is None
        assert uow.outbox.get(int(row["id"])) == row
        assert uow.outbox.by_idempotency_key("k3") is None


def test_outbox_dead_then_requeued(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.outbox.enqueue(7, [_effect("k1")], NOW)
        oid = int(uow.outbox.by_idempotency_key("k1")["id"])  # type: ignore[index]
        uow.outbox.mark_dead(oid, "HTTP 500 five times")
        uow.commit()
    with backend.uow() as uow:
        dead = uow.outbox.get(oid)
        assert dead is not None and (dead["status"], dead["error"]) == ("dead", "HTTP 500 five times")
        uow.outbox.requeue(oid, NOW + timedelta(hours=1))
        uow.commit()
    with backend.uow() as uow:
        row = uow.outbox.get(oid)
        assert row is not None
        assert (row["status"], row["attempts"], row["error"], row["next_attempt_at"]) == (
            "pending", 0, None, NOW + timedelta(hours=1)
        )


def test_dead_letters_are_listed_newest_first_with_their_outbox_row(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.outbox.enqueue(7, [_effect("k1"), _effect("k2")], NOW)
        o1 = int(uow.outbox.by_idempotency_key("k1")["id"])  # type: ignore[index]
        o2 = int(uow.outbox.by_idempotency_key("k2")["id"])  # type: ignore[index]
        uow.outbox.mark_dead(o1, "gave up")
        uow.dead_letters.record(o1, 7, "gave up", NOW)
        uow.dead_letters.record(o2, 7, "gave up too", NOW)
        uow.dead_letters.record(999, 8, "row gone", NOW)  # its outbox row no longer exists
        uow.commit()
    with backend.uow() as uow:
        listed = uow.dead_letters.listing(include_decided=False, limit=10)
        assert [r["outbox_id"] for r in listed] == [999, o2, o1]
        first = listed[-1]
        assert (first["reason"], first["kind"], first["status"], first["error"], first["attempts"]) == (
            "gave up", "webhook", "dead", "gave up", 0
        )
        assert first["payload"] == {"url": "https://crm.test/hook"}
        assert listed[0]["kind"] is None and listed[0]["status"] is None
        assert [r["outbox_id"] for r in uow.dead_letters.listing(include_decided=False, limit=2)] == [999, o2]


def test_dead_letters_decisions_and_a_second_burial(backend: Backend) -> None:
    later = NOW + timedelta(hours=3)
    with backend.uow() as uow:
        uow.dead_letters.record(1, 7, "first", NOW)
        uow.dead_letters.record(2, 7, "second", NOW)
        uow.commit()
    with backend.uow() as uow:
        d2, d1 = (int(r["id"]) for r in uow.dead_letters.listing(include_decided=True, limit=10))
        uow.dead_letters.mark_retried(d1, later)
        uow.dead_letters.mark_discarded(d2, later)
        uow.commit()
    with backend.uow() as uow:
        assert uow.dead_letters.listing(include_decided=False, limit=10) == []
        assert len(uow.dead_letters.listing(include_decided=True, limit=10)) == 2
        got = uow.dead_letters.get(d1, for_update=True)
        assert got is not None and (got["retried_at"], got["discarded_at"]) == (later, None)
        assert uow.dead_letters.get(999) is None
        uow.dead_letters.record(1, 7, "died again", later)  # retried, then died again: listed once more
        uow.commit()
    with backend.uow() as uow:
        listed = uow.dead_letters.listing(include_decided=False, limit=10)
        assert [(r["id"], r["reason"], r["created_at"], r["retried_at"]) for r in listed] == [
            (d1, "died again", later, None)
        ]
