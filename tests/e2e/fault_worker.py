"""A worker process for the fault-injection tests: journey worker + delivery loop, a file clock.

Run as ``python -m tests.e2e.fault_worker DB_URL CLOCK_FILE CATCHER_PORT``. The clock is read
from CLOCK_FILE at every call, so the test moves time for every process at once (the way
`tidings worker --test-clock` is moved through the API in one process).
"""

from __future__ import annotations

import logging
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

from tidings.application.ports.wiring import BackgroundService
from tidings.bootstrap import build
from tidings.settings import Settings


class FileClock:
    def __init__(self, path: Path) -> None:
        self.path = path

    def now(self) -> datetime:
        return datetime.fromisoformat(self.path.read_text().strip())


def main() -> None:
    url, clock_file, port = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(process)d %(name)s %(message)s")
    settings = Settings(
        database_url=url, secret_key="fault-secret", catcher_port=port, public_url="http://127.0.0.1:9"
    )
    container = build(settings, clock=FileClock(clock_file))
    from tidings.channels.delivery import delivery_service
    from tidings.worker import JourneyWorker

    # small batches: more transactions per phase, so kills land mid-work more often
    services: list[BackgroundService] = [
        JourneyWorker(container, timer_batch=5, contact_batch=2, lease=timedelta(seconds=30)),
        delivery_service(container),
    ]
    for s in services:
        s.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
