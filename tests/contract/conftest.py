"""One contract suite for the storage ports, run on every adapter: memory, SQLite, PostgreSQL.

A test takes ``backend`` and opens units of work with ``backend.uow()``; the few things no port
writes (contacts, read back events) go through the backend's seeding helpers.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL
from tidings.store import schema
from tidings.store.db import create_engine
from tidings.store.delivery_loop_sql import SqlDeliveryReads
from tidings.store.engine_sql import SqlEngineContacts
from tidings.store.memory import MemoryStore, MemoryUnitOfWork
from tidings.store.memory.delivery_reads import MemoryDeliveryReads
from tidings.store.memory.engine_contacts import MemoryEngineContacts
from tidings.store.migrate import upgrade
from tidings.store.sql_uow import SqlUnitOfWork

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ENROLLMENT: dict[str, Any] = {
    "contact_id": 1,
    "journey_id": 1,
    "version": 1,
    "status": "waiting",
    "step_id": "wait",
    "state": {},
    "entered_at": NOW,
    "updated_at": NOW,
}
TRACE: dict[str, Any] = {"contact_id": 1, "stimulus": "event", "action": "entered", "detail": {}, "at": NOW}
OUTBOX: dict[str, Any] = {
    "contact_id": 1,
    "kind": "message",
    "payload": {},
    "status": "pending",
    "next_attempt_at": NOW,
    "created_at": NOW,
}
TIMER: dict[str, Any] = {"contact_id": 1, "enrollment_id": None, "kind": "wait", "due_at": NOW, "payload": {}}


class MemoryBackend:
    name = "memory"

    def __init__(self) -> None:
        self.store = MemoryStore()

    def uow(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.store)

    def engine_contacts(self, uow: MemoryUnitOfWork) -> MemoryEngineContacts:
        """The ``EngineContacts`` port on the open unit of work (the engine's store hands it out)."""
        return MemoryEngineContacts(uow.store)

    def delivery_reads(self, uow: MemoryUnitOfWork) -> MemoryDeliveryReads:
        """The ``DeliveryReads`` port on the open unit of work (the delivery loop hands it out)."""
        return MemoryDeliveryReads(uow.store)

    def add_contact(self, email: str, tags: list[str] | None = None, **values: Any) -> int:
        return self.store.add_contact(
            {"email": email, "attributes": {}, "created_at": NOW, "updated_at": NOW, **values}, tags
        )

    def events(self) -> list[tuple[int, str]]:
        return [(int(e["contact_id"]), str(e["name"])) for e in self.store.state.events]

    def add_event(
        self, contact_id: int, name: str, at: datetime, properties: dict[str, Any], value: float | None = None
    ) -> int:
        return self.store.add_event(
            {"contact_id": contact_id, "name": name, "occurred_at": at, "received_at": at, "properties": properties}
            | {"value": value}
        )

    def add_enrollment(self, **values: Any) -> int:
        return self.store.add_enrollment({**ENROLLMENT, **values})

    def add_trace(self, **values: Any) -> int:
        return self.store.add_trace({**TRACE, **values})

    def add_outbox(self, **values: Any) -> int:
        return self.store.add_outbox({**OUTBOX, **values})

    def add_timer(self, **values: Any) -> int:
        return self.store.add_timer({**TIMER, **values})

    def timers(self) -> dict[int, tuple[datetime, dict[str, Any]]]:
        return {i: (t["due_at"], t["payload"]) for i, t in self.store.state.timers.items()}

    def add_segment(self, key: str, rule: Any) -> None:
        self.store.state.segment_rules[key] = rule

    def traces(self) -> list[tuple[int, str, str]]:
        return [(int(t["enrollment_id"]), str(t["action"]), str(t["step_id"])) for t in self.store.state.traces]

    def queued(self) -> set[int]:
        return set(self.store.state.queued_contacts)


class SqlBackend:
    def __init__(self, name: str, engine: sa.Engine) -> None:
        self.name = name
        self.engine = engine

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def engine_contacts(self, uow: SqlUnitOfWork) -> SqlEngineContacts:
        return SqlEngineContacts(uow.connection)

    def delivery_reads(self, uow: SqlUnitOfWork) -> SqlDeliveryReads:
        return SqlDeliveryReads(uow.connection)

    def add_contact(self, email: str, tags: list[str] | None = None, **values: Any) -> int:
        with self.engine.begin() as conn:
            cid = conn.execute(
                sa.insert(schema.contacts)
                .values(**{"email": email, "attributes": {}, "created_at": NOW, "updated_at": NOW, **values})
                .returning(schema.contacts.c.id)
            ).scalar_one()
            for tag in tags or []:
                conn.execute(sa.insert(schema.contact_tags).values(contact_id=cid, tag=tag, created_at=NOW))
        return int(cid)

    def _insert(self, table: sa.Table, values: dict[str, Any]) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(sa.insert(table).values(**values).returning(table.c.id)).scalar_one())

    def add_event(
        self, contact_id: int, name: str, at: datetime, properties: dict[str, Any], value: float | None = None
    ) -> int:
        values = {"contact_id": contact_id, "name": name, "occurred_at": at, "received_at": at, "value": value}
        return self._insert(schema.events, values | {"properties": properties})

    def add_enrollment(self, **values: Any) -> int:
        return self._insert(schema.enrollments, {**ENROLLMENT, **values})

    def add_trace(self, **values: Any) -> int:
        return self._insert(schema.traces, {**TRACE, **values})

    def add_outbox(self, **values: Any) -> int:
        return self._insert(schema.outbox, {**OUTBOX, **values})

    def add_timer(self, **values: Any) -> int:
        return self._insert(schema.timers, {**TIMER, **values})

    def timers(self) -> dict[int, tuple[datetime, dict[str, Any]]]:
        t = schema.timers
        with self.engine.connect() as conn:
            return {int(r.id): (r.due_at, r.payload) for r in conn.execute(sa.select(t.c.id, t.c.due_at, t.c.payload))}

    def add_segment(self, key: str, rule: Any) -> None:
        self._insert(schema.segments, {"key": key, "name": key, "rule": rule, "created_at": NOW, "updated_at": NOW})

    def traces(self) -> list[tuple[int, str, str]]:
        t = schema.traces
        with self.engine.connect() as conn:
            q = sa.select(t.c.enrollment_id, t.c.action, t.c.step_id).order_by(t.c.id)
            return [(int(a), str(b), str(c)) for a, b, c in conn.execute(q)]

    def events(self) -> list[tuple[int, str]]:
        e = schema.events
        with self.engine.connect() as conn:
            return [(int(r[0]), str(r[1])) for r in conn.execute(sa.select(e.c.contact_id, e.c.name).order_by(e.c.id))]

    def queued(self) -> set[int]:
        q = schema.contact_queue
        with self.engine.connect() as conn:
            return {int(x) for x in conn.execute(sa.select(q.c.contact_id)).scalars()}


Backend = MemoryBackend | SqlBackend


def _names() -> list[str]:
    return ["memory", "sqlite"] + (["postgres"] if PG_URL else [])


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("contract") / "migrated.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection closed: SQLite folds the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(params=_names())
def backend(request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite: Path) -> Iterator[Backend]:
    if request.param == "memory":
        yield MemoryBackend()
        return
    if request.param == "sqlite":
        shutil.copyfile(migrated_sqlite, tmp_path / "contract.db")
        engine = create_engine(f"sqlite:///{tmp_path / 'contract.db'}")
    else:
        pg_schema = request.getfixturevalue("pg_schema")
        engine = create_engine(PG_URL, schema=pg_schema)  # type: ignore[arg-type]
        with engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in schema.metadata.sorted_tables)
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    yield SqlBackend(request.param, engine)
    engine.dispose()
