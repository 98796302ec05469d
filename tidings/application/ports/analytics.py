"""The analytics capability's repository: rollup rows, first-seen markers and report reads.

``tidings.store.analytics.SqlAnalytics`` implements it on one connection (the caller's
transaction): the worker's hook feeds it in the transaction that processes the events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, Protocol

import sqlalchemy as sa

from tidings.domain.analytics.metrics import DIMENSIONS

__all__ = ["DIMENSIONS", "AnalyticsFactory", "AnalyticsRepository"]


class AnalyticsRepository(Protocol):
    # feeding
    def messages(self, ids: Sequence[int]) -> dict[int, Mapping[str, Any]]: ...
    def journey_ids(self, keys: Sequence[str]) -> dict[str, int]: ...
    def enrollment_versions(self, ids: Sequence[int]) -> dict[int, int]: ...
    def claim_firsts(self, pairs: Sequence[tuple[int, str]]) -> set[tuple[int, str]]: ...
    def add_rollups(self, rows: Sequence[Mapping[str, Any]]) -> None: ...

    # backfill
    def reset(self) -> None: ...
    def count_processed_events(self, names: Sequence[str]) -> int: ...
    def processed_events(self, names: Sequence[str], after_id: int, limit: int) -> list[dict[str, Any]]: ...

    # reads
    def journey(self, key: str) -> Mapping[str, Any] | None: ...
    def sums(
        self, where: Mapping[str, Any], start: date | None, end: date | None, group_by: Sequence[str]
    ) -> list[dict[str, Any]]: ...
    def conversions(self, where: Mapping[str, Any], start: date | None, end: date | None) -> list[dict[str, Any]]: ...
    def human_clicks(self, contact_ids: Sequence[int]) -> list[dict[str, Any]]: ...


AnalyticsFactory = Callable[[sa.Connection], AnalyticsRepository]
