"""Recording contact changes as events, in the change's own transaction.

The event vocabulary (names and shapes) and the row builder live in ``tidings.domain.changes``;
this module is what use cases call to record them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.domain.changes import change_event, new_message_id
from tidings.store.ingest_sql import record_changes

__all__ = ["change_event", "new_message_id", "record"]


def record(conn: sa.Connection, rows: Iterable[dict[str, Any]], now: datetime) -> None:
    """Append change events and enqueue their contacts (one round trip each)."""
    record_changes(conn, rows, now)
