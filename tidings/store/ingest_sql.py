"""The ingest hot path's SQL: many events and queue rows in one round trip.

Values are serialised once here (orjson for JSON; timestamps as UTCDateTime stores them), which
is several times faster than SQLAlchemy's per-value type processing. SQLite: the driver's
``executemany``. PostgreSQL: one ``unnest`` statement per 1,000 rows. Both are idempotent on
``message_id`` through ``event_receipts`` (one row per accepted message id, written in the same
transaction; on PostgreSQL ``events`` is partitioned by month and cannot hold a unique
``message_id``, docs/scale-out.md).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import orjson
import sqlalchemy as sa

from tidings.domain.snapshot import PROFILE_FIELDS
from tidings.store import schema
from tidings.store.db import SQLITE_WRITE_WAIT_S, sqlite_write_polling
from tidings.store.queue import enqueue_contacts
from tidings.store.types import UTCDateTime

E = schema.events
RECEIPTS = schema.event_receipts
#: how long an ingest waits for SQLite's write lock (the engine's busy timeout, store/db.py)
WRITE_LOCK_WAIT_S = SQLITE_WRITE_WAIT_S
#: how often it retries meanwhile
POLL_S = 0.0005
_COLUMNS = ("contact_id", "name", "properties", "occurred_at", "received_at", "message_id", "source", "value")
_SQLITE_INSERT = (
    f"INSERT INTO {E.name} (id, {', '.join(_COLUMNS)}) VALUES ({', '.join('?' * (len(_COLUMNS) + 1))}) "
    "ON CONFLICT (message_id) DO NOTHING"
)
_SQLITE_RECEIPT = (
    f"INSERT INTO {RECEIPTS.name} (message_id, event_id, received_at) VALUES (?, ?, ?) "
    "ON CONFLICT (message_id) DO NOTHING"
)
_SQLITE_QUEUE = (
    f"INSERT INTO {schema.contact_queue.name} (contact_id, queued_at) VALUES (?, ?) ON CONFLICT (contact_id) DO NOTHING"
)


def sqlite_time(dt: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores (naive UTC, microseconds always present)."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.isoformat(sep=" ", timespec="microseconds")


def existing_message_ids(conn: sa.Connection, message_ids: Sequence[str]) -> set[str]:
    if not message_ids:
        return set()
    return set(conn.execute(sa.select(E.c.message_id).where(E.c.message_id.in_(message_ids))).scalars())


def insert_events(conn: sa.Connection, rows: Sequence[Mapping[str, Any]], *, known_new: bool = False) -> set[str]:
    """Insert events, skipping message ids already stored; returns the message ids inserted.

    ``known_new``: the ids were generated here (change events), so nothing is looked up.
    """
    if not rows:
        return set()
    if conn.dialect.name == "sqlite":
        # Writers are serialised on SQLite (BEGIN IMMEDIATE), so what is not there now is ours.
        have = set() if known_new else existing_message_ids(conn, [r["message_id"] for r in rows])
        new = [r for r in rows if r["message_id"] not in have]
        times: dict[datetime, str] = {}  # a batch shares few distinct timestamps: format each once

        def ts(dt: datetime) -> str:
            text = times.get(dt)
            if text is None:
                text = times[dt] = sqlite_time(dt)
            return text

        # ids are assigned here (max + 1 ...), safe because the transaction holds the write lock:
        # the receipts name them
        start = int(conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {E.name}").scalar_one()) + 1
        params = [
            (
                start + i,
                r["contact_id"],
                r["name"],
                orjson.dumps(r["properties"]).decode(),
                ts(r["occurred_at"]),
                ts(r["received_at"]),
                r["message_id"],
                r["source"],
                r["value"],
            )
            for i, r in enumerate(new)
        ]
        if params:
            conn.exec_driver_sql(_SQLITE_INSERT, params)
            receipts = [(p[6], p[0], p[5]) for p in params if p[6] is not None]
            if receipts:
                conn.exec_driver_sql(_SQLITE_RECEIPT, receipts)
        return {r["message_id"] for r in new}
    return _pg_insert_events(conn, rows)


#: PostgreSQL: every row in one short statement, a column an array (``unnest``). psycopg parses a
#: statement's placeholders on every execution once it is longer than 4,096 characters; the
#: multi-row ``VALUES`` of 500 rows (4,000 placeholders) spent a third of the server's time there.
#: Each row takes its id from the events sequence; the receipts insert (``ON CONFLICT DO NOTHING``)
#: keeps the message ids not seen before, and only their events (and those without a message id)
#: are inserted: ``events`` is partitioned by month and holds no unique ``message_id``.
_COLS = ", ".join(_COLUMNS)
_PG_INSERT = (
    f"WITH v AS (SELECT nextval(pg_get_serial_sequence('{E.name}', 'id')) AS id, * "
    "FROM unnest(%s::bigint[], %s::text[], %s::text[]::jsonb[], %s::timestamp[], %s::timestamp[], "
    f"%s::text[], %s::text[], %s::float8[]) AS t ({_COLS})), "
    f"r AS (INSERT INTO {RECEIPTS.name} (message_id, event_id, received_at) "
    "SELECT message_id, id, received_at FROM v WHERE message_id IS NOT NULL "
    "ON CONFLICT (message_id) DO NOTHING RETURNING event_id) "
    f"INSERT INTO {E.name} (id, {_COLS}) SELECT id, {_COLS} FROM v "
    "WHERE message_id IS NULL OR id IN (SELECT event_id FROM r) RETURNING message_id"
)


def _pg_insert_events(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """One ``unnest`` statement (``_PG_INSERT``) per 1,000 rows, values serialised here (JSON by
    orjson, timestamps naive UTC as UTCDateTime stores them); the message ids inserted."""
    inserted: set[str] = set()
    for start in range(0, len(rows), 1000):
        part = rows[start : start + 1000]
        columns: tuple[list[Any], ...] = tuple([] for _ in _COLUMNS)
        cid, name, props, occurred, received, mid, source, value = columns
        for r in part:
            cid.append(r["contact_id"])
            name.append(r["name"])
            props.append(orjson.dumps(r["properties"]).decode())
            occurred.append(_naive_utc(r["occurred_at"]))
            received.append(_naive_utc(r["received_at"]))
            mid.append(r["message_id"])
            source.append(r["source"])
            value.append(r["value"])
        inserted.update(row[0] for row in conn.exec_driver_sql(_PG_INSERT, columns))
    return inserted


def _naive_utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo is not None else dt


def enqueue(conn: sa.Connection, contact_ids: Iterable[int], now: datetime) -> None:
    """store.queue.enqueue_contacts, with the SQLite fast path."""
    if conn.dialect.name != "sqlite":
        enqueue_contacts(conn, contact_ids, now)
        return
    ts = sqlite_time(now)
    params = [(cid, ts) for cid in sorted(set(contact_ids))]
    if params:
        conn.exec_driver_sql(_SQLITE_QUEUE, params)


T = TypeVar("T")


class _Job(Generic[T]):
    """One caller's work for IngestWriter.run, and what became of it."""

    __slots__ = ("fn", "result", "error", "done")

    def __init__(self, fn: Callable[[sa.Connection], T]) -> None:
        self.fn = fn
        self.result: T | None = None
        self.error: BaseException | None = None
        self.done = False


class IngestWriter:
    """Where ingest transactions run.

    SQLite has one writer at a time, so this process's ingest requests queue on a lock (which
    wakes the next one at once, unlike SQLite's sleeping busy handler; the requests that queued
    meanwhile commit together, see ``run``) and share one connection,
    whose page cache stays warm (SQLite drops a connection's cache when another connection has
    written, so rotating through a pool re-reads the events indexes on every batch). That
    connection checkpoints the WAL every 10,000 pages instead of 1,000: an index page rewritten
    by many batches is copied back once. On PostgreSQL each request takes a pooled connection.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.lock = threading.Lock()
        self.conn: sa.Connection | None = None
        self._pending: list[_Job[Any]] = []
        self._pending_lock = threading.Lock()

    def run(self, fn: Callable[[sa.Connection], T]) -> T:
        """``fn(conn)`` in a write transaction; returns once that transaction has committed.

        SQLite (group commit): the requests that queued for the writer while another held it
        run together in one transaction, each in its own savepoint. A request that raises is
        rolled back to its savepoint alone and gets its exception; the others are kept. Every
        caller returns (or raises) only after the shared ``COMMIT``, so accepted still means
        committed, and if the commit fails every request of the group fails. Why: the worker
        takes the write lock between two ingest transactions whenever it can, so with one
        transaction per request, requests and worker passes alternated one for one (each pass
        for a handful of contacts) and requests queued behind each other. One ``BEGIN`` /
        ``COMMIT`` and one wait for the lock now serve every request that is waiting.
        PostgreSQL: a pooled connection and a transaction per call (no single writer there).
        """
        if not self.sqlite:
            with self.engine.begin() as conn:
                return fn(conn)
        job: _Job[T] = _Job(fn)
        with self._pending_lock:
            self._pending.append(job)
        with self.lock:
            # Only a group leader holding the lock takes jobs off the list, and it finishes
            # them before it lets go: a job that is not done is still pending, so lead a group.
            if not job.done:
                with self._pending_lock:
                    group, self._pending = self._pending, []
                self._run_group(group)
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def _run_group(self, group: list[_Job[Any]]) -> None:
        try:
            conn = self._connection()
            with self._begin_polling(conn):
                for job in group:
                    try:
                        with conn.begin_nested():
                            job.result = job.fn(conn)
                    except Exception as exc:  # this request's error; the others go on
                        job.error = exc
        except BaseException as exc:  # BEGIN or COMMIT failed: nothing of the group is kept
            for job in group:
                if job.error is None:
                    job.error = exc
            if isinstance(exc, sa.exc.DBAPIError):
                self.close()
            if not isinstance(exc, Exception):
                raise
        finally:
            for job in group:
                job.done = True

    def _connection(self) -> sa.Connection:
        if self.conn is None or self.conn.closed or self.conn.invalidated:
            self.conn = self.engine.connect()
            self.conn.exec_driver_sql("PRAGMA wal_autocheckpoint=10000")
            self.conn.commit()
        return self.conn

    @contextlib.contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        if not self.sqlite:
            with self.engine.begin() as conn:
                yield conn
            return
        with self.lock:
            conn = self._connection()
            try:
                with self._begin_polling(conn):
                    yield conn
            except sa.exc.DBAPIError:
                self.close()
                raise

    def _begin_polling(self, conn: sa.Connection) -> contextlib.AbstractContextManager[sa.Connection]:
        """``BEGIN IMMEDIATE`` polled every ``POLL_S`` (``store.db.sqlite_write_polling``): waiting
        in the busy handler, an ingest lost the write lock to the worker again and again
        (profiled: ~40% of the time a request held this writer's lock went to ``BEGIN``)."""
        return sqlite_write_polling(conn, POLL_S, WRITE_LOCK_WAIT_S)

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None


#: the contacts table's columns: the profile fields (the one list) and what is not profile.
_CONTACT_COLUMNS = ("id", *PROFILE_FIELDS, "attributes", "anonymous", "created_at", "updated_at")


def insert_contacts(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert new contacts (bulk import); returns their ids in the order of ``rows``.

    SQLite: ids are assigned here (max + 1 ...), which is safe because the transaction holds
    the write lock, and rows go through the driver's executemany. PostgreSQL: one multi-row
    INSERT ... RETURNING in parameter order.
    """
    if not rows:
        return []
    c = schema.contacts
    if conn.dialect.name != "sqlite":
        return list(conn.execute(sa.insert(c).returning(c.c.id, sort_by_parameter_order=True), rows).scalars())
    start = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(c.c.id), 0))).scalar_one()) + 1
    ids = list(range(start, start + len(rows)))
    params = []
    for cid, r in zip(ids, rows, strict=True):
        values = {f: r.get(f) for f in PROFILE_FIELDS} | {
            "id": cid,
            "score": float(r.get("score") or 0.0),
            "attributes": orjson.dumps(r.get("attributes") or {}).decode(),
            "anonymous": 1 if r.get("anonymous") else 0,
            "created_at": sqlite_time(r["created_at"]),
            "updated_at": sqlite_time(r["updated_at"]),
        }
        params.append(tuple(values[col] for col in _CONTACT_COLUMNS))
    sql = f"INSERT INTO {c.name} ({', '.join(_CONTACT_COLUMNS)}) VALUES ({', '.join('?' * len(_CONTACT_COLUMNS))})"
    conn.exec_driver_sql(sql, params)
    return ids


def insert_plain(conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """A bulk insert of ``rows`` (all with the same keys); the driver's executemany on SQLite."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(sa.insert(table), rows)
        return
    cols = list(rows[0])
    convert: list[Callable[[Any], Any]] = []
    for name in cols:
        col = table.c[name]
        if isinstance(col.type, sa.JSON):
            convert.append(lambda v: None if v is None else orjson.dumps(v).decode())
        elif isinstance(col.type, UTCDateTime):
            convert.append(lambda v: None if v is None else sqlite_time(v))
        else:
            convert.append(lambda v: v)
    params = [tuple(f(r[n]) for f, n in zip(convert, cols, strict=True)) for r in rows]
    sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    conn.exec_driver_sql(sql, params)


def record_changes(conn: sa.Connection, rows: Iterable[dict[str, Any]], now: datetime) -> None:
    """Append change events (``domain.changes.change_event`` rows) and enqueue their contacts."""
    rows = list(rows)
    if not rows:
        return
    insert_events(conn, rows, known_new=True)
    enqueue(conn, (r["contact_id"] for r in rows), now)


def latest_received_at(conn: sa.Connection) -> datetime | None:
    """When the newest event was received; None when there is none."""
    value = conn.execute(sa.select(sa.func.max(schema.events.c.received_at))).scalar()
    return value if isinstance(value, datetime) else None


def insert_new_suppressions(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Email suppressions (``address``, ``reason``, ``detail``, ``created_at``) not yet stored; the
    number added (an address already suppressed keeps its first reason)."""
    s = schema.suppressions
    wanted = {r["address"]: r for r in rows}
    if not wanted:
        return 0
    have = set(
        conn.execute(sa.select(s.c.address).where(s.c.channel == "email", s.c.address.in_(list(wanted)))).scalars()
    )
    new = [{"channel": "email", **r} for a, r in wanted.items() if a not in have]
    if new:
        conn.execute(sa.insert(s), new)
    return len(new)
