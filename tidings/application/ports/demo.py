"""The demo history's storage port (implemented by ``store/demo_sql.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from tidings.domain.demo.history import DemoPlan


class DemoHistoryStore(Protocol):
    def seeded(self) -> bool:
        """True when the demo history was written already."""
        ...

    def published_journeys(self, keys: Sequence[str]) -> dict[str, tuple[int, int, str]]:
        """key -> (journey id, current version, that version's YAML source), for the active ones."""
        ...

    def write(self, plan: DemoPlan, journeys: Mapping[str, tuple[int, int]], now: datetime) -> list[dict[str, Any]]:
        """Write the plan (contacts, consents, processed events, final messages, enrolments, timers)
        and mark it seeded; returns the written engagement events (for the rollups)."""
        ...
