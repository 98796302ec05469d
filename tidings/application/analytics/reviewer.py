"""The automatic rollout, beside the worker: review live experiments every ``every`` seconds.

An experiment with ``rollout: true`` whose planned sample is reached and that has a winner is
decided once (``experiments.review``); the split step then sends everyone to the winner.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager

from tidings.application.analytics.experiments import review
from tidings.application.background import PollingService
from tidings.application.ports.clock import Clock
from tidings.application.ports.measurement import AnalyticsStore

log = logging.getLogger("tidings.experiments")


class ExperimentReviewer(PollingService):
    name = "experiment-reviewer"

    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[AnalyticsStore]],
        clock: Clock,
        *,
        every: float = 300.0,
    ) -> None:
        """``transaction()`` opens a transaction and gives its store; the block's end keeps it
        (``store.measurement.SqlAnalyticsStore.writing``)."""
        super().__init__()
        self.transaction = transaction
        self.clock = clock
        self.every = every

    def run_once(self) -> int:
        """Review now; returns how many experiments were rolled out."""
        with self.transaction() as store:
            done = review(store, self.clock.now())
        for d in done:
            log.info("experiment %s: rolled out %s (%s)", d["key"], d["winner"], d["verdict"])
        return len(done)
