"""The start/stop scaffolding of a service that runs in its own thread beside the API, and the
polling loop most of them are.

A subclass sets ``name``, calls ``super().__init__()`` and writes ``run()``: a loop that ends
once ``stopping`` is set, and waits with ``stopping.wait(seconds)`` (so ``stop()`` wakes it at
once instead of after a sleep). It is a ``BackgroundService`` (``application/ports/wiring.py``).
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("tidings.background")

#: how long ``stop()`` waits for the thread to finish its pass
STOP_TIMEOUT = 30.0


class ServiceThread:
    name: str = "service"

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.stopping.clear()
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT)

    def run(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define run()")


class PollingService(ServiceThread):
    """A service that calls ``run_once`` every ``every`` seconds until stopped, logging (not
    raising) a failed round so the next one runs. Subclasses set ``name`` and ``every``."""

    every: float = 1.0

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.run_once()
            except Exception:  # the next round tries again (database restarts, a full disk...)
                log.exception("%s failed", self.name)
            self.stopping.wait(self.every)

    def run_once(self) -> object:
        raise NotImplementedError(f"{type(self).__name__} must define run_once()")
