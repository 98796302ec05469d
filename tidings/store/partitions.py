"""Monthly partitions of ``events`` and ``traces`` on PostgreSQL (docs/scale-out.md, "Growth on
PostgreSQL").

Migration 0022 makes both tables ``PARTITION BY RANGE`` on their time column (``events``:
``occurred_at``, ``traces``: ``at``): one partition per calendar month (UTC), named
``events_y2026m03``, and a DEFAULT partition (``events_default``) that takes what no month
partition covers (old backdated imports, far-future times), so an insert never fails for want of
a partition. ``ensure_partitions`` creates the current month's and the next ``months_ahead``
months' partitions; it runs in the migration, when the worker starts and daily in the worker
(``tidings.worker.PartitionMaintainer``), and on demand (``tidings partitions ensure``).
Retention drops whole months (``droppable_partitions`` + ``drop_partition``: DETACH then DROP,
instant) and deletes the rest row by row. SQLite has no partitions: every function here is a
no-op there (``partitioned`` is False).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

#: the partitioned tables and their partition key
PARTITION_KEYS = {"events": "occurred_at", "traces": "at"}
MONTHS_AHEAD = 3
_MONTH_NAME = re.compile(r"^(events|traces)_y(\d{4})m(\d{2})$")


@dataclass(frozen=True)
class Partition:
    """One partition: its table, name, and month (None for the DEFAULT partition)."""

    table: str
    name: str
    month: tuple[int, int] | None
    #: the planner's row estimate (pg_class.reltuples; -1 before the first ANALYZE)
    rows_estimate: int


def month_name(table: str, year: int, month: int) -> str:
    return f"{table}_y{year:04d}m{month:02d}"


def default_name(table: str) -> str:
    return f"{table}_default"


def next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def month_start(year: int, month: int) -> datetime:
    """The first instant of a month, naive UTC (how UTCDateTime stores timestamps)."""
    return datetime(year, month, 1)


def months_from(now: datetime, count: int) -> list[tuple[int, int]]:
    """``now``'s month (UTC) and the ``count`` months after it."""
    utc = now.astimezone(UTC) if now.tzinfo is not None else now
    ym = (utc.year, utc.month)
    out = [ym]
    for _ in range(count):
        ym = next_month(*ym)
        out.append(ym)
    return out


def partitioned(conn: sa.Connection, table: str) -> bool:
    """Whether ``table`` (in the current schema) is a partitioned table."""
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(
        sa.text(
            "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relname = :t"
        ),
        {"t": table},
    ).scalar()
    return kind == "p"


def list_partitions(conn: sa.Connection) -> list[Partition]:
    """Every partition of the partitioned tables, months in order, DEFAULT last per table."""
    if conn.dialect.name != "postgresql":
        return []
    rows = conn.execute(
        sa.text(
            "SELECT p.relname AS parent, c.relname AS name, c.reltuples AS est"
            " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"
            " JOIN pg_namespace n ON n.oid = p.relnamespace"
            " WHERE n.nspname = current_schema() AND p.relname IN ('events', 'traces') AND p.relkind = 'p'"
        )
    ).all()
    out: list[Partition] = []
    for parent, name, est in rows:
        m = _MONTH_NAME.match(name)
        month = (int(m.group(2)), int(m.group(3))) if m and m.group(1) == parent else None
        out.append(Partition(str(parent), str(name), month, int(est)))
    return sorted(out, key=lambda p: (p.table, p.month is None, p.month or (0, 0), p.name))


def create_month(conn: sa.Connection, table: str, year: int, month: int) -> bool:
    """Create one month's partition if missing; True when created.

    Rows of that month already in the DEFAULT partition (PostgreSQL refuses a new partition that
    the DEFAULT holds rows for) are moved into it in the same transaction: the partition is built
    detached, filled from the DEFAULT, then attached.
    """
    name = month_name(table, year, month)
    exists = conn.execute(
        sa.text("SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relname = :n"),
        {"n": name},
    ).first()
    if exists:
        return False
    key = PARTITION_KEYS[table]
    lo, hi = month_start(year, month), month_start(*next_month(year, month))
    bounds = f"FOR VALUES FROM ('{lo.isoformat(sep=' ')}') TO ('{hi.isoformat(sep=' ')}')"
    default = default_name(table)
    in_default = conn.execute(
        sa.text(f'SELECT 1 FROM "{default}" WHERE {key} >= :lo AND {key} < :hi LIMIT 1'), {"lo": lo, "hi": hi}
    ).first()
    if not in_default:
        conn.exec_driver_sql(f'CREATE TABLE "{name}" PARTITION OF "{table}" {bounds}')
        return True
    conn.exec_driver_sql(f'CREATE TABLE "{name}" (LIKE "{table}" INCLUDING DEFAULTS)')
    conn.execute(
        sa.text(
            f'WITH moved AS (DELETE FROM "{default}" WHERE {key} >= :lo AND {key} < :hi RETURNING *)'
            f' INSERT INTO "{name}" SELECT * FROM moved'
        ),
        {"lo": lo, "hi": hi},
    )
    conn.exec_driver_sql(f'ALTER TABLE "{table}" ATTACH PARTITION "{name}" {bounds}')
    return True


def ensure_partitions(conn: sa.Connection, now: datetime, months_ahead: int = MONTHS_AHEAD) -> list[str]:
    """Create the partitions of ``now``'s month and the next ``months_ahead`` months of every
    partitioned table (and its DEFAULT partition if missing); returns the names created."""
    created: list[str] = []
    for table in PARTITION_KEYS:
        if not partitioned(conn, table):
            continue
        default = default_name(table)
        if not conn.execute(sa.text("SELECT to_regclass(:n)"), {"n": default}).scalar():
            conn.exec_driver_sql(f'CREATE TABLE "{default}" PARTITION OF "{table}" DEFAULT')
            created.append(default)
        for year, month in months_from(now, months_ahead):
            if create_month(conn, table, year, month):
                created.append(month_name(table, year, month))
    return created


def months_before(conn: sa.Connection, table: str, cutoff: datetime) -> list[Partition]:
    """The month partitions of ``table`` that end at or before ``cutoff`` (every row older)."""
    limit = cutoff.astimezone(UTC).replace(tzinfo=None) if cutoff.tzinfo is not None else cutoff
    return [
        p
        for p in list_partitions(conn)
        if p.table == table and p.month is not None and month_start(*next_month(*p.month)) <= limit
    ]


def drop_partition(conn: sa.Connection, table: str, name: str) -> int:
    """DETACH and DROP one month partition of ``table``; returns the rows it held."""
    if not _MONTH_NAME.match(name) or not name.startswith(table + "_"):
        raise ValueError(f"{name!r} is not a month partition of {table}")
    rows = int(conn.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one())
    conn.exec_driver_sql(f'ALTER TABLE "{table}" DETACH PARTITION "{name}"')
    conn.exec_driver_sql(f'DROP TABLE "{name}"')
    return rows


def row_count(conn: sa.Connection, name: str) -> int:
    """How many rows one partition holds."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one())

