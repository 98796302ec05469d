"""Ports of the journey engine's runtime: the queue, events, enrolments, timers, traces, outbox.

The engine (``application/journeys/engine.py``, ``runs.py``, ``timers.py``) and its transition
batch (``application/ingest/batch.py``) read and write through an :class:`EngineStore`: the
repositories on one transaction. The SQL adapter (``store/engine_sql.py``, ``enrolments_sql.py``)
keeps the fast path's bulk statements; ``store/memory/enrolments.py`` is the in-memory twin of
:class:`EnrolmentRepository` (``tests/contract/test_enrolment_repository.py``), and
``store/memory/engine_contacts.py`` of :class:`EngineContacts` (``tests/contract/test_engine_contacts.py``).

Rows are plain dicts with the columns of their tables (``enrollments``, ``timers``, ``traces``,
``outbox``, ``events``); datetimes are aware UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from tidings.application.ports.uow import Transaction

if TYPE_CHECKING:
    from tidings.application.ports.storage import StorageUnitOfWork
    from tidings.domain.snapshot import ContactSnapshot

#: the caller's open transaction: what the factories of other capabilities' repositories take
#: (``ControlFactory``, ``AnalyticsFactory``, ``ScoringFactory``, the segment refresh); opaque here.
Connection = Transaction

#: a contact's unprocessed events taken in one pass of the worker (the rest: the next pass).
EVENTS_PER_PASS = 1000

class EnrolmentRepository(Protocol):
    """The worker's side of enrolments: claims, events, enrolment rows, timers, traces, outbox."""

    # the contact queue (leases; ``store/queue.py`` for the protocol with ingest)
    def has_claimable_contacts(self, now: datetime) -> bool: ...

    def claim_contacts(
        self, owner: str, now: datetime, lease: timedelta, limit: int, exclude: Iterable[int] = ()
    ) -> list[int]:
        """Lease up to ``limit`` queued contacts whose lease is free or expired (oldest first)."""
        ...

    def release_contact(self, contact_id: int, until: datetime | None = None, owner: str | None = None) -> None:
        """Give a leased contact back: claimable at once, or once ``until`` passes."""
        ...

    def finish_contacts(self, contact_ids: Sequence[int], now: datetime) -> list[int]:
        """Drop the queue rows of processed contacts; re-queue those with unprocessed events (and
        keep those an uncommitted ingest holds). The ids that keep (or got back) a queue row."""
        ...

    def enqueue(self, contact_ids: Iterable[int], now: datetime) -> None: ...

    def lock_contacts(self, contact_ids: Sequence[int]) -> None:
        """Serialise work on these contacts across workers (row locks in ascending id order)."""
        ...

    # events
    def unprocessed_events(self, contact_ids: Sequence[int], limit: int) -> dict[int, list[dict[str, Any]]]:
        """Contact id -> its first ``limit`` unprocessed events in id order (``id``,
        ``contact_id``, ``name``, ``properties``, ``occurred_at``, ``value``)."""
        ...

    def mark_processed(self, event_ids: Sequence[int], now: datetime) -> None: ...

    def append_events(self, rows: Sequence[Mapping[str, Any]], now: datetime) -> None:
        """Engine-caused events (``contact_id``, ``name``, ``properties``, ``message_id``,
        ``value``), idempotent on ``message_id``; their contacts are queued."""
        ...

    # enrolments
    def enrollments(
        self,
        *,
        ids: Sequence[int] = (),
        contact_ids: Sequence[int] = (),
        live_only: bool = True,
        for_update: bool = False,
    ) -> list[dict[str, Any]]:
        """Enrolment rows (every column) with one of ``ids`` or of one of ``contact_ids``, by id."""
        ...

    def states(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """``id``, ``contact_id``, ``journey_id``, ``version``, ``state`` of these enrolments (any status)."""
        ...

    def contact_of(self, enrollment_id: int) -> int | None: ...

    def prior_enrollments(self, contact_ids: Sequence[int], journey_ids: Sequence[int]) -> list[dict[str, Any]]:
        """``id``, ``contact_id``, ``journey_id``, ``enroll_key``, ``status``, ``end_reason``,
        ``entered_at``, ``ended_at`` of these contacts' enrolments in these journeys, by id."""
        ...

    def insert_enrollments(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """New enrolments; their ids in row order."""
        ...

    def update_enrollments(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Each row: ``_id`` and the new ``status``, ``end_reason``, ``step_id``, ``state``,
        ``updated_at``, ``ended_at``, ``version``."""
        ...

    # timers
    def next_due(self) -> datetime | None: ...

    def due_timers(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Due timers, oldest first, locked for this transaction (other workers skip them)."""
        ...

    def insert_timers(self, rows: Sequence[Mapping[str, Any]]) -> None: ...

    def delete_timers(self, ids: Sequence[int], enrollment_ids: Sequence[int] = ()) -> None:
        """These timers and every timer of these enrolments."""
        ...

    def park_journey_timers(self, journey_id: int) -> int:
        """Hold a paused journey's timers (due at ``PARKED_AT``, the real time in the payload)."""
        ...

    # traces and outbox
    def allocate_ids(self, counts: Mapping[str, int]) -> dict[str, list[int]]:
        """Ids for new rows of ``traces`` / ``outbox`` (ascending), before inserting them."""
        ...

    def insert_outbox(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Rows with their ids (every column the engine writes); a key already present is left alone (exactly
        once). How many were inserted."""
        ...

    def existing_outbox(self, keys: Sequence[str]) -> dict[str, int]:
        """Idempotency key -> outbox id of these keys' rows."""
        ...

    def insert_traces(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Rows with their ids."""
        ...

    def recent_sends(self, contact_ids: Sequence[int], since: datetime) -> list[dict[str, Any]]:
        """``contact_id``, ``channel``, ``category``, ``created_at``, ``sent_at`` of these
        contacts' messages (pending to delivered) created since ``since`` (frequency caps)."""
        ...


class EngineContacts(Protocol):
    """What journey effects change on contacts (attributes, stage, score, tags, owner)."""

    def fields(self, contact_id: int) -> dict[str, Any] | None:
        """``attributes``, ``lifecycle_stage``, ``score``, ``owner`` of the contact (None: no contact)."""
        ...

    def update(self, contact_id: int, values: Mapping[str, Any], now: datetime) -> None: ...

    def tags(self, contact_id: int) -> set[str]: ...

    def add_tag(self, contact_id: int, tag: str, now: datetime) -> None: ...

    def remove_tag(self, contact_id: int, tag: str) -> None: ...

    def team_members(self, team: str) -> list[str]:
        """Emails of the team's active users, earliest user first."""
        ...

    def owner_loads(self, owners: Sequence[str]) -> dict[str, int]:
        """Owner -> open tasks plus owned contacts."""
        ...


class EngineStore(Protocol):
    """The engine's repositories on one transaction."""

    @property
    def connection(self) -> Connection:
        """The transaction, for the factories of other capabilities' repositories."""
        ...

    @property
    def enrolments(self) -> EnrolmentRepository: ...

    @property
    def contacts(self) -> EngineContacts: ...

    @property
    def storage(self) -> StorageUnitOfWork:
        """Every capability's unit of work, joined to this transaction (the caller commits)."""
        ...

    def journey_heads(self) -> dict[int, dict[str, Any]]:
        """Journey id -> ``key``, ``status``, ``current_version`` of every journey."""
        ...

    def journey_source(self, journey_id: int, version: int) -> str | None:
        """The source of a published version (None: no such version)."""
        ...

    def experiment_rollouts(self) -> dict[int, dict[str, str]]:
        """Journey id -> {split step id: winner} of every decided experiment."""
        ...

    def snapshots(
        self, contact_ids: Sequence[int], *, events: bool = False, journeys: bool = False, max_events: int | None = None
    ) -> dict[int, ContactSnapshot]:
        """Snapshots of these contacts in bulk (missing ids left out); events only when asked."""
        ...

    def snapshot(self, contact_id: int) -> ContactSnapshot | None:
        """One contact as the rule evaluator sees it (events, tags, consents, journeys)."""
        ...


class EngineStorage(Protocol):
    """Opens the engine's transactions, or joins the caller's."""

    def on(self, conn: Connection) -> EngineStore:
        """The repositories on the caller's open transaction (the caller commits)."""
        ...

    def reading(self) -> AbstractContextManager[EngineStore]:
        """A short read-only transaction (an idle worker polls without taking the write lock)."""
        ...

    def writing(self) -> AbstractContextManager[EngineStore]:
        """A write transaction, committed when the block ends without an exception."""
        ...
