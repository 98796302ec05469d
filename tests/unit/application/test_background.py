"""ServiceThread: one start/stop for the services that run beside the API."""

from __future__ import annotations

import threading
import time

import pytest

from tidings.application.background import ServiceThread


class Ticker(ServiceThread):
    name = "ticker"

    def __init__(self) -> None:
        super().__init__()
        self.ticks = 0
        self.ran_in: str | None = None
        self.first = threading.Event()

    def run(self) -> None:
        self.ran_in = threading.current_thread().name
        while not self.stopping.is_set():
            self.ticks += 1
            self.first.set()
            self.stopping.wait(60)  # stop() must wake this at once, not after a minute


def test_start_runs_in_a_named_thread_and_stop_wakes_the_wait() -> None:
    t = Ticker()
    t.start()
    assert t.first.wait(5)
    started = time.monotonic()
    t.stop()
    assert time.monotonic() - started < 5
    assert t.ran_in == "ticker" and t.ticks == 1
    assert t._thread is not None and not t._thread.is_alive()


def test_it_can_be_started_again_after_a_stop() -> None:
    t = Ticker()
    t.start()
    assert t.first.wait(5)
    t.stop()
    t.first.clear()
    t.start()
    assert t.first.wait(5)
    t.stop()
    assert t.ticks == 2


def test_a_service_without_run_fails_loudly() -> None:
    with pytest.raises(NotImplementedError, match="must define run"):
        ServiceThread().run()


def test_stop_before_start_does_nothing() -> None:
    Ticker().stop()
