"""Ports of the journeys capability: journey documents and their immutable versions.

A journey row is the mutable head (``id``, ``key``, ``name``, ``status``, ``current_version``,
``draft_source``, ``created_at``, ``updated_at``); a version row (``journey_id``, ``version``,
``document``, ``source``, ``checksum``, ``published_at``, ``published_by``) is never changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from tidings.application.ports.content import TemplateRepository
from tidings.application.ports.uow import UnitOfWork


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


class JourneysUnitOfWork(UnitOfWork, Protocol):
    journeys: JourneyRepository
    templates: TemplateRepository
