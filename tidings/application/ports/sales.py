"""Ports of the sales capability: tasks for people, their routing, and the shared settings store.

Task rows are dicts with the columns of the ``tasks`` table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from tidings.application.ports.access import UserRepository
from tidings.application.ports.content import ContactReader, TemplateRepository
from tidings.application.ports.delivery import OutboxRepository
from tidings.application.ports.uow import UnitOfWork


class TaskRepository(Protocol):
    def add(self, values: Mapping[str, Any]) -> int:
        """A new task's id (``values``: the columns but ``id``)."""
        ...

    def get(self, task_id: int) -> dict[str, Any] | None: ...

    def by_outbox(self, outbox_id: int) -> dict[str, Any] | None:
        """The task an outbox row created, if any (a task step runs once per outbox row)."""
        ...

    def update(self, task_id: int, values: Mapping[str, Any]) -> None: ...

    def search(
        self,
        *,
        owner: str | None = None,
        status: str | None = None,
        team: str | None = None,
        contact_id: int | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """Matching tasks, those with a due time first (soonest first), then by id."""
        ...

    def open_counts(self, owners: Sequence[str]) -> dict[str, int]:
        """How many open tasks each of ``owners`` holds (all teams; 0 for those with none)."""
        ...

    def escalation_candidates(self, team: str, due_before: datetime, limit: int = 500) -> list[dict[str, Any]]:
        """Open tasks of ``team`` not escalated yet, due at or before ``due_before`` (soonest first)."""
        ...

    def mark_escalated(self, task_id: int, now: datetime, to: str | None, owner: str | None = None) -> bool:
        """Record the escalation (``escalated_at``/``escalated_to``, and ``owner`` when given) if
        the task is still open and not escalated: True for the one caller that did it, False for
        every other (a conditional update, so two workers never both escalate a task)."""
        ...


class SettingsStore(Protocol):
    """Small JSON documents by key (the ``app_state`` table): routing, round-robin pointers."""

    def get(self, key: str) -> Any:
        """The value, or None."""
        ...

    def put(self, key: str, value: Any, now: datetime) -> None: ...

    def lock(self, key: str, default: Any, now: datetime) -> Any:
        """The value, created as ``default`` when missing, its row locked for the rest of the
        transaction (concurrent callers queue on it, even the very first time)."""
        ...


class EventLog(Protocol):
    def append_changes(self, events: Sequence[Mapping[str, Any]], now: datetime) -> None:
        """Append events the application caused (a finished task...) and queue their contacts
        for the worker, in the caller's transaction."""
        ...

    def has_message_id(self, message_id: str) -> bool:
        """Is an event with this sender's message id stored (idempotent receipts)?"""
        ...


class SalesUnitOfWork(UnitOfWork, Protocol):
    @property
    def tasks(self) -> TaskRepository: ...

    @property
    def settings(self) -> SettingsStore: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def contacts(self) -> ContactReader: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def templates(self) -> TemplateRepository: ...

    @property
    def events(self) -> EventLog: ...
