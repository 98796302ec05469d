"""Ports of the contacts capability: consent per channel, the suppression list, and the unit of
work of the preference centre and of inbound SMS keywords.

A consent row is a dict with the columns of ``consents``: ``contact_id``, ``channel``,
``status`` (granted | denied | unsubscribed | pending), ``source``, ``recorded_at``, ``proof``,
``topics`` ({topic: bool}) and ``paused_until``. A suppression is an address of a channel we
must not send to (``suppressions``: ``channel``, ``address``, ``reason``, ``detail``,
``created_at``), whether or not a contact holds it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from tidings.application.ports.content import ContactReader, TemplateRepository
from tidings.application.ports.delivery import OutboxRepository
from tidings.application.ports.sales import EventLog
from tidings.application.ports.uow import UnitOfWork
from tidings.domain.contacts import ContactFilter


class ConsentRepository(Protocol):
    def get(self, contact_id: int, channel: str) -> dict[str, Any] | None: ...

    def of_contact(self, contact_id: int) -> list[dict[str, Any]]:
        """The contact's consent rows, by channel."""
        ...

    def add(self, contact_id: int, channel: str, values: Mapping[str, Any]) -> None:
        """A new row (``status``, ``source``, ``recorded_at``, ``proof``), with no topics."""
        ...

    def update(self, contact_id: int, channel: str, values: Mapping[str, Any]) -> None: ...


class ContactRecords(ContactReader, Protocol):
    """The contact aggregate: its row (the columns of ``contacts``), identifiers and aliases
    (``contact_aliases``: ``anonymous_id``, ``merged_id``, ``user_id``), tags; and, on a merge or
    an erasure, every row of every per-contact table."""

    def id_by(self, field: str, value: Any) -> int | None:
        """As ``ContactReader.id_by``; ``field`` may also be ``id`` (is there such a contact?)."""
        ...

    def alias_owner(self, kind: str, value: str) -> int | None: ...

    def add_alias(self, kind: str, value: str, contact_id: int, now: datetime) -> None:
        """Record the alias unless it exists (its first owner stays)."""
        ...

    def insert(self, row: Mapping[str, Any]) -> int | None:
        """A new contact's id; None when one of its unique identifiers is already taken."""
        ...

    def update(self, contact_id: int, values: Mapping[str, Any]) -> None: ...

    def delete(self, contact_ids: Iterable[int]) -> int:
        """Hard delete: the contacts and every per-contact row; how many contacts there were."""
        ...

    def move_rows(self, source_id: int, target_id: int) -> None:
        """Every per-contact row of ``source_id`` becomes the target's. Where both have a row
        under one key (a tag, a segment...) the target's stays, except consent, where the more
        recent decision wins; a row one contact has at most once (its queue entry) is dropped."""
        ...

    def add_tags(self, contact_id: int, tags: Iterable[str], now: datetime) -> None: ...

    def remove_tags(self, contact_id: int, tags: Iterable[str]) -> None: ...

    def many(self, ids: list[int]) -> list[dict[str, Any]]:
        """Rows of these contacts, in the order of ``ids`` (unknown ids left out), each with
        ``tags`` (sorted) and ``consent`` ({channel: {status, source, recorded_at, proof, topics,
        paused_until}})."""
        ...

    def page_ids(self, f: ContactFilter, *, after: int, limit: int) -> list[int]:
        """Ids above ``after`` of the contacts ``f`` matches, ascending, at most ``limit``."""
        ...

    def matching(self, ids: Iterable[int], f: ContactFilter) -> set[int]:
        """Which of ``ids`` the filter ``f`` matches (its ``q`` included, when set)."""
        ...


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


class ContactsUnitOfWork(UnitOfWork, Protocol):
    """What creating, updating, resolving, merging and erasing contacts touch."""

    @property
    def contacts(self) -> ContactRecords: ...

    @property
    def consents(self) -> ConsentRepository: ...

    @property
    def events(self) -> EventLog: ...
