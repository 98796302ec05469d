"""SQL for journeys and their immutable versions (the documents the engine runs).

A journey row is the mutable head (status, current version, draft); ``journey_versions`` rows
are never updated once written: running enrolments keep pointing at theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.domain.statuses import JourneyStatus
from tidings.store import schema

J = schema.journeys
V = schema.journey_versions


def get_journey(conn: sa.Connection, key: str, *, for_update: bool = False) -> Mapping[Any, Any] | None:
    q = sa.select(J).where(J.c.key == key)
    if for_update:
        q = q.with_for_update()
    return conn.execute(q).mappings().first()


def get_journey_by_id(conn: sa.Connection, journey_id: int) -> Mapping[Any, Any] | None:
    return conn.execute(sa.select(J).where(J.c.id == journey_id)).mappings().first()


def list_journeys(conn: sa.Connection) -> list[Mapping[Any, Any]]:
    return list(conn.execute(sa.select(J).order_by(J.c.key)).mappings())


def journey_heads(conn: sa.Connection) -> dict[int, Mapping[Any, Any]]:
    """id -> (key, status, current_version) of every journey: a small table read per batch."""
    rows = conn.execute(sa.select(J.c.id, J.c.key, J.c.status, J.c.current_version)).mappings()
    return {int(r["id"]): r for r in rows}


def create_journey(conn: sa.Connection, key: str, name: str, draft: str | None, now: datetime) -> int:
    return int(
        conn.execute(
            sa.insert(J)
            .values(key=key, name=name, status=JourneyStatus.DRAFT, draft_source=draft, created_at=now, updated_at=now)
            .returning(J.c.id)
        ).scalar_one()
    )


def update_journey(conn: sa.Connection, journey_id: int, now: datetime, **values: Any) -> None:
    conn.execute(sa.update(J).where(J.c.id == journey_id).values(updated_at=now, **values))


def versions(conn: sa.Connection, journey_id: int) -> list[Mapping[Any, Any]]:
    q = (
        sa.select(V.c.version, V.c.checksum, V.c.published_at, V.c.published_by)
        .where(V.c.journey_id == journey_id)
        .order_by(V.c.version)
    )
    return list(conn.execute(q).mappings())


def get_version(conn: sa.Connection, journey_id: int, version: int) -> Mapping[Any, Any] | None:
    q = sa.select(V).where(V.c.journey_id == journey_id, V.c.version == version)
    return conn.execute(q).mappings().first()


def insert_version(
    conn: sa.Connection,
    journey_id: int,
    version: int,
    document: Mapping[Any, Any],
    source: str,
    checksum: str,
    now: datetime,
    by: str | None,
) -> None:
    conn.execute(
        sa.insert(V).values(
            journey_id=journey_id,
            version=version,
            document=dict(document),
            source=source,
            checksum=checksum,
            published_at=now,
            published_by=by,
        )
    )


def experiment_rollouts(conn: sa.Connection) -> dict[int, dict[str, str]]:
    """journey id -> {split step id: winner} for every decided experiment (the split obeys it)."""
    d = schema.experiment_decisions
    out: dict[int, dict[str, str]] = {}
    for jid, step, winner in conn.execute(sa.select(d.c.journey_id, d.c.step_id, d.c.winner)):
        out.setdefault(int(jid), {})[str(step)] = str(winner)
    return out


class SqlJourneys:
    """The journeys repository (``application/ports/journeys.py``) on one connection."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def get(self, key: str, *, for_update: bool = False) -> dict[str, Any] | None:
        row = get_journey(self.conn, key, for_update=for_update)
        return dict(row) if row is not None else None

    def get_by_id(self, journey_id: int) -> dict[str, Any] | None:
        row = get_journey_by_id(self.conn, journey_id)
        return dict(row) if row is not None else None

    def all(self) -> list[dict[str, Any]]:
        return [dict(r) for r in list_journeys(self.conn)]

    def add(self, key: str, name: str, draft: str | None, now: datetime) -> int:
        return create_journey(self.conn, key, name, draft, now)

    def update(self, journey_id: int, now: datetime, **values: Any) -> None:
        update_journey(self.conn, journey_id, now, **values)

    def versions(self, journey_id: int) -> list[dict[str, Any]]:
        return [dict(r) for r in versions(self.conn, journey_id)]

    def get_version(self, journey_id: int, version: int) -> dict[str, Any] | None:
        row = get_version(self.conn, journey_id, version)
        return dict(row) if row is not None else None

    def add_version(
        self,
        journey_id: int,
        version: int,
        *,
        document: Mapping[str, Any],
        source: str,
        checksum: str,
        now: datetime,
        by: str | None,
    ) -> None:
        insert_version(self.conn, journey_id, version, document, source, checksum, now, by)
