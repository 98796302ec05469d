"""The journey engine's store on SQL (``EngineStorage``, ``EngineStore``, ``EngineContacts``).

``SqlEngineStorage(engine)`` opens the engine's transactions (a read-only one for an idle
worker's poll, a write one for a timer batch) or joins the caller's (``on(conn)``); its
:class:`SqlEngineStore` hands out the repositories on that one transaction: enrolments
(``enrolments_sql.py``), the contact side of journey effects, journey heads and versions,
and bulk contact snapshots (``bulk_snapshots.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from typing import Any

import sqlalchemy as sa

from tidings.domain.snapshot import ContactSnapshot
from tidings.domain.statuses import TaskStatus
from tidings.store import journeys as jst
from tidings.store import schema
from tidings.store.bulk_snapshots import load_snapshots
from tidings.store.db import read_only
from tidings.store.enrolments_sql import SqlEnrolments
from tidings.store.snapshots import load_snapshot
from tidings.store.sql_uow import SqlUnitOfWork

C = schema.contacts
TAGS = schema.contact_tags


class SqlEngineContacts:
    """``EngineContacts`` on one connection (twin: ``store/memory/engine_contacts.py``)."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def fields(self, contact_id: int) -> dict[str, Any] | None:
        q = sa.select(C.c.attributes, C.c.lifecycle_stage, C.c.score, C.c.owner).where(C.c.id == contact_id)
        row = self.conn.execute(q).mappings().first()
        return None if row is None else dict(row)

    def update(self, contact_id: int, values: Mapping[str, Any], now: datetime) -> None:
        self.conn.execute(sa.update(C).where(C.c.id == contact_id).values(updated_at=now, **values))

    def tags(self, contact_id: int) -> set[str]:
        return set(self.conn.execute(sa.select(TAGS.c.tag).where(TAGS.c.contact_id == contact_id)).scalars())

    def add_tag(self, contact_id: int, tag: str, now: datetime) -> None:
        self.conn.execute(sa.insert(TAGS).values(contact_id=contact_id, tag=tag, created_at=now))

    def remove_tag(self, contact_id: int, tag: str) -> None:
        self.conn.execute(sa.delete(TAGS).where(TAGS.c.contact_id == contact_id, TAGS.c.tag == tag))

    def team_members(self, team: str) -> list[str]:
        u = schema.users
        q = sa.select(u.c.email).where(u.c.team == team, u.c.disabled_at.is_(None)).order_by(u.c.id)
        return [str(m) for m in self.conn.execute(q).scalars()]

    def owner_loads(self, owners: Sequence[str]) -> dict[str, int]:
        tk = schema.tasks
        out: dict[str, int] = {}
        tasks = (
            sa.select(tk.c.owner, sa.func.count())
            .where(tk.c.owner.in_(list(owners)), tk.c.status == TaskStatus.OPEN)
            .group_by(tk.c.owner)
        )
        owned = sa.select(C.c.owner, sa.func.count()).where(C.c.owner.in_(list(owners))).group_by(C.c.owner)
        for q in (tasks, owned):
            for owner, n in self.conn.execute(q):
                out[str(owner)] = out.get(str(owner), 0) + int(n)
        return out


class SqlEngineStore:
    """``EngineStore``: the engine's repositories on one open transaction."""

    def __init__(self, conn: sa.Connection) -> None:
        self.connection = conn
        self.enrolments = SqlEnrolments(conn)
        self.contacts = SqlEngineContacts(conn)

    @cached_property
    def storage(self) -> SqlUnitOfWork:
        return SqlUnitOfWork.joining(self.connection)

    def journey_heads(self) -> dict[int, dict[str, Any]]:
        return {jid: dict(h) for jid, h in jst.journey_heads(self.connection).items()}

    def journey_source(self, journey_id: int, version: int) -> str | None:
        row = jst.get_version(self.connection, journey_id, version)
        return None if row is None else str(row["source"])

    def experiment_rollouts(self) -> dict[int, dict[str, str]]:
        return jst.experiment_rollouts(self.connection)

    def snapshots(
        self, contact_ids: Sequence[int], *, events: bool = False, journeys: bool = False, max_events: int | None = None
    ) -> dict[int, ContactSnapshot]:
        return load_snapshots(self.connection, contact_ids, events=events, journeys=journeys, max_events=max_events)

    def snapshot(self, contact_id: int) -> ContactSnapshot | None:
        return load_snapshot(self.connection, contact_id)


class SqlEngineStorage:
    """``EngineStorage`` on an engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def on(self, conn: sa.Connection) -> SqlEngineStore:
        return SqlEngineStore(conn)

    @contextmanager
    def reading(self) -> Iterator[SqlEngineStore]:
        with self.engine.connect() as raw:
            conn = read_only(raw)
            with conn.begin():
                yield SqlEngineStore(conn)

    @contextmanager
    def writing(self) -> Iterator[SqlEngineStore]:
        with self.engine.begin() as conn:
            yield SqlEngineStore(conn)
