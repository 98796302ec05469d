"""Shared fixtures.

Backends: integration tests run on a fresh SQLite file per test, and on PostgreSQL as well
when ``TIDINGS_TEST_DATABASE_URL`` is set (each test run gets its own schema, truncated between
tests). Use the ``engine`` fixture for "whatever backend this run targets", ``db_url`` for a
URL a subprocess can open.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tidings.bootstrap import Container, build
from tidings.clock import ManualClock
from tidings.settings import Settings
from tidings.store import schema
from tidings.store.db import create_engine, normalise_url
from tidings.store.migrate import upgrade

PG_URL = os.environ.get("TIDINGS_TEST_DATABASE_URL")
ARTIFACTS = Path(os.environ.get("TIDINGS_TEST_ARTIFACTS", "test-artifacts"))


#: the integration modules run against the Citus cluster (``-m citus``, .ci/run; docs/scale-out.md):
#: the worker, segments, ingest, journeys and delivery
CITUS_SUITE = frozenset(
    {
        "test_worker_engine.py",
        "test_worker_batch.py",
        "test_queue_race.py",
        "test_segments_service.py",
        "test_segments_api.py",
        "test_segments_follow_identify.py",
        "test_events_api.py",
        "test_contacts_identity.py",
        "test_contacts_api.py",
        "test_concurrent_creates.py",
        "test_journeys_api_lifecycle.py",
        "test_journey_pause_hold.py",
        "test_delivery_loop.py",
        "test_delivery_handoff.py",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in CITUS_SUITE and item.path.parent.name == "integration":
            item.add_marker(pytest.mark.citus)


def _check_citus_layout(engine: sa.Engine) -> None:
    """On a Citus coordinator the migrations must have distributed the tables (migration 0023)."""
    with engine.connect() as conn:
        if conn.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'citus'").first() is None:
            return
        sharded = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid "
            "WHERE p.partmethod = 'h' AND c.relnamespace = current_schema()::regnamespace"
        ).scalar_one()
        assert sharded > 0, "a Citus coordinator, but migration 0023 distributed no table"


def backends() -> list[str]:
    """The backend of this run: CI runs the suite once on SQLite and once on PostgreSQL."""
    return ["postgres"] if PG_URL else ["sqlite"]


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str | None]:
    """A private PostgreSQL schema for this test session, migrated once."""
    if not PG_URL:
        yield None
        return
    name = f"t_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    eng = create_engine(PG_URL, schema=name)
    upgrade(eng)
    _check_citus_layout(eng)
    eng.dispose()
    yield name
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    admin.dispose()


def pg_url_with_schema(schema_name: str) -> str:
    assert PG_URL
    url = normalise_url(PG_URL)
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema_name}"


@pytest.fixture(params=backends())
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_schema: str | None) -> Iterator[str]:
    """A migrated, empty database on each backend this run targets."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tidings.db'}"
        eng = create_engine(url)
        upgrade(eng)
        eng.dispose()
        yield url
        return
    assert pg_schema
    eng = create_engine(PG_URL, schema=pg_schema)  # type: ignore[arg-type]
    with eng.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in schema.metadata.sorted_tables)
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    eng.dispose()
    yield pg_url_with_schema(pg_schema)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = create_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def container(engine: sa.Engine, db_url: str, clock: ManualClock) -> Container:
    settings = Settings(database_url=db_url, secret_key="test-secret-key", test_clock=True,
                        public_url="http://testserver")
    return build(settings, clock=clock, engine=engine)


@pytest.fixture
def admin_key(container: Container) -> str:
    from tidings.application.access.keys import create_key

    _, secret = create_key(container.uow(), "test admin", ["admin"], container.clock.now())
    return secret


@pytest.fixture
def api(container: Container, admin_key: str) -> Iterator[object]:
    """A FastAPI TestClient authenticated as admin (in-process; e2e tests use live_server)."""
    from fastapi.testclient import TestClient

    from tidings.server import create_app

    with TestClient(create_app(container), headers={"Authorization": f"Bearer {admin_key}"}) as client:
        yield client


def wait_for_http(proc: subprocess.Popen[bytes], base: str, log: Path, timeout: float = 60) -> None:
    """Until ``base``/healthz answers 200; fails with the server's log if it exits or never does."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "server did not start: " + log.read_text()
        time.sleep(0.2)


def interrupt(*procs: subprocess.Popen[bytes]) -> None:
    """Ctrl-C each process, wait for it to stop (killed after 30 s)."""
    import signal

    for proc in procs:
        proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """`create_app` served by a real uvicorn on a free loopback port, in a thread."""

    def __init__(self, container: Container) -> None:
        import uvicorn

        from tidings.server import create_app

        self.container = container
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(container), host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("live server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(container: Container) -> Iterator[LiveServer]:
    server = LiveServer(container).start()
    yield server
    server.stop()


class LiveStack(LiveServer):
    """A live server plus everything `tidings serve` runs beside it: worker, delivery, SMTP catcher."""

    def __init__(self, container: Container) -> None:
        super().__init__(container)
        self.services: list[object] = []

    def start(self) -> LiveStack:
        from tidings.runtime import background_services, start_all

        self.services = background_services(self.container, worker=True, catcher=True)  # type: ignore[assignment]
        start_all(self.services)  # type: ignore[arg-type]
        super().start()
        return self

    def stop(self) -> None:
        from tidings.runtime import stop_all

        super().stop()
        stop_all(self.services)  # type: ignore[arg-type]


@pytest.fixture
def live_stack(engine: sa.Engine, db_url: str, clock: ManualClock) -> Iterator[LiveStack]:
    """The whole product on a test clock: API on a free port, worker, delivery, catcher on a free port."""
    port = free_port()
    catcher_port = free_port()
    while catcher_port == port:
        catcher_port = free_port()
    settings = Settings(database_url=db_url, secret_key="test-secret-key", test_clock=True,
                        catcher_port=catcher_port, public_url=f"http://127.0.0.1:{port}")
    container = build(settings, clock=clock, engine=engine)
    stack = LiveStack(container)
    stack.port = port
    stack.url = f"http://127.0.0.1:{port}"
    import uvicorn

    from tidings.server import create_app

    stack.server = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=port,
                                                 log_level="warning", access_log=False))
    stack.thread = threading.Thread(target=stack.server.run, daemon=True)
    stack.start()
    yield stack
    stack.stop()
