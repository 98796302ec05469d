"""Ports of the sources capability: the connected vendors and the checkouts watched for abandonment.

Implemented by ``store/sources_sql.py`` (and ``store/memory/sources.py``); the contract suite
``tests/contract/test_sources_repositories.py`` runs on both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from tidings.application.ports.uow import UnitOfWork
from tidings.domain.vendors.records import DueCheckout, SourceExists, SourceRecord

__all__ = ["CheckoutRepository", "DueCheckout", "LeadFetchError", "LeadFetcher", "SourceExists", "SourceRecord",
           "SourceRepository",
           "SourcesUnitOfWork"]


class SourceRepository(Protocol):
    def add(self, vendor: str, name: str, secret: str, abandon_after_seconds: int, now: datetime) -> int:
        """The new source's id; raises :class:`SourceExists` for a (vendor, name) in use."""
        ...

    def get(self, source_id: int) -> SourceRecord | None: ...

    def list(self, vendor: str | None = None) -> list[SourceRecord]:
        """Sources by id (of one vendor when given)."""
        ...

    def remove(self, source_id: int) -> bool:
        """True when it existed (its watched checkouts go with it)."""
        ...


class CheckoutRepository(Protocol):
    def watch(
        self, source_id: int, checkout_id: str, email: str, properties: Mapping[str, Any], now: datetime,
        abandon_at: datetime,
    ) -> None:
        """Start or restart the quiet period of a checkout (no-op once completed or abandoned)."""
        ...

    def complete(self, source_id: int, checkout_ids: Sequence[str], now: datetime) -> None:
        """These checkouts became orders: never abandoned (recorded even if never watched)."""
        ...

    def due(self, now: datetime, limit: int = 500) -> list[DueCheckout]:
        """Watched checkouts whose quiet period ended by ``now``, soonest first."""
        ...

    def mark_abandoned(self, ids: Sequence[int], now: datetime) -> None: ...

    def due_count(self, now: datetime) -> int: ...

    def get(self, source_id: int, checkout_id: str) -> dict[str, Any] | None:
        """The row as a dict (tests, the sources page), or None."""
        ...


class SourcesUnitOfWork(UnitOfWork, Protocol):
    @property
    def sources(self) -> SourceRepository: ...

    @property
    def checkouts(self) -> CheckoutRepository: ...


class LeadFetchError(RuntimeError):
    """The lead could not be read from the vendor's API (the delivery is answered 503: retried)."""


class LeadFetcher(Protocol):
    def fetch(self, lead_id: str) -> Mapping[str, Any]:
        """Meta's lead (``GET /<lead id>`` of the Graph API: field_data, form_id, created_time...);
        raises :class:`LeadFetchError`."""
        ...
