"""Recording contact changes as events, in the change's own transaction.

The event vocabulary (names and shapes) and the row builder live in ``tidings.domain.changes``;
this module is what use cases call to record them, through the event log of their unit of work.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tidings.application.ports.sales import EventLog
from tidings.domain.changes import change_event, new_message_id

__all__ = ["change_event", "new_message_id", "record"]


def record(events: EventLog, rows: Iterable[dict[str, Any]], now: datetime) -> None:
    """Append change events and enqueue their contacts (one round trip each)."""
    events.append_changes(list(rows), now)
