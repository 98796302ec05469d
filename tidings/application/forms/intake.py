"""The transaction a public submission is written in: the ingest use case and the forms' repositories.

The composition root runs it (``Container.forms_intake``: the group-committing ingest writer), so
the contact upsert, the ``form.submitted`` event, the consent rows and the submission (the proof)
are kept together or not at all; application tests run it on a fake.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from tidings.application.ingest.ingest import Incoming, IngestResult
from tidings.application.ports.forms import FormsUnitOfWork

T = TypeVar("T")


class FormsTransaction(Protocol):
    @property
    def uow(self) -> FormsUnitOfWork:
        """The repositories inside this transaction (already open: do not commit it)."""
        ...

    def ingest(self, items: Sequence[Incoming], now: datetime, source: str) -> IngestResult:
        """The ingest use case (``application/ingest/ingest.ingest``) in this transaction."""
        ...


class FormsRunner(Protocol):
    def __call__(self, work: Callable[[FormsTransaction], T]) -> T:
        """``work`` in one write transaction; returns once it committed (an exception: nothing kept)."""
        ...
