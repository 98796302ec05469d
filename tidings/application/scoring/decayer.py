"""Decay on a schedule, beside the worker: every ``every`` seconds, one :func:`decay_pass`."""

from __future__ import annotations

import logging
from collections.abc import Callable

from tidings.application.background import PollingService
from tidings.application.ports.clock import Clock
from tidings.application.ports.scoring import ScoringUnitOfWork
from tidings.application.scoring.scores import decay_pass

log = logging.getLogger("tidings.scoring")


class ScoreDecayer(PollingService):
    name = "score-decayer"

    def __init__(self, uow: Callable[[], ScoringUnitOfWork], clock: Clock, *, every: float = 3600.0) -> None:
        super().__init__()
        self.uow = uow
        self.clock = clock
        self.every = every

    def run_once(self) -> int:
        """One pass now; returns how many scores changed."""
        with self.uow() as uow:
            report = decay_pass(uow.scoring, self.clock.now())
            uow.commit()
        if report.changed:
            log.info("score decay: %d changed, %d stage move(s)", report.changed, len(report.crossings))
        return report.changed
