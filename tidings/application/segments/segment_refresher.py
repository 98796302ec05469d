"""The scheduled refresher: rules that slide with time change with no new event at all.

A segment whose rule is time-relative ("last seen more than 14 days ago", windows,
anniversaries) carries ``next_refresh_at``; this service polls for due ones with the injected
clock and re-evaluates them set-based (``refresh_segment``). It never sleeps until a due time:
it polls, so a test clock moved forward is honoured at the next poll (and the test clock's
"settle" counts due refreshes as pending work).

It also keeps the optional rule indexes in line with the saved segments (``sync_indexes``)
whenever segments change: saving a segment answers at once and its indexes follow here.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from tidings.application.background import ServiceThread
from tidings.application.ports.clock import Clock
from tidings.application.ports.segments import SegmentStore
from tidings.application.segments.memberships import DEFAULT_REFRESH, due_refreshes, refresh_segment
from tidings.application.segments.segments import saved_segments_version, sync_indexes

log = logging.getLogger("tidings.segments")
#: how often to look whether segments changed (their indexes to sync), and how long to wait
#: after a failed sync before trying again with unchanged segments
INDEX_CHECK_SECONDS = 0.5
INDEX_RETRY_SECONDS = 60.0


class SegmentRefresher(ServiceThread):
    name = "segment-refresher"

    def __init__(
        self,
        store: SegmentStore,
        clock: Clock,
        *,
        every: timedelta | None = None,
        poll: float = 0.05,
    ) -> None:
        """Looking for due segments reads (``SegmentStore.reading``): it never waits for
        SQLite's write lock."""
        super().__init__()
        self.store = store
        self.clock = clock
        self.every = every or DEFAULT_REFRESH
        self.poll = poll
        self._indexed_version: tuple[Any, ...] | None = None  # the segments the indexes match
        self.index_check_every = INDEX_CHECK_SECONDS
        self._index_check_at = 0.0

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                did = self.run_once() + self.sync_indexes_if_changed()
            except Exception:  # keep refreshing the others next time (database restarts...)
                log.exception("segment refresh failed")
                did = 0
            if not did:
                self.stopping.wait(self.poll)

    def run_once(self) -> int:
        """Refresh every segment that is due now; returns how many were refreshed."""
        now = self.clock.now()
        with self.store.reading() as repo:
            due = due_refreshes(repo, now)
        for sid in due:
            entered, exited = refresh_segment(self.store, sid, now, self.every)
            if entered or exited:
                log.info("segment %s: %s entered, %s exited", sid, entered, exited)
        return len(due)

    def sync_indexes_if_changed(self) -> int:
        """Create and drop rule indexes when the saved segments changed since the last sync
        (and once at start); 1 when it synced."""
        if time.monotonic() < self._index_check_at:
            return 0
        self._index_check_at = time.monotonic() + self.index_check_every
        with self.store.reading() as repo:
            version = saved_segments_version(repo)
        if version == self._indexed_version:
            return 0
        try:
            done = sync_indexes(self.store)
        except Exception:
            self._index_check_at = time.monotonic() + INDEX_RETRY_SECONDS
            log.exception("segment rule indexes not synchronised (next try in %.0f s)", INDEX_RETRY_SECONDS)
            return 0
        if done is not None:  # None: another process holds the lock; look again next time
            self._indexed_version = version
            present, dropped = done
            log.info("rule indexes in line with the segments: %d present, %d dropped", len(present), len(dropped))
        return 1 if done is not None else 0
