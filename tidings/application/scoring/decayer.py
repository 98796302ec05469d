"""Decay on a schedule, beside the worker: every ``every`` seconds, one :func:`decay_pass`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from tidings.application.ports.clock import Clock
from tidings.application.ports.scoring import ScoringUnitOfWork
from tidings.application.scoring.scores import decay_pass

log = logging.getLogger("tidings.scoring")


class ScoreDecayer:
    name = "score-decayer"

    def __init__(self, uow: Callable[[], ScoringUnitOfWork], clock: Clock, *, every: float = 3600.0) -> None:
        self.uow = uow
        self.clock = clock
        self.every = every
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
        while not self._stop.wait(self.every):
            try:
                self.run_once()
            except Exception:  # the next pass tries again (database restarts...)
                log.exception("score decay failed")

    def run_once(self) -> int:
        """One pass now; returns how many scores changed."""
        with self.uow() as uow:
            report = decay_pass(uow.scoring, self.clock.now())
            uow.commit()
        if report.changed:
            log.info("score decay: %d changed, %d stage move(s)", report.changed, len(report.crossings))
        return report.changed
