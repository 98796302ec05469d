"""Ports of the contacts capability that its preference use cases need: consent per channel.

A consent row is a dict with the columns of ``consents``: ``contact_id``, ``channel``,
``status`` (granted | denied | unsubscribed | pending), ``source``, ``recorded_at``, ``proof``,
``topics`` ({topic: bool}) and ``paused_until``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from tidings.application.ports.content import TemplateRepository
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


class PreferencesUnitOfWork(UnitOfWork, Protocol):
    @property
    def consents(self) -> ConsentRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def templates(self) -> TemplateRepository: ...

    @property
    def events(self) -> EventLog: ...
