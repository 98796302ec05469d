"""The in-memory twin of ``store/audiences_sql.py``'s ``SqlSyncedAudience`` (the hashes last synced)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime


class MemorySyncedAudience:
    def __init__(self) -> None:
        self._sent: dict[tuple[str, str], dict[str, datetime]] = {}
        self._lock = threading.Lock()

    def hashes(self, destination: str, segment_key: str) -> set[str]:
        with self._lock:
            return set(self._sent.get((destination, segment_key), {}))

    def record(
        self, destination: str, segment_key: str, added: Iterable[str], removed: Iterable[str], now: datetime
    ) -> None:
        with self._lock:
            held = self._sent.setdefault((destination, segment_key), {})
            for h in removed:
                held.pop(h, None)
            for h in added:
                held[h] = now
