"""Bulk statements on the DB-API connection under a SQLAlchemy one: the engine's fast path.

Profiling the timer path showed SQLAlchemy's per-row parameter processing (JSON, datetimes,
``insertmanyvalues`` with RETURNING) costing more than the state machine itself. The engine's
repositories (``enrolments_sql.py``, ``bulk_snapshots.py``) run these on the *same* connection
and transaction (``conn.connection``), with JSON serialised once by orjson and ids allocated up
front (so traces and outbox rows point at each other without a second pass):

- SQLite: the caller holds the write lock (``BEGIN IMMEDIATE``), so ``max(id) + 1...`` is safe;
- PostgreSQL: ids come from the tables' sequences (``nextval`` for the whole batch at once).

Values are stored exactly as the SQLAlchemy types store them (``UTCDateTime``: naive UTC; SQLite
text ``YYYY-MM-DD HH:MM:SS.ffffff``), so the rest of the code reads them back unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import orjson
import sqlalchemy as sa

from tidings.store.citus import is_citus

#: from this many rows on, PostgreSQL inserts use COPY (more round trips, less work per row).
COPY_FROM = 300
#: PostgreSQL array element types for the unnest inserts.
PG_TYPES = {
    "id": "bigint", "contact_id": "bigint", "enrollment_id": "bigint", "journey_id": "bigint",
    "trace_id": "bigint", "outbox_id": "bigint", "journey_version": "int", "attempts": "int",
    "detail": "text", "payload": "text", "state": "text",
    "at": "timestamp", "next_attempt_at": "timestamp", "created_at": "timestamp", "due_at": "timestamp",
}  # fmt: skip
PG_TYPES.update({c: "text" for c in ("idempotency_key", "kind", "channel", "category", "template", "step_id",
                                     "stimulus", "action", "status", "recipient")})  # fmt: skip
JSON_COLS = {"detail", "payload", "state"}
TIME_COLS = {"at", "next_attempt_at", "created_at", "due_at", "updated_at", "ended_at"}


class BulkSql:
    """Raw bulk operations on one SQLAlchemy connection's DB-API connection."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.citus = is_citus(conn)
        self.ph = "%s" if self.pg else "?"
        self.dbapi: Any = conn.connection
        self._times: dict[datetime, Any] = {}
        if self.pg:
            from psycopg.types.json import set_json_loads

            set_json_loads(orjson.loads, self.dbapi.driver_connection)

    # ----------------------------------------------------------------- values

    def t(self, value: datetime | None) -> Any:
        if value is None:
            return None
        done = self._times.get(value)
        if done is None:
            naive = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value
            done = naive if self.pg else naive.isoformat(" ", "microseconds")
            self._times[value] = done
        return done

    @staticmethod
    def parse_time(value: Any) -> datetime | None:
        """A stored timestamp back to aware UTC (SQLite text or a naive PostgreSQL value)."""
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]

    @staticmethod
    def parse_json(value: Any) -> Any:
        return orjson.loads(value) if isinstance(value, str | bytes) else value

    @staticmethod
    def j(value: Any) -> str:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()

    def _rows(self, cols: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """Rows as tuples in ``cols`` order (every row has every column), JSON and times encoded."""
        j, t = self.j, self.t
        getter = itemgetter(*cols)
        jcols = [c for c in cols if c in JSON_COLS]
        tcols = [c for c in cols if c in TIME_COLS]
        out = []
        for r in rows:
            d = dict(r)
            for c in jcols:
                d[c] = j(d[c] or {})
            for c in tcols:
                d[c] = t(d[c])
            out.append(getter(d))
        return out

    def _placeholders(self, cols: Sequence[str]) -> str:
        return ", ".join(f"{self.ph}::jsonb" if self.pg and c in JSON_COLS else self.ph for c in cols)

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> int:
        cur = self.dbapi.cursor()
        try:
            cur.executemany(sql, rows)
            return int(cur.rowcount or 0)
        finally:
            cur.close()

    def in_(self, col: str, ids: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
        """``col IN (...)``: one array parameter on PostgreSQL (no per-length query parsing)."""
        if self.pg:
            return f"{col} = ANY(%s)", (list(ids),)
        return f"{col} IN ({', '.join('?' * len(ids))})", tuple(ids)

    def fetch(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        cur = self.dbapi.cursor()
        try:
            cur.execute(sql, params)
            return list(cur.fetchall())
        finally:
            cur.close()

    def run(self, sql: str, params: tuple[Any, ...]) -> None:
        cur = self.dbapi.cursor()
        try:
            cur.execute(sql, params)
        finally:
            cur.close()

    # ----------------------------------------------------------------- ids

    def allocate_many(self, counts: Mapping[str, int]) -> dict[str, list[int]]:
        """Ids for several tables in one round trip (PostgreSQL); ``{table: [ids]}``."""
        wanted = {t: n for t, n in counts.items() if n > 0}
        if not self.pg or len(wanted) < 2:
            return {t: self.allocate(t, n) for t, n in counts.items()}
        parts = ", ".join(
            f"(SELECT array_agg(nextval(pg_get_serial_sequence('{t}', 'id'))) FROM generate_series(1, {int(n)}))"
            for t, n in wanted.items()
        )
        row = self.fetch(f"SELECT {parts}", ())[0]
        out: dict[str, list[int]] = {t: [] for t in counts}
        for t, ids in zip(wanted, row, strict=True):
            out[t] = sorted(int(i) for i in ids)
        return out

    def allocate(self, table: str, n: int) -> list[int]:
        if n <= 0:
            return []
        cur = self.dbapi.cursor()
        try:
            if self.pg:
                cur.execute(
                    f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)",
                    (n,),
                )
                return sorted(int(r[0]) for r in cur.fetchall())
            cur.execute(f"SELECT max(id) FROM {table}")  # noqa: S608 - fixed table names
            start = int(cur.fetchone()[0] or 0) + 1  # what SQLite itself would give (no AUTOINCREMENT)
            return list(range(start, start + n))
        finally:
            cur.close()

    # ----------------------------------------------------------------- writes

    def insert(
        self,
        table: str,
        cols: Sequence[str],
        rows: Sequence[Mapping[str, Any]],
        on_conflict: str | None = None,
    ) -> int:
        if not rows:
            return 0
        if self.pg and not on_conflict and len(rows) >= COPY_FROM:  # COPY: fastest for big batches
            cur = self.dbapi.cursor()
            try:
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in self._rows(cols, rows):
                        copy.write_row(row)
            finally:
                cur.close()
            return len(rows)
        if self.pg:  # INSERT ... SELECT FROM unnest(arrays): one statement, binary parameters
            columns = list(zip(*self._rows(cols, rows), strict=True))
            arrays = ", ".join(f"%b::{PG_TYPES[c]}[]" for c in cols)
            select = ", ".join(f"v.{c}::jsonb" if c in JSON_COLS else f"v.{c}" for c in cols)
            cur = self.dbapi.cursor()
            try:
                cur.execute(
                    f"INSERT INTO {table} ({', '.join(cols)}) SELECT {select} FROM unnest({arrays}) "
                    f"AS v({', '.join(cols)})"
                    # no conflict target: on Citus the unique key also holds contact_id (migration 0023)
                    + (" ON CONFLICT DO NOTHING" if on_conflict else "")
                    # Citus reports every row of an INSERT ... SELECT as inserted: count what returns
                    + (" RETURNING 1" if on_conflict and self.citus else ""),
                    [list(col) for col in columns],
                )
                return len(cur.fetchall()) if on_conflict and self.citus else int(cur.rowcount)
            finally:
                cur.close()
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({self._placeholders(cols)})"
        if on_conflict:
            sql += f" ON CONFLICT ({on_conflict}) DO NOTHING"
        return self.executemany(sql, self._rows(cols, rows))
