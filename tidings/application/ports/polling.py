"""Background services' shared loop: a daemon thread calling ``run_once`` every ``every``
seconds until stopped, logging (not raising) a failed round so the next one runs."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("tidings.background")


class PollingService:
    """Subclasses set ``name`` and ``every`` (seconds) and implement ``run_once``."""

    name = "polling-service"
    every: float = 1.0

    def __init__(self) -> None:
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
                self.run_once()
            except Exception:  # the next round tries again (database restarts, a full disk...)
                log.exception("%s failed", self.name)
            self._stop.wait(self.every)

    def run_once(self) -> object:
        raise NotImplementedError
