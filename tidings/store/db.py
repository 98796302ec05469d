"""Engines and connections for SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine as Engine  # re-exported: adapters outside store/ name it here

#: The handle of an open transaction, as adapters outside ``store/`` name it in type hints (the
#: web and the API import no SQLAlchemy: a lint-imports contract in pyproject.toml).
Connection = sa.Connection
#: Every error the database layer raises, as adapters outside ``store/`` catch it.
DatabaseError = sa.exc.SQLAlchemyError


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url if isinstance(engine_or_url, str) else str(engine_or_url.url)
    return url.startswith("sqlite")


def create_engine(url: str, *, schema: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine tuned for our workload.

    SQLite: WAL mode, ``synchronous=NORMAL`` (durable across application crashes), a busy
    timeout so the API and the in-process worker can share the file.
    PostgreSQL: a connection pool; ``schema`` puts every table in that schema (tests use it to
    isolate runs).
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=8,
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Take control of transactions so BEGIN IMMEDIATE works (see begin_write).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.execute("PRAGMA cache_size=-65536")
            # Checkpoint the WAL every 10,000 pages (40 MB), not SQLite's 1,000: the commit that
            # crosses the mark runs the checkpoint (copy + fsync) while it holds the write lock,
            # and an index page rewritten by many transactions is then copied back once. The
            # ingest writer used this alone; then the worker's commits ran every checkpoint.
            cur.execute("PRAGMA wal_autocheckpoint=10000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: sa.Connection) -> None:
            # Writers take the lock up front: no deadlock-prone lock upgrades under load.
            mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine

    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["options"] = f"-csearch_path={schema}"
    return sa.create_engine(
        url, pool_size=10, max_overflow=20, pool_pre_ping=True, connect_args=connect_args, **kwargs
    )


def read_only(conn: sa.Connection) -> sa.Connection:
    """Mark a connection's transactions as readers (SQLite: BEGIN DEFERRED)."""
    return conn.execution_options(sqlite_begin="DEFERRED")


@contextlib.contextmanager
def reader(engine: Engine) -> Iterator[sa.Connection]:
    """A connection of reader transactions (:func:`read_only`): it never waits for SQLite's write lock."""
    with engine.connect() as raw:
        yield read_only(raw)


#: how long a SQLite writer waits for the write lock before giving up (also its busy timeout).
SQLITE_WRITE_WAIT_S = 30.0


@contextlib.contextmanager
def sqlite_write_polling(
    conn: sa.Connection, poll_s: float, wait_s: float = SQLITE_WRITE_WAIT_S
) -> Iterator[sa.Connection]:
    """A write transaction (``BEGIN IMMEDIATE``) whose lock is taken by retrying every ``poll_s``.

    SQLite's busy handler sleeps up to 100 ms between tries, so a writer waiting in it loses the
    lock again and again to one that polls. The ingest writer and the worker both poll (with no
    busy timeout) and so take the lock as soon as it is free; the connection's busy timeout is
    restored before the transaction body runs.
    """
    dbapi = conn.connection.driver_connection
    assert dbapi is not None
    deadline = time.monotonic() + wait_s
    dbapi.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                tx = conn.begin()
                break
            except sa.exc.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                conn.rollback()
                time.sleep(poll_s)
    finally:
        dbapi.execute(f"PRAGMA busy_timeout={int(wait_s * 1000)}")
    with tx:
        yield conn
