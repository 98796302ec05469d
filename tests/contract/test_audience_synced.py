"""Contract of the ``SyncedAudience`` port (the hashes last sent per destination and segment):
the in-memory twin and the SQL repository on SQLite / PostgreSQL behave alike."""

from __future__ import annotations

from tests.contract.conftest import NOW, Backend
from tidings.application.ports.audiences import SyncedAudience
from tidings.store.audiences_sql import SqlSyncedAudience
from tidings.store.memory.audiences import MemorySyncedAudience


def synced(backend: Backend) -> SyncedAudience:
    engine = getattr(backend, "engine", None)
    return MemorySyncedAudience() if engine is None else SqlSyncedAudience(engine)


def test_record_adds_removes_and_keeps_destinations_and_segments_apart(backend: Backend) -> None:
    s = synced(backend)
    assert s.hashes("relay", "vip") == set()
    s.record("relay", "vip", ["a" * 64, "b" * 64], [], NOW)
    s.record("relay", "vip", ["b" * 64], [], NOW)  # sent again: still once
    s.record("other", "vip", ["c" * 64], [], NOW)
    s.record("relay", "buyers", ["d" * 64], [], NOW)
    assert s.hashes("relay", "vip") == {"a" * 64, "b" * 64}
    s.record("relay", "vip", [], ["a" * 64, "e" * 64], NOW)  # removing one never sent is no error
    assert s.hashes("relay", "vip") == {"b" * 64}
    assert s.hashes("other", "vip") == {"c" * 64} and s.hashes("relay", "buyers") == {"d" * 64}
