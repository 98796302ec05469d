"""A pytest plugin that fails every test during which an event loop callback ran 100 ms or more.

Load it with ``python -m pytest -p tests.loop_watch ...`` (``TIDINGS_LOOP_WATCH_REPORT=<file>``:
the ids of the tests that tripped it are appended there too). It turns on asyncio's debug mode
for every loop created in the process (``PYTHONASYNCIODEBUG``: the TestClient portals and the
live uvicorn servers alike), sets ``slow_callback_duration`` to 0.1 s and captures the asyncio
logger's "Executing <handle> took N seconds" warnings. A test that saw one fails in its
teardown (an ``async def`` endpoint doing database work, password hashing, index creation…).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator

import pytest

SLOW_CALLBACK_SECONDS = 0.1


class _SlowCallbacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str) and record.msg.startswith("Executing ") and " took " in record.msg:
            self.seen.append(record.getMessage())


_handler = _SlowCallbacks()


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
