"""The segments ports on SQLAlchemy Core: saved segments, memberships, the rule indexes.

``SqlSegments(conn)`` is the repository inside an open transaction (the worker's batch, or one
:class:`SqlSegmentStore` opened); whole-segment evaluation runs the rule compiled to SQL
(``rule_indexes.rule_query``: ``rules_sql`` with the rule indexes that exist). The statements
are the ones the membership use cases ran before they had a port (bulk, in chunks of
``CHUNK``): the worker's hot path keeps its speed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tidings.domain.rules import Rule
from tidings.domain.segments import SegmentKeyTaken, StoredSegment
from tidings.domain.snapshot import ContactSnapshot, EventRecord
from tidings.store import ingest_sql, schema
from tidings.store.db import read_only
from tidings.store.rule_indexes import rule_query, saved_rules_version, sync_rule_indexes
from tidings.store.snapshots import load_snapshot

CHUNK = 5000


class SqlSegments:
    """``SegmentRepository`` (memberships and definitions) on one connection's transaction."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    @classmethod
    def joining(cls, conn: sa.Connection) -> SqlSegments:
        return cls(conn)

    # ----------------------------------------------------------------- memberships

    def saved(self) -> list[StoredSegment]:
        s = schema.segments
        rows = self.conn.execute(sa.select(s.c.id, s.c.key, s.c.rule).order_by(s.c.id)).all()
        return [StoredSegment(int(r.id), str(r.key), r.rule) for r in rows]

    def saved_one(self, segment_id: int) -> StoredSegment | None:
        s = schema.segments
        r = self.conn.execute(sa.select(s.c.id, s.c.key, s.c.rule).where(s.c.id == segment_id)).first()
        return None if r is None else StoredSegment(int(r.id), str(r.key), r.rule)

    def matching(self, rule: Rule, now: datetime) -> set[int]:
        return {int(c) for c in self.conn.execute(rule_query(self.conn, rule, now)).scalars()}

    def open_members(self, segment_id: int) -> set[int]:
        m = schema.segment_memberships
        q = sa.select(m.c.contact_id).where(m.c.segment_id == segment_id, m.c.exited_at.is_(None))
        return {int(c) for c in self.conn.execute(q).scalars()}

    def open_memberships(self, pairs: Sequence[tuple[int, int]], entered_at: datetime) -> list[tuple[int, int]]:
        m = schema.segment_memberships
        ins: Any = postgresql.insert(m) if self.conn.dialect.name == "postgresql" else sqlite.insert(m)
        stmt = ins.on_conflict_do_nothing(
            index_elements=[m.c.segment_id, m.c.contact_id], index_where=m.c.exited_at.is_(None)
        ).returning(m.c.segment_id, m.c.contact_id)
        rows = [{"contact_id": c, "segment_id": s, "entered_at": entered_at} for s, c in pairs]
        out: list[tuple[int, int]] = []
        for i in range(0, len(rows), CHUNK):
            out.extend((int(r[0]), int(r[1])) for r in self.conn.execute(stmt, rows[i : i + CHUNK]))
        return out

    def close_for_segment(self, segment_id: int, contact_ids: Sequence[int], exited_at: datetime) -> list[int]:
        m = schema.segment_memberships
        out: list[int] = []
        for i in range(0, len(contact_ids), CHUNK):
            part = contact_ids[i : i + CHUNK]
            out.extend(
                int(c)
                for c in self.conn.execute(
                    sa.update(m)
                    .where(m.c.segment_id == segment_id, m.c.exited_at.is_(None), m.c.contact_id.in_(part))
                    .values(exited_at=exited_at)
                    .returning(m.c.contact_id)
                ).scalars()
            )
        return out

    def close_for_contact(self, contact_id: int, segment_ids: Collection[int], exited_at: datetime) -> list[int]:
        if not segment_ids:
            return []
        m = schema.segment_memberships
        closed = self.conn.execute(
            sa.update(m)
            .where(m.c.contact_id == contact_id, m.c.segment_id.in_(list(segment_ids)), m.c.exited_at.is_(None))
            .values(exited_at=exited_at)
            .returning(m.c.segment_id)
        ).scalars()
        return [int(s) for s in closed]

    def close_pairs(self, pairs: Sequence[tuple[int, int]], exited_at: datetime) -> list[tuple[int, int]]:
        m = schema.segment_memberships
        out: list[tuple[int, int]] = []
        for i in range(0, len(pairs), CHUNK):
            closed = self.conn.execute(
                sa.update(m)
                .where(sa.tuple_(m.c.contact_id, m.c.segment_id).in_(pairs[i : i + CHUNK]), m.c.exited_at.is_(None))
                .values(exited_at=exited_at)
                .returning(m.c.contact_id, m.c.segment_id)
            ).all()
            out.extend((int(c), int(s)) for c, s in closed)
        return out

    def record_changes(self, rows: Sequence[dict[str, Any]], now: datetime, *, enqueue: bool) -> None:
        for i in range(0, len(rows), CHUNK):
            part = list(rows[i : i + CHUNK])
            ingest_sql.insert_events(self.conn, part, known_new=True)  # the bulk path (10^5 people)
            if enqueue:
                ingest_sql.enqueue(self.conn, [r["contact_id"] for r in part], now)

    def append_changes_with_ids(self, rows: Sequence[dict[str, Any]], now: datetime, *, enqueue: bool) -> list[int]:
        if not rows:
            return []
        e = schema.events
        stmt = sa.insert(e).returning(e.c.id, sort_by_parameter_order=True)
        ids = [int(i) for i in self.conn.execute(stmt, list(rows)).scalars().all()]
        if enqueue:
            ingest_sql.enqueue(self.conn, [r["contact_id"] for r in rows], now)
        return ids

    def mark_evaluated(self, segment_id: int, evaluated_at: datetime, next_refresh_at: datetime | None) -> None:
        s = schema.segments
        values: dict[str, Any] = {"evaluated_at": evaluated_at}
        if next_refresh_at is not None:
            values["next_refresh_at"] = next_refresh_at
        self.conn.execute(sa.update(s).where(s.c.id == segment_id).values(**values))

    def unprocessed_events(self, contact_id: int, limit: int) -> list[EventRecord]:
        e = schema.events
        rows = self.conn.execute(
            sa.select(e.c.name, e.c.properties)
            .where(e.c.contact_id == contact_id, e.c.processed_at.is_(None))
            .order_by(e.c.id)
            .limit(limit)
        ).all()
        return [EventRecord(r.name, datetime.min, r.properties or {}) for r in rows]

    def snapshot(
        self,
        contact_id: int,
        *,
        event_names: Collection[str] | None,
        with_events: bool,
        with_tags: bool,
        with_consents: bool,
        with_journeys: bool,
    ) -> ContactSnapshot | None:
        return load_snapshot(
            self.conn,
            contact_id,
            event_names=event_names,
            with_events=with_events,
            with_tags=with_tags,
            with_consents=with_consents,
            with_journeys=with_journeys,
        )

    def due_refreshes(self, now: datetime) -> list[int]:
        s = schema.segments
        q = sa.select(s.c.id).where(s.c.next_refresh_at <= now).order_by(s.c.next_refresh_at)
        return [int(i) for i in self.conn.execute(q).scalars()]

    # ----------------------------------------------------------------- definitions

    def id_of(self, key: str) -> int | None:
        s = schema.segments
        sid = self.conn.execute(sa.select(s.c.id).where(s.c.key == key)).scalar_one_or_none()
        return None if sid is None else int(sid)

    def row(self, key: str) -> dict[str, Any] | None:
        s = schema.segments
        r = self.conn.execute(sa.select(s).where(s.c.key == key)).mappings().first()
        return None if r is None else dict(r)

    def insert(self, values: Mapping[str, Any]) -> int:
        s = schema.segments
        try:  # the unique key decides between concurrent creates (the transaction is then lost)
            return int(self.conn.execute(sa.insert(s).values(**values).returning(s.c.id)).scalar_one())
        except sa.exc.IntegrityError:
            raise SegmentKeyTaken(str(values.get("key"))) from None

    def update(self, segment_id: int, values: Mapping[str, Any]) -> None:
        s = schema.segments
        self.conn.execute(sa.update(s).where(s.c.id == segment_id).values(**values))

    def delete(self, segment_id: int) -> None:
        m = schema.segment_memberships
        self.conn.execute(sa.delete(m).where(m.c.segment_id == segment_id))
        self.conn.execute(sa.delete(schema.segments).where(schema.segments.c.id == segment_id))

    def _count(self, sid: Any) -> Any:
        m = schema.segment_memberships
        return sa.select(sa.func.count()).where(m.c.segment_id == sid, m.c.exited_at.is_(None)).scalar_subquery()

    def listed(self, key: str | None = None) -> list[dict[str, Any]]:
        """Segments with their current member count, joined to the counts per segment (not a
        correlated subquery: Citus runs none over a reference table, and segments is one there)."""
        s, m = schema.segments, schema.segment_memberships
        counts = (
            sa.select(m.c.segment_id, sa.func.count().label("members"))
            .where(m.c.exited_at.is_(None))
            .group_by(m.c.segment_id)
            .subquery("member_counts")
        )
        q = sa.select(s, sa.func.coalesce(counts.c.members, 0).label("members")).select_from(
            s.outerjoin(counts, counts.c.segment_id == s.c.id)
        )
        q = q.where(s.c.key == key) if key is not None else q.order_by(s.c.key)
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def member_page(self, segment_id: int, *, after: int, limit: int) -> list[dict[str, Any]]:
        m, c = schema.segment_memberships, schema.contacts
        q = (
            sa.select(c.c.id, c.c.email, c.c.first_name, c.c.last_name, m.c.entered_at)
            .join(m, m.c.contact_id == c.c.id)
            .where(m.c.segment_id == segment_id, m.c.exited_at.is_(None), c.c.id > after)
            .order_by(c.c.id)
            .limit(limit)
        )
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def member_count(self, segment_id: int) -> int:
        return int(self.conn.execute(sa.select(self._count(segment_id))).scalar_one())

    def history(
        self, segment_id: int, *, contact_id: int | None, before: int | None, limit: int
    ) -> list[dict[str, Any]]:
        m = schema.segment_memberships
        q = sa.select(m.c.id, m.c.contact_id, m.c.entered_at, m.c.exited_at).where(m.c.segment_id == segment_id)
        if contact_id is not None:
            q = q.where(m.c.contact_id == contact_id)
        if before is not None:
            q = q.where(m.c.id < before)
        return [dict(r) for r in self.conn.execute(q.order_by(m.c.id.desc()).limit(limit)).mappings()]

    def preview(self, rule: Rule, now: datetime, sample: int) -> tuple[int, list[dict[str, Any]]]:
        conn = self.conn
        q = rule_query(conn, rule, now).subquery()
        count = int(conn.execute(sa.select(sa.func.count()).select_from(q)).scalar_one())
        c = schema.contacts
        ids = sa.select(q.c.contact_id).order_by(q.c.contact_id).limit(sample).subquery()
        rows = conn.execute(
            sa.select(c.c.id, c.c.email, c.c.first_name, c.c.last_name, c.c.lifecycle_stage)
            .where(c.c.id.in_(sa.select(ids.c.contact_id)))
            .order_by(c.c.id)
        ).mappings()
        return count, [dict(r) for r in rows]

    def missing_names(
        self,
        *,
        attributes: Iterable[str],
        events: Iterable[str],
        tags: Iterable[str],
        segments: Iterable[str],
        journeys: Iterable[str],
    ) -> dict[str, list[str]]:
        conn = self.conn
        c, e, t, s, j = schema.contacts, schema.events, schema.contact_tags, schema.segments, schema.journeys

        def has_attribute(a: str) -> Any:
            if conn.dialect.name == "postgresql":
                return c.c.attributes.op("?")(a)
            return sa.func.json_type(c.c.attributes, f'$."{a}"').is_not(None)

        def none(q: Any) -> bool:
            return conn.execute(q.limit(1)).first() is None

        return {
            "attributes": [a for a in attributes if none(sa.select(c.c.id).where(has_attribute(a)))],
            "events": [n for n in events if none(sa.select(e.c.id).where(e.c.name == n))],
            "tags": [g for g in tags if none(sa.select(t.c.contact_id).where(t.c.tag == g))],
            "segments": [k for k in segments if none(sa.select(s.c.id).where(s.c.key == k))],
            "journeys": [k for k in journeys if none(sa.select(j.c.id).where(j.c.key == k))],
        }

    def version(self) -> tuple[Any, ...]:
        return saved_rules_version(self.conn)


class SqlSegmentStore:
    """``SegmentStore`` on an engine: ``writing()`` is ``engine.begin()``, ``reading()`` a
    reader connection (``db.reader``: never waits for SQLite's write lock)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @contextlib.contextmanager
    def writing(self) -> Iterator[SqlSegments]:
        with self.engine.begin() as conn:
            yield SqlSegments(conn)

    @contextlib.contextmanager
    def reading(self) -> Iterator[SqlSegments]:
        with self.engine.connect() as raw:
            yield SqlSegments(read_only(raw))

    def sync_rule_indexes(self, rules: Iterable[Rule]) -> tuple[list[str], list[str]] | None:
        return sync_rule_indexes(self.engine, rules)
