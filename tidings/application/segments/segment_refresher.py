"""The scheduled refresher: rules that slide with time change with no new event at all.

A segment whose rule is time-relative ("last seen more than 14 days ago", windows,
anniversaries) carries ``next_refresh_at``; this service polls for due ones with the injected
clock and re-evaluates them set-based (``refresh_segment``). It never sleeps until a due time:
it polls, so a test clock moved forward is honoured at the next poll (and the test clock's
"settle" counts due refreshes as pending work).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import sqlalchemy as sa

from tidings.application.ports.clock import Clock
from tidings.application.segments.memberships import DEFAULT_REFRESH, due_refreshes, refresh_segment
from tidings.store.db import read_only

log = logging.getLogger("tidings.segments")


class SegmentRefresher:
    name = "segment-refresher"

    def __init__(
        self, engine: sa.Engine, clock: Clock, *, every: timedelta | None = None, poll: float = 0.05
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.every = every or DEFAULT_REFRESH
        self.poll = poll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                did = self.run_once()
            except Exception:  # keep refreshing the others next time (database restarts...)
                log.exception("segment refresh failed")
                did = 0
            if not did:
                self._stop.wait(self.poll)

    def run_once(self) -> int:
        """Refresh every segment that is due now; returns how many were refreshed."""
        engine = self.engine
        now = self.clock.now()
        with engine.connect() as raw:  # a reader: never wait for SQLite's write lock to look
            due = due_refreshes(read_only(raw), now)
        for sid in due:
            entered, exited = refresh_segment(engine, sid, now, self.every)
            if entered or exited:
                log.info("segment %s: %s entered, %s exited", sid, entered, exited)
        return len(due)

