"""The segments use cases on the in-memory twin of the ``SegmentStore`` port: the same calls the
API, web and CLI make on ``Container.segments`` (SQL), on memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tidings.application.segments import segments as svc
from tidings.store.memory import MemoryStore
from tidings.store.memory.segments import MemorySegmentStore

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_create_refresh_list_and_delete_on_the_memory_twin() -> None:
    mem = MemoryStore()
    db = MemorySegmentStore(mem)
    a = mem.add_contact({"email": "a@x.test", "attributes": {"plan": "pro"}, "created_at": NOW})
    mem.add_contact({"email": "b@x.test", "attributes": {"plan": "free"}, "created_at": NOW})
    seg = svc.create_segment(db, "pro", "Pro", 'attributes.plan == "pro"', NOW)
    assert seg["members"] == 1 and seg["next_refresh_at"] is None
    with pytest.raises(svc.SegmentError) as taken:
        svc.create_segment(db, "pro", "Pro again", 'tag("x")', NOW)
    assert taken.value.status == 409
    assert [m["id"] for m in svc.members(db, "pro")["items"]] == [a]
    mem.state.contacts[a]["attributes"] = {"plan": "free"}
    sid = svc.segment_id(db, "pro")
    assert sid is not None and svc.refresh_segment(db, sid, NOW + timedelta(minutes=1)) == (0, 1)
    assert [h["exited_at"] for h in svc.history(db, "pro")] == [NOW + timedelta(minutes=1)]
    assert svc.preview(db, 'attributes.plan == "free"', NOW)["count"] == 2
    assert svc.delete_segment(db, "pro") and svc.list_segments(db) == []
