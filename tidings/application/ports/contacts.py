"""Ports of the contacts capability: consent per channel, the suppression list, and the unit of
work of the preference centre and of inbound SMS keywords.

A consent row is a dict with the columns of ``consents``: ``contact_id``, ``channel``,
``status`` (granted | denied | unsubscribed | pending), ``source``, ``recorded_at``, ``proof``,
``topics`` ({topic: bool}) and ``paused_until``. A suppression is an address of a channel we
must not send to (``suppressions``: ``channel``, ``address``, ``reason``, ``detail``,
``created_at``), whether or not a contact holds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from tidings.application.ports.content import ContactReader, TemplateRepository
from tidings.application.ports.delivery import OutboxRepository
from tidings.application.ports.sales import EventLog
from tidings.application.ports.uow import UnitOfWork


class ConsentRepository(Protocol):
    def get(self, contact_id: int, channel: str) -> dict[str, Any] | None: ...

    def of_contact(self, contact_id: int) -> list[dict[str, Any]]:
        """The contact's consent rows, by channel."""
        ...

    def add(self, contact_id: int, channel: str, values: Mapping[str, Any]) -> None:
        """A new row (``status``, ``source``, ``recorded_at``, ``proof``), with no topics."""
        ...

    def update(self, contact_id: int, channel: str, values: Mapping[str, Any]) -> None: ...


class SuppressionList(Protocol):
    def has(self, channel: str, address: str) -> bool: ...

    def add(self, channel: str, address: str, reason: str, detail: Mapping[str, Any], now: datetime) -> bool:
        """Suppress the address unless it already is (its first reason stays); True when added."""
        ...

    def lift(self, channel: str, address: str, reason: str) -> None:
        """Remove the address's suppression when it was suppressed for ``reason``."""
        ...


class PreferencesUnitOfWork(UnitOfWork, Protocol):
    @property
    def consents(self) -> ConsentRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def templates(self) -> TemplateRepository: ...

    @property
    def events(self) -> EventLog: ...


class SmsKeywordsUnitOfWork(UnitOfWork, Protocol):
    """What inbound SMS keywords (STOP / START) and SMS / voice status callbacks touch."""

    @property
    def contacts(self) -> ContactReader: ...

    @property
    def consents(self) -> ConsentRepository: ...

    @property
    def suppressions(self) -> SuppressionList: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def events(self) -> EventLog: ...
