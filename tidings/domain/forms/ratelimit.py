"""A sliding-window rate limit (pure: the caller passes ``now``), per key such as an IP or a form.

Held in memory by the process that serves ``POST /f/{key}``: a small, fast first line against
floods. Each API process counts on its own (``--api-processes N`` allows up to N times the limit);
a wall in front of the public form must not cost a database write per rejected attempt.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta


class SlidingWindow:
    def __init__(self, limit: int, window: timedelta, max_keys: int = 100_000) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._hits: dict[str, deque[datetime]] = {}

    def allow(self, key: str, now: datetime) -> bool:
        """Count a hit for ``key`` and say whether it is within the limit (refused hits do not count)."""
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.max_keys:
                self._prune(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True

    def _prune(self, now: datetime) -> None:
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - self.window]:
            del self._hits[key]
        if len(self._hits) >= self.max_keys:  # still full: forget the oldest keys
            for key in list(self._hits)[: len(self._hits) // 2]:
                del self._hits[key]
