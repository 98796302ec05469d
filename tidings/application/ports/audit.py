"""The audit's storage port: the read queries the audit, the name checks and the blast-radius
preview need. ``tidings.store.audit_sql`` implements it (the module itself is the adapter:
adapters pass it to the use cases)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from tidings.domain.snapshot import ContactSnapshot

#: (status, end_reason, entered_at, ended_at, key) of one earlier enrolment
PriorRow = tuple[str, str | None, datetime, datetime | None, str]


class AuditStore(Protocol):
    def tag_counts(self, conn: sa.Connection) -> dict[str, int]: ...

    def event_names(self, conn: sa.Connection) -> set[str]: ...

    def attribute_keys(self, conn: sa.Connection) -> set[str]: ...

    def segment_rules(self, conn: sa.Connection) -> dict[str, Any]: ...

    def template_keys(self, conn: sa.Connection) -> set[str]: ...

    def published_journeys(self, conn: sa.Connection) -> list[dict[str, Any]]: ...

    def enrolment_stats(self, conn: sa.Connection) -> dict[int, dict[str, Any]]: ...

    def revenue_by_journey(self, conn: sa.Connection) -> dict[str, float]: ...

    def sends_by_journey(self, conn: sa.Connection) -> dict[int, int]: ...

    def human_engagement_by_journey(self, conn: sa.Connection, since: datetime) -> dict[str, int]: ...

    def reached_steps(self, conn: sa.Connection, journey_ids: Collection[int]) -> dict[int, set[str]]: ...

    def active_overlaps(
        self, conn: sa.Connection, journey_ids: Collection[int]
    ) -> list[tuple[tuple[int, ...], int]]: ...

    def journey_row(self, conn: sa.Connection, key: str) -> dict[str, Any] | None: ...

    def ids_with_attribute(self, conn: sa.Connection, name: str) -> list[int]: ...

    def ids_with_event_since(self, conn: sa.Connection, name: str, since: datetime) -> list[int]: ...

    def snapshots(
        self, conn: sa.Connection, contact_ids: Sequence[int], events_since: datetime
    ) -> dict[int, ContactSnapshot]: ...

    def prior_enrolments(
        self, conn: sa.Connection, journey_id: int, contact_ids: Sequence[int]
    ) -> dict[int, list[PriorRow]]: ...

    def in_flight(self, conn: sa.Connection, journey_id: int) -> tuple[dict[str, int], int, list[datetime | None]]: ...
