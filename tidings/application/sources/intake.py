"""The transaction a verified delivery is written in: the ingest use case and the watched checkouts.

The composition root runs it (``Container.intake``: the group-committing ingest writer), so a
delivery's events, identities and checkout changes are kept together or not at all; application
tests run it on a fake.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from tidings.application.ingest.ingest import Incoming, IngestResult
from tidings.application.ports.sources import CheckoutRepository

T = TypeVar("T")


class IntakeTransaction(Protocol):
    @property
    def checkouts(self) -> CheckoutRepository: ...

    def ingest(self, items: Sequence[Incoming], now: datetime, source: str) -> IngestResult:
        """The ingest use case (``application/ingest/ingest.ingest``) in this transaction."""
        ...


class IntakeRunner(Protocol):
    def __call__(self, work: Callable[[IntakeTransaction], T]) -> T:
        """``work`` in one write transaction; returns once it committed (an exception: nothing kept)."""
        ...
