"""Ports of the delivery capability that its use cases (dead letters, notifications) and the
local sinks need.

Outbox and dead-letter rows are dicts with the columns of their tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from tidings.application.ports.uow import UnitOfWork
from tidings.domain.channels import InboxItem


class OutboxRepository(Protocol):
    def enqueue(self, contact_id: int, rows: Sequence[Mapping[str, Any]], now: datetime) -> None:
        """Add pending effects due ``now`` (each has ``kind``, ``channel``, ``category``,
        ``template``, ``idempotency_key`` and ``payload``); a key already present is left alone."""
        ...

    def by_idempotency_key(self, key: str) -> dict[str, Any] | None: ...

    def get(self, outbox_id: int) -> dict[str, Any] | None: ...

    def mark_dead(self, outbox_id: int, reason: str) -> None:
        """Status ``dead`` with ``reason`` as its error; any lease is dropped."""
        ...

    def requeue(self, outbox_id: int, now: datetime) -> None:
        """Back to ``pending``, due ``now``, attempts 0, no error, no lease."""
        ...

    def skip_pending_marketing(self, contact_id: int, channel: str, reason: str) -> int:
        """Skip (``reason`` as error) the contact's pending non-transactional messages on
        ``channel`` that no delivery loop has claimed; how many."""
        ...


class DeadLetterRepository(Protocol):
    def record(self, outbox_id: int, contact_id: int, reason: str, now: datetime) -> None:
        """List the outbox row as dead (once per row: a second call refreshes reason and time
        and makes it wait for a decision again)."""
        ...

    def get(self, dead_letter_id: int, *, for_update: bool = False) -> dict[str, Any] | None: ...

    def listing(self, *, include_decided: bool, limit: int) -> list[dict[str, Any]]:
        """Newest first, each joined with its outbox row's ``kind``, ``channel``, ``status``,
        ``attempts``, ``payload``, ``step_id``, ``journey_id``, ``recipient`` and ``error`` (None
        when that row is gone); without ``include_decided`` only those neither retried nor
        discarded."""
        ...

    def mark_retried(self, dead_letter_id: int, now: datetime) -> None: ...

    def mark_discarded(self, dead_letter_id: int, now: datetime) -> None: ...


class DeadLettersUnitOfWork(UnitOfWork, Protocol):
    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def dead_letters(self) -> DeadLetterRepository: ...


class InboxRepository(Protocol):
    """The local sinks' inbox (table ``inbox``): every channel's sink records through it."""

    def record(self, item: InboxItem, now: datetime) -> int:
        """Store what a sink received at ``now``; its id."""
        ...

    def has(self, channel: str, message_ref: str) -> bool:
        """Did a sink of ``channel`` receive the message ``message_ref``? (``confirm`` for sinks.)"""
        ...

    def raw_messages(self, channel: str) -> list[str]:
        """The raw source of every message of ``channel`` that kept one, oldest first."""
        ...


class InboxUnitOfWork(UnitOfWork, Protocol):
    @property
    def inbox(self) -> InboxRepository: ...
