"""Cart abandoned after a quiet period: watched checkouts not completed in time -> ``Cart Abandoned``.

A checkout a source reported (Shopify ``checkouts/create|update``) is watched until
``abandon_at`` (last seen + the source's quiet period). If no order completed it by then, the
worker emits ``Cart Abandoned`` (stored as ``cart.abandoned``: the abandoned-cart recipe's
trigger) through the ingest use case, dated at the end of the quiet period, once per checkout.
The service polls with the injected clock, so a test clock moved forward is honoured at the next
poll (and the test clock's settle counts due checkouts as pending work).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from tidings.application.ingest.ingest import Incoming
from tidings.application.ports.clock import Clock
from tidings.application.sources.intake import IntakeRunner, IntakeTransaction

log = logging.getLogger("tidings.sources")


def abandon_due(run: IntakeRunner, now: datetime, limit: int = 500) -> int:
    """Emit ``Cart Abandoned`` for every checkout due by ``now``; how many."""

    def work(tx: IntakeTransaction) -> int:
        due = tx.checkouts.due(now, limit)
        if not due:
            return 0
        items = [
            Incoming(kind="track", message_id=f"source:{d.source_id}:checkout:{d.checkout_id}:abandoned",
                     occurred_at=d.abandon_at, name="Cart Abandoned", properties=dict(d.properties),
                     email=d.email, index=i)
            for i, d in enumerate(due)
        ]
        tx.ingest(items, now, "sources")
        tx.checkouts.mark_abandoned([d.id for d in due], now)
        return len(due)

    done = run(work)
    if done:
        log.info("%d checkouts abandoned", done)
    return done


class CartAbandoner:
    """The background service: polls for due checkouts (a cheap read first) and abandons them."""

    name = "cart-abandoner"

    def __init__(self, run: IntakeRunner, due_count: Callable[[datetime], int], clock: Clock,
                 poll: float = 0.2) -> None:
        self.run_intake = run
        self.due_count = due_count
        self.clock = clock
        self.poll = poll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def run_once(self) -> int:
        now = self.clock.now()
        if not self.due_count(now):
            return 0
        return abandon_due(self.run_intake, now)

    def loop(self) -> None:
        while not self._stop.is_set():
            try:
                did = self.run_once()
            except Exception:  # the database restarts...: try again at the next poll
                log.exception("cart abandonment failed")
                did = 0
            if not did:
                self._stop.wait(self.poll)
