"""Ports of templates (the content every channel renders) and of the contact data a preview reads.

Template rows are plain dicts with the columns of the ``templates`` table (``id``, ``key``,
``locale``, ``channel``, ``name``, ``subject``, ``body``, ``format``, ``text_body``, ``settings``,
``created_at``, ``updated_at``): the API and the web pages show them as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from tidings.application.ports.uow import UnitOfWork


class TemplateRepository(Protocol):
    def get(self, key: str, locale: str) -> dict[str, Any] | None: ...

    def variants(self, key: str, locales: Sequence[str]) -> list[dict[str, Any]]:
        """The variants of ``key`` whose locale is one of ``locales`` (any order)."""
        ...

    def upsert(self, key: str, locale: str, values: Mapping[str, Any]) -> None:
        """Create the (key, locale) variant with ``values`` (which carry ``updated_at``; a new
        row's ``created_at`` is its ``updated_at``) or replace those columns of the existing one."""
        ...

    def all(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Every variant (of one channel), by key then locale."""
        ...

    def delete(self, key: str, locale: str | None = None) -> int:
        """Delete one variant, or every variant of ``key`` when ``locale`` is None; the count."""
        ...

    def keys(self) -> set[str]:
        """The distinct template keys."""
        ...


class ContactReader(Protocol):
    def get(self, contact_id: int) -> dict[str, Any] | None:
        """The contact's row (columns of ``contacts``), or None."""
        ...

    def tags(self, contact_id: int) -> list[str]: ...

    def id_by(self, field: str, value: str) -> int | None:
        """The id of the contact whose identifier ``field`` (``email``, ``phone``,
        ``external_id``) is exactly ``value``, or None."""
        ...

    def any_contact(self) -> bool:
        """Is there at least one contact?"""
        ...

    def any_with_attribute(self, name: str) -> bool:
        """Does some contact hold the custom attribute ``name`` (any value, even null)?"""
        ...

    def events_page(
        self, contact_id: int, *, name: str | None, before: tuple[datetime, int] | None, limit: int
    ) -> list[dict[str, Any]]:
        """The contact's events newest first (by ``occurred_at`` then ``id``), at most ``limit``,
        only those named ``name`` when given, only those strictly before the ``(occurred_at,
        id)`` key ``before`` when given. Each has ``id``, ``name``, ``properties``,
        ``occurred_at``, ``received_at``, ``message_id``, ``source`` and ``value``."""
        ...


class TemplatesUnitOfWork(UnitOfWork, Protocol):
    @property
    def templates(self) -> TemplateRepository: ...

    @property
    def contacts(self) -> ContactReader: ...
