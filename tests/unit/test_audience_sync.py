"""The sync use case on fakes: only the difference is sent, in batches; a refused batch is not
recorded, so the next sync resumes from what the destination really accepted."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from tidings.application.audiences.sync import SyncResult, sync_segment
from tidings.application.ports.audiences import AudienceSyncError
from tidings.clock import ManualClock
from tidings.domain.audiences.eligibility import Member
from tidings.store.memory.audiences import MemorySyncedAudience


class Members:
    def __init__(self, members: list[Member]) -> None:
        self.all = members

    def segment_id(self, key: str) -> int | None:
        return 1 if key == "vip" else None

    def members(self, segment_id: int, after: int, limit: int) -> list[Member]:
        return [m for m in self.all if m.contact_id > after][:limit]


class Destination:
    def __init__(self, fail_after: int | None = None) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.fail_after = fail_after

    def _take(self, op: str, hashes: Sequence[str]) -> None:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise AudienceSyncError("down")
        self.calls.append((op, list(hashes)))

    def add(self, hashes: Sequence[str]) -> None:
        self._take("add", hashes)

    def remove(self, hashes: Sequence[str]) -> None:
        self._take("remove", hashes)


def people(n: int) -> list[Member]:
    return [Member(i, f"p{i}@example.com", None, {"email": "granted"}, False) for i in range(1, n + 1)]


def test_resumes_after_a_refused_batch_and_sends_removes() -> None:
    clock = ManualClock(datetime(2026, 3, 2, tzinfo=UTC))
    synced = MemorySyncedAudience()
    members = Members(people(5))

    def run(dest: Destination) -> SyncResult:
        return sync_segment(
            members, synced, dest, destination_name="d", segment_key="vip", platform="google", clock=clock, batch=2
        )

    with pytest.raises(AudienceSyncError):
        run(Destination(fail_after=1))  # the first batch of 2 accepted, the second refused
    assert len(synced.hashes("d", "vip")) == 2
    second = Destination()
    result = run(second)
    assert [op for op, _ in second.calls] == ["add", "add"] and sum(len(h) for _, h in second.calls) == 3
    members.all = people(3)
    third = Destination()
    run(third)
    assert third.calls == [("remove", sorted(hashlib.sha256(f"p{i}@example.com".encode()).hexdigest() for i in (4, 5)))]
    assert result.added == 3
