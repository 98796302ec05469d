"""The campaign repository port on memory, SQLite and PostgreSQL: the same answers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from tests.contract.conftest import NOW, Backend, MemoryBackend
from tidings.store import schema

CAMPAIGN: dict[str, Any] = {
    "key": "spring", "name": "Spring", "segment": "all", "template": "news", "channel": "email",
    "subjects": ["A", "B"], "schedule": {"kind": "now"}, "throttle": None, "ab": None, "status": "draft",
    "created_at": NOW, "updated_at": NOW,
}


def members(backend: Backend, segment: str, ids: list[int]) -> None:
    if isinstance(backend, MemoryBackend):
        backend.store.state.segment_members[segment] = list(ids)
        return
    backend.add_segment(segment, {"all": []})
    with backend.engine.begin() as conn:
        sid = conn.execute(sa.select(schema.segments.c.id).where(schema.segments.c.key == segment)).scalar_one()
        conn.execute(sa.insert(schema.segment_memberships),
                     [{"contact_id": i, "segment_id": sid, "entered_at": NOW} for i in ids])


def first_open(backend: Backend, message_id: int) -> None:
    if isinstance(backend, MemoryBackend):
        backend.store.state.analytics_firsts.add((message_id, "open_human"))
        return
    with backend.engine.begin() as conn:
        conn.execute(sa.insert(schema.analytics_firsts).values(message_id=message_id, kind="open_human"))


def test_campaign_rows_round_trip_and_list_newest_first(backend: Backend) -> None:
    with backend.uow() as uow:
        a = uow.campaigns.add(CAMPAIGN)
        b = uow.campaigns.add({**CAMPAIGN, "key": "summer"})
        uow.campaigns.update(a, {"status": "scheduled", "start_at": NOW})
        uow.commit()
    with backend.uow() as uow:
        row = uow.campaigns.get("spring")
        assert row is not None and row["id"] == a and row["subjects"] == ["A", "B"] and row["winner"] is None
        assert [r["id"] for r in uow.campaigns.listing()] == [b, a]
        assert [r["key"] for r in uow.campaigns.due(NOW)] == ["spring"]
        assert uow.campaigns.due(NOW - timedelta(seconds=1)) == []
        assert uow.campaigns.get("nope") is None


def test_audience_freeze_queue_progress_and_counts(backend: Backend) -> None:
    ids = [backend.add_contact(f"c{i}@example.com", timezone="Europe/Berlin" if i % 2 else None) for i in range(5)]
    members(backend, "all", ids[:4])
    with backend.uow() as uow:
        assert uow.campaigns.segment_exists("all") and not uow.campaigns.segment_exists("none")
        assert uow.campaigns.audience_count("all") == 4
        assert uow.campaigns.audience("all") == [(ids[0], None), (ids[1], "Europe/Berlin"), (ids[2], None),
                                                 (ids[3], "Europe/Berlin")]
        cid = uow.campaigns.add(CAMPAIGN)
        later = NOW + timedelta(minutes=1)
        rows = [{"contact_id": ids[0], "variant": "A", "send_at": later},
                {"contact_id": ids[1], "variant": "B", "send_at": NOW},
                {"contact_id": ids[2], "variant": None, "send_at": None},
                {"contact_id": ids[3], "variant": None, "send_at": None}]
        uow.campaigns.freeze(cid, rows)
        uow.campaigns.freeze(cid, [{"contact_id": ids[0], "variant": "B", "send_at": NOW}])  # left alone
        uow.commit()
    with backend.uow() as uow:
        todo = uow.campaigns.unqueued(cid, NOW, 10)
        assert [(r["contact_id"], r["variant"]) for r in todo] == [(ids[1], "B"), (ids[0], "A")]
        assert [r["contact_id"] for r in uow.campaigns.recipients(cid, waiting=True)] == [ids[2], ids[3]]
        queued = []
        for r in todo:
            key = f"campaign:{cid}:{r['contact_id']}"
            uow.outbox.enqueue(r["contact_id"], [{"kind": "message", "channel": "email", "category": "marketing",
                                                  "template": "news", "idempotency_key": key,
                                                  "payload": {"campaign": "spring"}, "next_attempt_at": r["send_at"]}],
                               NOW)
            stored = uow.outbox.by_idempotency_key(key)
            assert stored is not None and stored["next_attempt_at"] == r["send_at"]
            queued.append((r["contact_id"], stored["id"]))
        assert uow.campaigns.outbox_ids([f"campaign:{cid}:{c}" for c, _ in queued] + ["nope"]) == {
            f"campaign:{cid}:{c}": o for c, o in queued}
        uow.campaigns.mark_queued(cid, queued)
        uow.campaigns.assign(cid, [(ids[2], "A", NOW), (ids[3], "B", NOW + timedelta(minutes=2))])
        uow.commit()
    with backend.uow() as uow:
        assert uow.campaigns.latest_slots(cid, 2) == [NOW + timedelta(minutes=1), NOW + timedelta(minutes=2)]
        assert [r["contact_id"] for r in uow.campaigns.unqueued(cid, NOW, 10)] == [ids[2], ids[3]]
        assert uow.campaigns.recipients(cid, waiting=True) == []
        assert uow.campaigns.progress(cid) == {"audience": 4, "waiting": 2, "pending": 2}
        assert {r["contact_id"] for r in uow.campaigns.recent_sends(ids, NOW - timedelta(days=1))} == {ids[0], ids[1]}
        assert uow.campaigns.skip_pending(cid, "cancelled") == 2
        uow.commit()
    with backend.uow() as uow:
        assert uow.campaigns.progress(cid) == {"audience": 4, "waiting": 2, "skipped": 2}
        assert uow.campaigns.variant_counts(cid, "open_human") == {}  # nothing sent
        assert uow.campaigns.recent_sends(ids, NOW - timedelta(days=1)) == []


def test_variant_counts_are_sent_messages_and_their_first_opens(backend: Backend) -> None:
    ids = [backend.add_contact(f"v{i}@example.com") for i in range(3)]
    with backend.uow() as uow:
        cid = uow.campaigns.add(CAMPAIGN)
        uow.campaigns.freeze(cid, [{"contact_id": c, "variant": "AB"[i % 2], "send_at": NOW}
                                   for i, c in enumerate(ids)])
        oids = []
        for c in ids:
            uow.outbox.enqueue(c, [{"kind": "message", "channel": "email", "category": "marketing",
                                    "template": "news", "idempotency_key": f"k{c}", "payload": {},
                                    "status": "sent", "sent_at": NOW}], NOW)
            stored = uow.outbox.by_idempotency_key(f"k{c}")
            assert stored is not None
            oids.append(stored["id"])
        uow.campaigns.mark_queued(cid, list(zip(ids, oids, strict=True)))
        uow.commit()
    first_open(backend, oids[0])
    with backend.uow() as uow:
        assert uow.campaigns.variant_counts(cid, "open_human") == {"A": (2, 1), "B": (1, 0)}
        assert uow.campaigns.variant_counts(cid, "click") == {"A": (2, 0), "B": (1, 0)}
        assert uow.campaigns.progress(cid) == {"audience": 3, "waiting": 0, "sent": 3}
