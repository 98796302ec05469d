"""Lists of contacts by the filters of the contacts page (search, tag, segment, stage, journey):
the page's rows, and the ids that export and bulk actions walk in keyset chunks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tidings.domain.statuses import EnrolmentStatus
from tidings.store import schema as s
from tidings.store.contact_search_sql import search_from

C = s.contacts


@dataclass(frozen=True)
class ListFilter:
    q: str = ""
    tag: str = ""
    segment: str = ""
    stage: str = ""
    journey: str = ""
    step: str = ""

    @property
    def empty(self) -> bool:
        return not any((self.q, self.tag, self.segment, self.stage, self.journey))


def filtered(query: Any, dialect: str, f: ListFilter) -> tuple[Any, Any]:
    """``query`` (a SELECT over contacts) narrowed to the contacts the filter names, and the
    column that orders it by id (the search index's own when a search drives the query)."""
    order = C.c.id
    if f.q:  # the contact search port's index (FTS5 / pg_trgm)
        query, order = search_from(query, dialect, f.q)
    if f.tag:
        t = s.contact_tags
        query = query.where(C.c.id.in_(sa.select(t.c.contact_id).where(t.c.tag == f.tag)))
    if f.segment:
        m, sg = s.segment_memberships, s.segments
        query = query.where(
            C.c.id.in_(
                sa.select(m.c.contact_id)
                .join(sg, sg.c.id == m.c.segment_id)
                .where(sg.c.key == f.segment, m.c.exited_at.is_(None))
            )
        )
    if f.stage:
        query = query.where(C.c.lifecycle_stage == f.stage)
    if f.journey:
        en, j = s.enrollments, s.journeys
        inside = (
            sa.select(en.c.contact_id)
            .join(j, j.c.id == en.c.journey_id)
            .where(j.c.key == f.journey, en.c.status != EnrolmentStatus.ENDED)
        )
        if f.step:
            inside = inside.where(en.c.step_id == f.step)
        query = query.where(C.c.id.in_(inside))
    return query, order


def id_chunks(conn: Connection, f: ListFilter, chunk: int = 1000) -> Iterator[list[int]]:
    """Every matching contact's id, ascending, ``chunk`` at a time (keyset: stable under inserts)."""
    last = 0
    while True:
        q, order = filtered(sa.select(C.c.id), conn.dialect.name, f)
        q = q.where(order > last).order_by(order).limit(chunk)
        ids = [int(i) for i in conn.execute(q).scalars()]
        if not ids:
            return
        yield ids
        last = ids[-1]


def count(conn: Connection, f: ListFilter, cap: int = 1_000_000) -> int:
    """How many contacts match (counted up to ``cap``)."""
    sub = filtered(sa.select(C.c.id), conn.dialect.name, f)[0].limit(cap).subquery()
    return int(conn.execute(sa.select(sa.func.count()).select_from(sub)).scalar_one())
