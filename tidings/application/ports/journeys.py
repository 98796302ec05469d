"""Ports of the journeys capability: journey documents and their immutable versions.

A journey row is the mutable head (``id``, ``key``, ``name``, ``status``, ``current_version``,
``draft_source``, ``created_at``, ``updated_at``); a version row (``journey_id``, ``version``,
``document``, ``source``, ``checksum``, ``published_at``, ``published_by``) is never changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from tidings.application.ports.content import TemplateRepository
from tidings.application.ports.uow import UnitOfWork

if TYPE_CHECKING:
    from tidings.domain.snapshot import ContactSnapshot


class JourneyRepository(Protocol):
    def get(self, key: str, *, for_update: bool = False) -> dict[str, Any] | None: ...

    def get_by_id(self, journey_id: int) -> dict[str, Any] | None: ...

    def all(self) -> list[dict[str, Any]]:
        """Every journey, by key."""
        ...

    def add(self, key: str, name: str, draft: str | None, now: datetime) -> int:
        """A new journey (status ``draft``); its id."""
        ...

    def update(self, journey_id: int, now: datetime, **values: Any) -> None:
        """Change head columns; ``updated_at`` becomes ``now``."""
        ...

    def versions(self, journey_id: int) -> list[dict[str, Any]]:
        """``version``, ``checksum``, ``published_at``, ``published_by`` of each version, in order."""
        ...

    def get_version(self, journey_id: int, version: int) -> dict[str, Any] | None: ...

    def add_version(
        self,
        journey_id: int,
        version: int,
        *,
        document: Mapping[str, Any],
        source: str,
        checksum: str,
        now: datetime,
        by: str | None,
    ) -> None: ...


class JourneyRuns(Protocol):
    """What the journey lifecycle use cases see of a journey's enrolments, timers and messages."""

    def enrollment_counts(self, journey_id: int) -> list[tuple[int, str, str | None, int]]:
        """(version, status, step id, count) of the journey's enrolments, sorted."""
        ...

    def waiting(self, journey_id: int, *, not_version: int, version: int | None = None) -> list[dict[str, Any]]:
        """``id``, ``contact_id``, ``version``, ``step_id``, ``state`` of the waiting enrolments on
        another version than ``not_version`` (only ``version`` when given), by id."""
        ...

    def move(self, journey_id: int, moves: Sequence[Mapping[str, Any]], now: datetime) -> None:
        """Put enrolments on another version and step: each move has ``enrollment_id``,
        ``contact_id``, ``from_version``, ``from_step``, ``to_version``, ``to_step`` and the new
        ``state``; a ``migration`` trace entry is written for each."""
        ...

    def hold(self, journey_id: int) -> tuple[int, int]:
        """Park the journey's timers and its pending messages; (timers, messages) parked."""
        ...

    def release(self, journey_id: int, now: datetime, *, skip_ended_by: Sequence[str]) -> dict[str, int]:
        """Unpark them: timers get their due time back, messages are due ``now`` — except those
        of enrolments ended meanwhile for one of ``skip_ended_by``, which are skipped.
        ``released_timers``, ``released_messages``, ``skipped_messages``."""
        ...

    def drop_date_triggers(self, journey_id: int, *, contact_id: int | None = None, trigger: int | None = None) -> None:
        """Delete the journey's date-trigger timers (planned for contacts, no enrolment yet);
        only those of ``contact_id`` and of the trigger index ``trigger`` when given."""
        ...

    def contact_snapshots(self, after_id: int, limit: int, *, events: bool) -> list[ContactSnapshot]:
        """Snapshots of the next ``limit`` contacts with an id above ``after_id``, by id (with
        their event history when ``events``): for planning over every contact in chunks."""
        ...

    def segment_rules(self) -> dict[str, Any]:
        """Segment key -> its rule (structured form), for the journey map's loop check."""
        ...

    def add_timers(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert timer rows (``contact_id``, ``enrollment_id``, ``kind``, ``due_at``, ``payload``)."""
        ...

    def enrollment_timers(self, enrollment_id: int) -> list[dict[str, Any]]:
        """The enrolment's timers (``id``, ``kind``, ``due_at``, ``payload``), by id."""
        ...

    def set_timer_payload(self, timer_id: int, payload: Mapping[str, Any]) -> None: ...

    def journey_status(self, journey_id: int) -> str | None:
        """The journey's status, read under a share lock (PostgreSQL) that a resume, which takes
        the row for update, waits for until this transaction ends; None when there is none."""
        ...


class MessageTraces(Protocol):
    """What "why did this contact get this?" reads: outbox rows (every column), trace rows
    (``id``, ``at``, ``journey_id``, ``journey_version``, ``enrollment_id``, ``step_id``,
    ``stimulus``, ``action``, ``detail``, ``outbox_id``), enrolment rows and conversion events."""

    def contact_exists(self, contact_id: int) -> bool: ...

    def journey_keys(self) -> dict[int, str]:
        """Journey id -> key, for every journey."""
        ...

    def message(self, contact_id: int, message_id: int) -> dict[str, Any] | None:
        """The outbox row ``message_id`` when it is the contact's."""
        ...

    def messages(self, contact_id: int, limit: int) -> list[dict[str, Any]]:
        """The contact's outbox rows, newest (highest id) first."""
        ...

    def trace(self, trace_id: int) -> dict[str, Any] | None: ...

    def path(self, enrollment_id: int, upto: int, limit: int) -> list[dict[str, Any]]:
        """The enrolment's trace rows with an id up to ``upto``, newest first."""
        ...

    def changes(self, contact_id: int, actions: Sequence[str], limit: int) -> list[dict[str, Any]]:
        """The contact's trace rows of one of ``actions``, newest first."""
        ...

    def enrollments(self, contact_id: int) -> list[dict[str, Any]]:
        """The contact's enrolment rows (every column), by id."""
        ...

    def conversion_events(self, contact_id: int, limit: int) -> list[dict[str, Any]]:
        """The contact's ``journey.converted`` events and other events with a ``value`` (not
        ``message.*`` nor ``journey.*``), newest first: ``id``, ``name``, ``properties``,
        ``occurred_at``, ``value``."""
        ...

    def credit(self, contact_id: int, at: datetime) -> dict[str, Any] | None:
        """What a conversion at ``at`` is credited to: the last human click within 7 days
        (``message_id``, ``template``, ``journey``, ``journey_key``, ``step``, ``channel``,
        ``clicked_at``, ``model``, ``window_days``), or None."""
        ...


class JourneysUnitOfWork(UnitOfWork, Protocol):
    @property
    def journeys(self) -> JourneyRepository: ...

    @property
    def journey_runs(self) -> JourneyRuns: ...

    @property
    def traces(self) -> MessageTraces: ...

    @property
    def templates(self) -> TemplateRepository: ...
