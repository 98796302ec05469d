"""The worker's daily direct-mail batch: at the configured local time it builds the day's print
batch (``addresses.csv`` + ``manifest.json`` in ``<direct_mail_dir>/<day>``, see
``direct_mail.BatchFolder``), once per day — on the container's clock, so the test clock moves it.

"Once" holds across restarts and several workers on one batch folder: the day is claimed by
creating ``<day>/.scheduled`` exclusively before building; a day already claimed is never
built again by the schedule (``tidings direct-mail batch`` can still rebuild it by hand).
"""

from __future__ import annotations

import logging
import os
from datetime import date
from zoneinfo import ZoneInfo

from tidings.application.background import PollingService
from tidings.application.ports.clock import Clock
from tidings.channels.direct_mail import BatchFolder, BatchResult
from tidings.domain.print_schedule import batch_due, parse_batch_time

log = logging.getLogger("tidings.direct_mail")
MARKER = ".scheduled"


def claim_day(folder: BatchFolder, day: date) -> bool:
    """True for the one caller that claims ``day``'s scheduled batch (exclusive file create)."""
    path = folder.day(day)
    path.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path / MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    os.close(fd)
    return True


class DirectMailScheduler(PollingService):
    """A background service: polls the clock and builds each local day's batch once."""

    name = "direct-mail-batch"

    def __init__(self, folder: BatchFolder, clock: Clock, at: str, timezone: str, *, poll: float = 0.5) -> None:
        super().__init__()
        self.folder = folder
        self.clock = clock
        self.at = parse_batch_time(at)
        self.tz = ZoneInfo(timezone)
        self.every = poll

    def run_once(self) -> BatchResult | None:
        """Build today's batch if its time has come and nobody built it; the result, or None."""
        now = self.clock.now()
        day = batch_due(now, self.at, self.tz)
        if day is None or not claim_day(self.folder, day):
            return None
        result = self.folder.build(day, now)
        log.info("direct-mail batch %s: %s letter(s) in %s", day.isoformat(), result.letters, result.csv_path)
        return result
