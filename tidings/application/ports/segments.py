"""Ports of the segments capability: saved segments, their memberships, and where they are kept.

- :class:`SegmentMemberships` — the worker's hot path and the set-based refresh: read the
  saved rules, evaluate a rule for every contact (the adapter compiles it: SQL in
  ``store/rules_sql*.py``, the domain evaluator in memory), open and close membership periods
  (``entered_at`` / ``exited_at``, one open period per segment and contact), append the
  ``segment.*`` events and enqueue their contacts;
- :class:`SegmentDefinitions` — saving, listing and previewing segments;
- :class:`SegmentStore` — transactions over both, and the rule indexes (which live beside the
  transactions: building an index is not part of one).

A caller outside the capability that holds a transaction (the journey engine's batch) reaches
the memberships through its unit of work (``StorageUnitOfWork.segments``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from tidings.application.ports.uow import UnitOfWork
from tidings.domain.rules import Rule
from tidings.domain.segments import SegmentKeyTaken, StoredSegment
from tidings.domain.snapshot import ContactSnapshot, EventRecord

__all__ = [
    "SegmentDefinitions",
    "SegmentKeyTaken",
    "SegmentMemberships",
    "SegmentRepository",
    "SegmentStore",
    "SegmentsUnitOfWork",
    "StoredSegment",
]


class SegmentMemberships(Protocol):
    def saved(self) -> list[StoredSegment]:
        """Every saved segment, by id."""
        ...

    def saved_one(self, segment_id: int) -> StoredSegment | None: ...

    def matching(self, rule: Rule, now: datetime) -> set[int]:
        """The contacts ``rule`` matches at ``now`` (every contact is a candidate)."""
        ...

    def open_members(self, segment_id: int) -> set[int]:
        """Contacts with an open membership of the segment."""
        ...

    def open_memberships(self, pairs: Sequence[tuple[int, int]], entered_at: datetime) -> list[tuple[int, int]]:
        """Open (segment, contact) memberships; those already open are skipped (a concurrent
        refresh). Returns the (segment, contact) pairs opened."""
        ...

    def close_for_segment(self, segment_id: int, contact_ids: Sequence[int], exited_at: datetime) -> list[int]:
        """Close the open memberships of these contacts in one segment; returns the contacts closed."""
        ...

    def close_for_contact(self, contact_id: int, segment_ids: Collection[int], exited_at: datetime) -> list[int]:
        """Close one contact's open memberships of these segments; returns the segments closed."""
        ...

    def close_pairs(self, pairs: Sequence[tuple[int, int]], exited_at: datetime) -> list[tuple[int, int]]:
        """Close open (contact, segment) memberships; returns the (contact, segment) pairs closed."""
        ...

    def record_changes(self, rows: Sequence[dict[str, Any]], now: datetime, *, enqueue: bool) -> None:
        """Append change events (``domain.changes.change_event`` rows, new message ids) and,
        with ``enqueue``, queue their contacts for the worker."""
        ...

    def append_changes_with_ids(self, rows: Sequence[dict[str, Any]], now: datetime, *, enqueue: bool) -> list[int]:
        """:meth:`record_changes`, returning the new events' ids in the order of ``rows``."""
        ...

    def mark_evaluated(self, segment_id: int, evaluated_at: datetime, next_refresh_at: datetime | None) -> None:
        """Record a set-based evaluation; ``next_refresh_at`` None leaves the due time as it is."""
        ...

    def unprocessed_events(self, contact_id: int, limit: int) -> list[EventRecord]:
        """The contact's events the worker has not processed yet, oldest first."""
        ...

    def snapshot(
        self,
        contact_id: int,
        *,
        event_names: Collection[str] | None,
        with_events: bool,
        with_tags: bool,
        with_consents: bool,
        with_journeys: bool,
    ) -> ContactSnapshot | None:
        """The contact as rules see it, with only the parts asked for (None: no such contact)."""
        ...

    def due_refreshes(self, now: datetime) -> list[int]:
        """Segments whose ``next_refresh_at`` has come, soonest first."""
        ...


class SegmentDefinitions(Protocol):
    def id_of(self, key: str) -> int | None: ...

    def row(self, key: str) -> dict[str, Any] | None:
        """The stored row (id, key, name, description, rule, rule_text, times)."""
        ...

    def insert(self, values: Mapping[str, Any]) -> int:
        """Save a new segment; raises :class:`SegmentKeyTaken` when its key is taken."""
        ...

    def update(self, segment_id: int, values: Mapping[str, Any]) -> None: ...

    def delete(self, segment_id: int) -> None:
        """Delete the segment and its membership history."""
        ...

    def listed(self, key: str | None = None) -> list[dict[str, Any]]:
        """Stored rows with ``members`` (open memberships), by key; one key, or every segment."""
        ...

    def member_page(self, segment_id: int, *, after: int, limit: int) -> list[dict[str, Any]]:
        """Current members (id, email, first_name, last_name, entered_at) after a contact id."""
        ...

    def member_count(self, segment_id: int) -> int: ...

    def history(
        self, segment_id: int, *, contact_id: int | None, before: int | None, limit: int
    ) -> list[dict[str, Any]]:
        """Membership periods (id, contact_id, entered_at, exited_at), newest first."""
        ...

    def preview(self, rule: Rule, now: datetime, sample: int) -> tuple[int, list[dict[str, Any]]]:
        """How many contacts ``rule`` matches now, and the first ``sample`` of them by id
        (id, email, first_name, last_name, lifecycle_stage)."""
        ...

    def missing_names(
        self,
        *,
        attributes: Iterable[str],
        events: Iterable[str],
        tags: Iterable[str],
        segments: Iterable[str],
        journeys: Iterable[str],
    ) -> dict[str, list[str]]:
        """Of the names given, those nobody has: {"attributes": [...], "events": [...], ...}."""
        ...

    def version(self) -> tuple[Any, ...]:
        """Changes whenever a segment is created, changed or deleted (cheap enough to poll)."""
        ...


class SegmentRepository(SegmentMemberships, SegmentDefinitions, Protocol):
    """Both, on one transaction."""


class SegmentsUnitOfWork(UnitOfWork, Protocol):
    """A unit of work with the segments repository (``uow.segments``)."""

    @property
    def segments(self) -> SegmentRepository: ...


class SegmentStore(Protocol):
    def writing(self) -> AbstractContextManager[SegmentRepository]:
        """A transaction kept when the block ends without an exception."""
        ...

    def reading(self) -> AbstractContextManager[SegmentRepository]:
        """A read-only look (never waits for a writer)."""
        ...

    def sync_rule_indexes(self, rules: Iterable[Rule]) -> tuple[list[str], list[str]] | None:
        """Create the optional indexes ``rules`` need and drop those none needs: (present,
        dropped), or None when another process is at it."""
        ...

