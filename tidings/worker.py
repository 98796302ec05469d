"""The worker loop: queued contacts and due timers -> journey transitions.

`tidings serve` runs one inside the API process (SQLite's single writer); `tidings worker`
runs it alone, and any number of them side by side on PostgreSQL (claims with
``FOR UPDATE SKIP LOCKED``, leases that expire when a worker dies).

The loop never sleeps to wait for a due time: it polls with a short idle pause and asks the
injected clock what is due, so a test clock moved forward is honoured at the next poll.
Claimed contacts are processed together, in one transaction (``JourneyEngine.process_contacts``);
when that fails the batch is redone one contact per transaction, so a failure in one contact's
processing is logged and only that contact backed off; after a few
failures its pending events are set aside with an ``error`` trace, so one poison contact
cannot stall the rest. A failing timer batch is retried one timer at a time, and a timer that
fails alone is dropped with an ``error`` trace.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

from tidings.application.background import PollingService, ServiceThread
from tidings.application.journeys.engine import JourneyEngine
from tidings.application.ports.engine import EVENTS_PER_PASS
from tidings.store import partitions
from tidings.store.analytics import SqlAnalytics
from tidings.store.control import SqlControl
from tidings.store.db import SQLITE_WRITE_WAIT_S, Connection, sqlite_write_polling
from tidings.store.engine_sql import SqlEngineStorage
from tidings.store.enrolments_sql import SqlEnrolments
from tidings.store.retention_sql import prune_receipts
from tidings.store.scoring_sql import SqlScoring
from tidings.store.worker_sql import drop_first_due_timer, set_aside_contact

if TYPE_CHECKING:
    from tidings.application.ports.wiring import BackgroundService
    from tidings.bootstrap import Container

log = logging.getLogger("tidings.worker")

MAX_CONTACT_FAILURES = 3
#: how long a SQLite write lock is waited for (the engine's own busy timeout, store/db.py).
WRITE_LOCK_WAIT = SQLITE_WRITE_WAIT_S


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class JourneyWorker(ServiceThread):
    """Polls the contact queue and the timers table; one thread."""

    name = "journey-worker"

    def __init__(
        self,
        container: Container,
        *,
        idle_sleep: float = 0.02,
        timer_batch: int = 500,
        contact_batch: int = 200,
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        super().__init__()
        self.container = container
        self.engine = JourneyEngine(
            SqlEngineStorage(container.engine),
            container.clock,
            worker_id(),
            lease,
            control=SqlControl,
            analytics=SqlAnalytics,
            scoring=SqlScoring,
        )
        self.idle_sleep = idle_sleep
        self.timer_batch = timer_batch
        self.contact_batch = contact_batch
        self._failures: dict[int, int] = {}
        self._backoff: dict[int, float] = {}
        self.transitions = 0

    # ----------------------------------------------------------------- service

    def run(self) -> None:
        pause = self.idle_sleep
        while not self.stopping.is_set():
            try:
                did = self.run_once()
                pause = self.idle_sleep
            except Exception:  # the loop itself must survive (database restarts, ...)
                log.exception("worker pass failed; retrying")
                did = 0
                pause = min(max(pause * 2, 0.1), 5.0)
            if not did:
                self.stopping.wait(pause)

    def run_once(self) -> int:
        """One pass: queued contacts, then one batch of due timers. Returns the work done."""
        return self.contacts_pass() + self.timers_pass()

    # ----------------------------------------------------------------- contacts

    def contacts_pass(self) -> int:
        now_mono = time.monotonic()
        self._backoff = {c: t for c, t in self._backoff.items() if t > now_mono}
        exclude = sorted(self._backoff)
        ids: list[int] = []
        try:  # the whole claim in one transaction: a handful of queries for all its contacts
            if self.container.engine.dialect.name == "sqlite":
                # one writer at a time: claim inside the processing transaction (one write lock
                # per pass instead of two; a crash rolls the claim back with the rest)
                if not self.engine.has_claimable():
                    return 0
                with self._sqlite_write() as conn:
                    now = self.container.clock.now()
                    eng = self.engine
                    tx = eng.storage.on(conn)
                    ids = tx.enrolments.claim_contacts(eng.owner, now, eng.lease, self.contact_batch, exclude)
                    self.transitions += eng.process_contacts(tx, ids, now)
            else:
                ids = self.engine.claim_contacts(self.contact_batch, exclude=exclude)
                if not ids:
                    return 0
                with self.engine.storage.writing() as tx:
                    self.transitions += self.engine.process_contacts(tx, ids, self.container.clock.now())
        except Exception:
            if not ids:
                raise
            log.warning("contact batch of %s failed; processing one contact at a time", len(ids), exc_info=True)
            return self._contacts_one_by_one(ids)
        for cid in ids:
            self._failures.pop(cid, None)
        return len(ids)

    @contextlib.contextmanager
    def _sqlite_write(self) -> Iterator[Connection]:
        """A SQLite write transaction for the worker, its lock taken by polling every millisecond.

        SQLite's busy handler sleeps up to 100 ms between tries, so a worker competing with a
        stream of short ingest transactions waited ~200 ms per pass for the write lock (profiled:
        60% of its time). The worker instead tries ``BEGIN IMMEDIATE`` with no busy timeout and
        retries at once-a-millisecond: it gets the lock as soon as an ingest commits, and each
        pass then processes a whole batch of contacts. The connection's timeout is restored
        before it goes back to the pool.
        """
        with self.container.engine.connect() as conn, sqlite_write_polling(conn, 0.001, WRITE_LOCK_WAIT):
            yield conn

    def _contacts_one_by_one(self, ids: list[int]) -> int:
        """After a failed batch: one transaction per contact, so one poison contact fails alone."""
        for cid in ids:
            try:
                with self.engine.storage.writing() as tx:
                    self.transitions += self.engine.process_contact(tx, cid, self.container.clock.now())
                self._failures.pop(cid, None)
            except Exception as exc:
                self._contact_failed(cid, exc)
        return len(ids)

    def _contact_failed(self, contact_id: int, exc: Exception) -> None:
        n = self._failures.get(contact_id, 0) + 1
        self._failures[contact_id] = n
        log.exception("contact %s failed (%s/%s)", contact_id, n, MAX_CONTACT_FAILURES, exc_info=exc)
        try:
            with self.container.engine.begin() as conn:
                if n >= MAX_CONTACT_FAILURES:
                    self._set_aside(conn, contact_id, exc)
                    self._failures.pop(contact_id, None)
                else:
                    SqlEnrolments(conn).release_contact(contact_id)
                    self._backoff[contact_id] = time.monotonic() + 0.1 * 2**n
        except Exception:
            log.exception("could not release contact %s", contact_id)

    def _set_aside(self, conn: Connection, contact_id: int, exc: Exception) -> None:
        """Give up on a contact's pending events: mark them processed with an error trace."""
        set_aside_contact(
            conn, contact_id, f"{type(exc).__name__}: {exc}", self.container.clock.now(), EVENTS_PER_PASS
        )

    # ----------------------------------------------------------------- timers

    def timers_pass(self) -> int:
        try:
            n = self.engine.fire_due_timers(self.timer_batch)
        except Exception:
            log.exception("timer batch failed; firing one at a time")
            return self._timers_one_by_one(self.timer_batch)
        self.transitions += n
        return n

    def _timers_one_by_one(self, limit: int) -> int:
        done = 0
        for _ in range(limit):
            try:
                n = self.engine.fire_due_timers(1)
            except Exception as exc:
                self._drop_first_due_timer(exc)
                n = 1
            if not n:
                break
            done += n
        return done

    def _drop_first_due_timer(self, exc: Exception) -> None:
        with self.container.engine.begin() as conn:
            for r in drop_first_due_timer(conn, f"{type(exc).__name__}: {exc}", self.container.clock.now()):
                log.error("dropping timer %s of contact %s: %s", r["id"], r["contact_id"], exc)


class PartitionMaintainer(PollingService):
    """At start and then daily: the events/traces month partitions of this month and the next
    ``partition_months_ahead`` (PostgreSQL; store/partitions.py), and the ``event_receipts``
    older than ``receipt_days`` pruned (both databases)."""

    name = "partition-maintenance"
    every = 86_400.0

    def __init__(self, container: Container) -> None:
        super().__init__()
        self.container = container

    def run_once(self) -> dict[str, object]:
        s, now = self.container.settings, self.container.clock.now()
        with self.container.engine.begin() as conn:
            created = partitions.ensure_partitions(conn, now, s.partition_months_ahead)
        pruned = 0
        while True:  # in bounded transactions
            with self.container.engine.begin() as conn:
                n = prune_receipts(conn, now - timedelta(days=s.receipt_days))
            pruned += n
            if not n:
                break
        if created or pruned:
            log.info("partitions created: %s; event receipts pruned: %d", ", ".join(created) or "none", pruned)
        return {"created": created, "receipts_pruned": pruned}


def worker_services(container: Container) -> list[BackgroundService]:
    """What `tidings serve` / `tidings worker` run for the journey engine (and its tables'
    upkeep)."""
    return [JourneyWorker(container), PartitionMaintainer(container)]
