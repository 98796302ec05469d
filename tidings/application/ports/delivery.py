"""Ports of the delivery capability that its use cases (dead letters, notifications), the
local sinks, bounce feedback (``channels/bounces.py``) and the delivery loop's claim-time reads
(``channels/prepare.py``) need.

Outbox, dead-letter, feedback and sending-domain rows are dicts with the columns of their tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from tidings.application.ports.uow import UnitOfWork
from tidings.domain.channels import InboxItem

if TYPE_CHECKING:
    from tidings.domain.templates import TemplateSource


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


class DomainHolds(Protocol):
    """What the delivery loop asks of bounce feedback at claim time: the paused sending domains,
    and giving back the attempt of a message it holds for one."""

    def paused_domains(self) -> set[str]:
        """Every sending domain whose status is ``paused``."""
        ...

    def give_back_attempt(self, outbox_id: int) -> None:
        """One attempt less on the outbox row (never below 0): waiting is not a failed delivery."""
        ...


class FeedbackRepository(DomainHolds, Protocol):
    """Bounces and complaints (table ``feedback``), the suppressions they add and the sending
    domains' counts and pauses (``sending_domains``): what ``channels/bounces.py`` decides on."""

    def seen(self, ref: str) -> bool:
        """Is a notification with this ``ref`` recorded already?"""
        ...

    def message_for_ref(self, message_ref: str | None) -> dict[str, Any] | None:
        """The outbox row of our Message-ID (``<outbox id>.<hash>@<domain>``, with or without
        ``<>``): the row whose ``provider_message_id`` it is, else the row of that id whose
        rendered ``message_ref`` it is; None for none or a forged one."""
        ...

    def contact_by_email(self, address: str) -> int | None:
        """The contact whose lower-cased email is ``address`` (pass it lower case), if any."""
        ...

    def add(self, values: Mapping[str, Any]) -> None:
        """One ``feedback`` row (its columns); a ``ref`` already stored is refused (unique)."""
        ...

    def soft_bounces_since(self, address: str, since: datetime, kind: str) -> int:
        """Feedback rows of ``address`` (exact) and ``kind`` received at or after ``since``."""
        ...

    def suppress(self, address: str, reason: str, detail: Mapping[str, Any], now: datetime) -> bool:
        """Put the email address on the suppression list; False when it is there already."""
        ...

    def record_events(self, events: Iterable[dict[str, Any]], now: datetime) -> None:
        """Change events (``domain.changes.change_event`` rows), their contacts enqueued."""
        ...

    def domain(self, domain: str) -> dict[str, Any] | None:
        """The ``sending_domains`` row of ``domain`` (exact), if any."""
        ...

    def sent_since(self, domain: str, since: datetime) -> int:
        """Email outbox rows ``sent`` or ``delivered`` at or after ``since`` whose
        ``provider_message_id`` ends with ``@domain``."""
        ...

    def kinds_since(self, domain: str, since: datetime) -> dict[str, int]:
        """Feedback of the sending domain received at or after ``since``, counted by kind (kinds
        with none left out)."""
        ...

    def save_domain(self, domain: str, values: Mapping[str, Any]) -> None:
        """Insert or update the ``sending_domains`` row of ``domain`` with ``values``."""
        ...

    def list_domains(self) -> list[dict[str, Any]]:
        """Every ``sending_domains`` row, by domain."""
        ...


class FeedbackUnitOfWork(UnitOfWork, Protocol):
    @property
    def feedback(self) -> FeedbackRepository: ...


class DeliveryReads(Protocol):
    """What a claimed batch is checked and rendered against (``channels/prepare.py``), read in
    one transaction; each method takes the whole batch's ids."""

    @property
    def feedback(self) -> DomainHolds:
        """The paused sending domains, on the same transaction."""
        ...

    def contacts(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Contact id -> ``id``, ``external_id``, ``email``, ``phone``, ``first_name``,
        ``last_name``, ``timezone``, ``locale``, ``attributes``, ``lifecycle_stage``, ``owner``,
        ``score`` (missing ids left out)."""
        ...

    def consents(self, ids: Sequence[int]) -> dict[tuple[int, str], dict[str, Any]]:
        """(contact id, channel) -> ``contact_id``, ``channel``, ``status``, ``topics``,
        ``paused_until`` of these contacts' consents."""
        ...

    def tags(self, ids: Sequence[int]) -> dict[int, list[str]]:
        """Contact id -> its tags (in no particular order; contacts without tags left out)."""
        ...

    def suppressed(self, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those of the (channel, lower-case address) pairs whose address is on the suppression
        list of that channel, whatever the case it was stored in."""
        ...

    def template(self, key: str, locale: str) -> TemplateSource | None:
        """The best variant of ``key`` for ``locale``: exact, its language, the default ``""``."""
        ...
