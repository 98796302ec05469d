"""A pytest plugin that fails every test during which an event loop callback ran 100 ms or more.

Load it with ``python -m pytest -p tests.loop_watch ...`` (``TIDINGS_LOOP_WATCH_REPORT=<file>``:
the ids of the tests that tripped it are appended there too). It turns on asyncio's debug mode for
every loop created in the process (``PYTHONASYNCIODEBUG``: the TestClient portals and the live
uvicorn servers alike), sets ``slow_callback_duration`` to 0.1 s and captures the asyncio
logger's "Executing <handle> took N seconds" warnings. A test that saw one fails in its
teardown, naming the project code the loop's thread was sampled in while it was blocked (an
``async def`` endpoint doing database work, password hashing, index creation…).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest

SLOW_CALLBACK_SECONDS = 0.1
_PACKAGE = str(Path(__file__).resolve().parent.parent / "tidings")
_SAMPLE_EVERY = 0.01


class _Sampler(threading.Thread):
    """Every 10 ms, where each thread is in the project's code (innermost frames first)."""

    def __init__(self) -> None:
        super().__init__(name="loop-watch-sampler", daemon=True)
        self.samples: deque[tuple[float, int, str]] = deque(maxlen=20_000)

    def run(self) -> None:
        me = threading.get_ident()
        while True:
            time.sleep(_SAMPLE_EVERY)
            now = time.monotonic()
            for tid, frame in sys._current_frames().items():
                if tid == me:
                    continue
                where: list[str] = []
                f = frame
                while f is not None and len(where) < 3:
                    if f.f_code.co_filename.startswith(_PACKAGE):
                        rel = f.f_code.co_filename[len(_PACKAGE) - len("tidings"):]
                        where.append(f"{rel}:{f.f_lineno} {f.f_code.co_name}")
                    f = f.f_back
                # innermost frames (library code, often) first, then the project's
                top = [f"{Path(g.f_code.co_filename).name}:{g.f_lineno} {g.f_code.co_name}"
                       for g in (frame, frame.f_back) if g is not None]
                self.samples.append((now, tid, " <- ".join([*top, *where])))

    def during(self, tid: int, seconds: float) -> list[str]:
        since = time.monotonic() - seconds - _SAMPLE_EVERY
        seen: dict[str, int] = {}
        for at, t, where in list(self.samples):
            if t == tid and at >= since:
                seen[where] = seen.get(where, 0) + 1
        return [f"  {n}x {where}" for where, n in sorted(seen.items(), key=lambda kv: -kv[1])[:5]]


class _SlowCallbacks(logging.Handler):
    def __init__(self, sampler: _Sampler) -> None:
        super().__init__(level=logging.WARNING)
        self.sampler = sampler
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not (record.msg.startswith("Executing ") and " took " in record.msg):
            return
        took = float(record.args[-1]) if isinstance(record.args, tuple) else SLOW_CALLBACK_SECONDS
        where = self.sampler.during(threading.get_ident(), took) or ["  (not sampled)"]
        self.seen.append(f"a callback took {took:.3f} s; the loop's thread was in:\n" + "\n".join(where))


_sampler = _Sampler()
_handler = _SlowCallbacks(_sampler)


def pytest_configure(config: pytest.Config) -> None:
    os.environ["PYTHONASYNCIODEBUG"] = "1"  # every new loop, asyncio's and uvloop's, starts in debug mode
    base = asyncio.base_events.BaseEventLoop
    init = base.__init__

    def init_watched(self: asyncio.base_events.BaseEventLoop) -> None:
        init(self)
        self.slow_callback_duration = SLOW_CALLBACK_SECONDS  # uvloop's default is the same 0.1 s

    base.__init__ = init_watched  # type: ignore[method-assign]
    logger = logging.getLogger("asyncio")
    logger.addHandler(_handler)
    logger.setLevel(logging.WARNING)
    _sampler.start()


@pytest.fixture(autouse=True)
def _no_slow_callbacks(request: pytest.FixtureRequest) -> Iterator[None]:
    _handler.seen.clear()
    yield
    seen, _handler.seen[:] = list(_handler.seen), []
    if seen:
        report = os.environ.get("TIDINGS_LOOP_WATCH_REPORT")
        if report:  # one node id a line, for a caller that runs them again
            with open(report, "a", encoding="utf-8") as f:
                f.write(request.node.nodeid + "\n")
        pytest.fail(f"the event loop was blocked for {SLOW_CALLBACK_SECONDS} s or more:\n" + "\n".join(seen),
                    pytrace=False)
