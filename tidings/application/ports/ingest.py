"""Ports of the ingest capability: events and identities in bulk, and CSV import chunks.

The hot path of ``/v1/batch`` (``application/ingest/ingest.py``) resolves a request's identities
with one statement per kind of identifier and stores its events with one multi-row insert,
idempotent on ``message_id``; a CSV import (``application/ingest/imports.py``) writes 1,000
rows per transaction. SQL in ``store/event_ingest_sql.py`` and ``store/contact_import_sql.py``;
the in-memory twin of ``EventIngest`` in ``store/memory/ingest.py`` (``tests/contract`` runs both).

An event row is a dict with the columns of ``events``: ``contact_id``, ``name``, ``properties``,
``occurred_at``, ``received_at``, ``message_id``, ``source``, ``value``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from tidings.application.ports.contacts import ContactsUnitOfWork


class ContactIdentifiers(Protocol):
    def ids_by(self, field: str, values: Sequence[str]) -> dict[str, int]:
        """``{value: contact id}`` of the stored contacts whose ``field`` (``external_id``,
        ``email`` or ``phone``) is one of ``values``; unknown values are left out."""
        ...


class EventIngest(ContactIdentifiers, Protocol):
    def insert_events(self, rows: Sequence[Mapping[str, Any]]) -> set[str]:
        """Store the events whose ``message_id`` is not stored yet; the message ids stored."""
        ...

    def enqueue(self, contact_ids: Iterable[int], now: datetime) -> None:
        """Queue the contacts for the worker (a contact already queued stays as it is)."""
        ...

    def alias_owners(self, kind: str, values: Sequence[str]) -> dict[str, int]:
        """``{value: contact id}`` of the aliases of ``kind`` (``anonymous_id``, ``user_id``...)
        whose value is one of ``values``."""
        ...

    def add_identified(self, field: str, values: Sequence[str], now: datetime) -> dict[str, int]:
        """A new contact per value of ``field`` (values looked up as unknown), in bulk.

        A value another writer took meanwhile is skipped; ``{value: id}`` of the contacts created
        by this call (the caller records their creation)."""
        ...

    def add_anonymous(self, anonymous_ids: Sequence[str], now: datetime) -> dict[str, int]:
        """A new anonymous contact with its ``anonymous_id`` alias per id (ids looked up as
        unknown), in bulk; ``{id: owner}``, the owner being another writer's contact where it
        created the alias first (then this call's contact is not kept)."""
        ...

    def add_aliases(self, kind: str, owners: Mapping[str, int], now: datetime) -> None:
        """The aliases ``{value: contact id}`` of ``kind``; a value already owned keeps its owner."""
        ...


class IngestUnitOfWork(ContactsUnitOfWork, Protocol):
    """What an ingest request touches: the contacts use cases' repositories and the bulk path."""

    @property
    def event_ingest(self) -> EventIngest: ...


#: what an import row is compared with: contact rows (the columns of ``contacts``) by id, their
#: tags, and their consent status by (contact id, channel)
StoredContacts = tuple[dict[int, Mapping[str, Any]], dict[int, set[str]], dict[tuple[int, str], str]]


class ContactImport(ContactIdentifiers, Protocol):
    """A CSV import chunk's reads and bulk writes (rows of new contacts, their tags and consents)."""

    def stored(self, contact_ids: Sequence[int]) -> StoredContacts:
        """The stored state of these contacts (unknown ids left out), in three queries."""
        ...

    def insert_contacts(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """New contacts (the columns of ``contacts``, no id); their ids in the order of ``rows``."""
        ...

    def insert_tags(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Rows of ``contact_tags`` (``contact_id``, ``tag``, ``created_at``) of new contacts."""
        ...

    def insert_consents(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Rows of ``consents`` (every column but ``paused_until``) of new contacts."""
        ...

    def add_suppressions(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Email suppressions (``address``, ``reason``, ``detail``, ``created_at``) not stored yet;
        how many were added (an address already suppressed keeps its first reason)."""
        ...


class ImportUnitOfWork(ContactsUnitOfWork, Protocol):
    """What a CSV import chunk touches."""

    @property
    def contact_import(self) -> ContactImport: ...


class ImportStore(Protocol):
    def __call__(self, *, read_only: bool = False) -> ImportUnitOfWork:
        """A fresh unit of work (``read_only``: a dry run's reads)."""
        ...
