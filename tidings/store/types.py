"""Column types that mean the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timestamps stored as naive UTC, returned timezone-aware (UTC).

    SQLite has no time zones, so every timestamp is normalised to UTC on the way in; the
    same ISO ordering then holds on both backends, which the rule compiler relies on.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected datetime, got {type(value).__name__}")
        if value.tzinfo is not None:
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        # raw SQLite text (e.g. from an aggregate) or the driver's datetime
        stored = datetime.fromisoformat(value) if isinstance(value, str) else value
        if not isinstance(stored, datetime):
            raise TypeError(f"expected a stored datetime, got {type(value).__name__}")
        return stored.replace(tzinfo=UTC)


#: JSON documents: JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
JSONDoc = sa.JSON().with_variant(JSONB(), "postgresql")

#: 64-bit ids that still autoincrement on SQLite (where only INTEGER PRIMARY KEY does).
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
