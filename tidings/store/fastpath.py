"""The engine's hot path in plain DB-API: bulk writes and reads of a transition batch.

Profiling the timer path showed SQLAlchemy's per-row parameter processing (JSON, datetimes,
``insertmanyvalues`` with RETURNING) costing more than the state machine itself. These
functions run on the *same* connection and transaction (``conn.connection``), with JSON
serialised once by orjson and ids allocated up front (so traces and outbox rows point at each
other without a second pass):

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

TRACE_COLS = (
    "id",
    "contact_id",
    "enrollment_id",
    "journey_id",
    "journey_version",
    "step_id",
    "stimulus",
    "action",
    "detail",
    "outbox_id",
    "at",
)
OUTBOX_COLS = (
    "id",
    "contact_id",
    "idempotency_key",
    "kind",
    "channel",
    "category",
    "template",
    "journey_id",
    "journey_version",
    "enrollment_id",
    "step_id",
    "trace_id",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "recipient",
    "created_at",
)
TIMER_COLS = ("contact_id", "enrollment_id", "kind", "due_at", "payload")
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


class Fast:
    """Raw bulk operations on one SQLAlchemy connection's DB-API connection."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
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

    def _executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> int:
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

    def lock_contacts(self, ids: Sequence[int]) -> None:
        if ids and self.pg:
            self.fetch("SELECT id FROM contacts WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (sorted(set(ids)),))

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

    def delete_timers(self, ids: Sequence[int], enrollment_ids: Sequence[int]) -> None:
        """Fired timers and the timers of enrolments whose wait was cancelled, in one statement."""
        if not ids and not enrollment_ids:
            return
        conds, params = [], ()
        if ids:
            where, p = self.in_("id", ids)
            conds.append(where)
            params += p
        if enrollment_ids:
            where, p = self.in_("enrollment_id", enrollment_ids)
            conds.append(where)
            params += p
        self.run(f"DELETE FROM timers WHERE {' OR '.join(conds)}", params)

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
                    + (f" ON CONFLICT ({on_conflict}) DO NOTHING" if on_conflict else ""),
                    [list(col) for col in columns],
                )
                return int(cur.rowcount)
            finally:
                cur.close()
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({self._placeholders(cols)})"
        if on_conflict:
            sql += f" ON CONFLICT ({on_conflict}) DO NOTHING"
        return self._executemany(sql, self._rows(cols, rows))

    def update_enrollments(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        if self.pg:  # one statement over arrays instead of one per row
            cur = self.dbapi.cursor()
            try:
                cur.execute(
                    "UPDATE enrollments AS e SET status = v.status, end_reason = v.end_reason, "
                    "step_id = v.step_id, state = v.state::jsonb, updated_at = v.updated_at, "
                    "ended_at = v.ended_at, version = v.version "
                    "FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[], "
                    "%b::timestamp[], %b::timestamp[], %b::int[]) "
                    "AS v(id, status, end_reason, step_id, state, updated_at, ended_at, version) "
                    "WHERE e.id = v.id",
                    (
                        [r["_id"] for r in rows],
                        [r["status"] for r in rows],
                        [r["end_reason"] for r in rows],
                        [r["step_id"] for r in rows],
                        [self.j(r["state"]) for r in rows],
                        [self.t(r["updated_at"]) for r in rows],
                        [self.t(r["ended_at"]) for r in rows],
                        [r["version"] for r in rows],
                    ),
                )
            finally:
                cur.close()
            return
        ph = self.ph
        js = f"{ph}::jsonb" if self.pg else ph
        sql = (
            f"UPDATE enrollments SET status = {ph}, end_reason = {ph}, step_id = {ph}, state = {js}, "
            f"updated_at = {ph}, ended_at = {ph}, version = {ph} WHERE id = {ph}"
        )
        self._executemany(
            sql,
            [
                (
                    r["status"],
                    r["end_reason"],
                    r["step_id"],
                    self.j(r["state"]),
                    self.t(r["updated_at"]),
                    self.t(r["ended_at"]),
                    r["version"],
                    r["_id"],
                )
                for r in rows
            ],
        )

    def existing_outbox(self, keys: Sequence[str]) -> dict[str, int]:
        cur = self.dbapi.cursor()
        try:
            where, params = self.in_("idempotency_key", keys)
            cur.execute(f"SELECT idempotency_key, id FROM outbox WHERE {where}", params)
            return {str(k): int(i) for k, i in cur.fetchall()}
        finally:
            cur.close()

    # ----------------------------------------------------------------- reads

    def enrollments(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        if not ids:
            return []
        cur = self.dbapi.cursor()
        try:
            where, params = self.in_("id", ids)
            cur.execute(f"SELECT id, contact_id, journey_id, version, state FROM enrollments WHERE {where}", params)
            rows = cur.fetchall()
        finally:
            cur.close()
        return [
            {
                "id": r[0],
                "contact_id": r[1],
                "journey_id": r[2],
                "version": r[3],
                "state": self.parse_json(r[4]),
            }
            for r in rows
        ]

    def due_timers(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """``claim_due_timers`` without SQLAlchemy's row processing (same query, same locks)."""
        lock = " FOR UPDATE SKIP LOCKED" if self.pg else ""
        cur = self.dbapi.cursor()
        try:
            cur.execute(
                "SELECT id, contact_id, enrollment_id, kind, due_at, payload FROM timers "
                f"WHERE due_at <= {self.ph} ORDER BY due_at LIMIT {int(limit)}{lock}",
                (self.t(now),),
            )
            rows = cur.fetchall()
        finally:
            cur.close()
        return [
            {
                "id": r[0],
                "contact_id": r[1],
                "enrollment_id": r[2],
                "kind": r[3],
                "due_at": self.parse_time(r[4]),
                "payload": self.parse_json(r[5]),
            }
            for r in rows
        ]

    def contacts(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        cols = ("id", "email", "phone", "external_id", "first_name", "last_name", "timezone", "locale",
                "lifecycle_stage", "owner", "score", "created_at", "attributes")  # fmt: skip
        if not ids:
            return []
        cur = self.dbapi.cursor()
        try:
            where, params = self.in_("id", ids)
            cur.execute(f"SELECT {', '.join(cols)} FROM contacts WHERE {where}", params)
            rows = cur.fetchall()
        finally:
            cur.close()
        out = []
        for r in rows:
            d = dict(zip(cols, r, strict=True))
            d["created_at"] = self.parse_time(d["created_at"])
            d["attributes"] = self.parse_json(d["attributes"]) or {}
            out.append(d)
        return out
