"""Build the core's ContactSnapshot from storage (one contact, a few queries)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.domain.snapshot import ContactSnapshot, EventRecord
from tidings.store import schema


def load_snapshot(
    conn: sa.Connection,
    contact_id: int,
    *,
    events_since: datetime | None = None,
    max_events: int = 5000,
    event_names: Collection[str] | None = None,
    with_events: bool = True,
    with_tags: bool = True,
    with_consents: bool = True,
    with_journeys: bool = True,
) -> ContactSnapshot | None:
    """The contact as the rule evaluator and the journey engine see it; None if it does not exist.

    ``events_since`` bounds the history loaded (rules with windows only need so much);
    at most ``max_events`` most recent events are loaded. The segment refresher loads only what
    its rules read: ``event_names`` (only these events), ``with_events/tags/consents/journeys``.
    """
    c = schema.contacts
    row = conn.execute(sa.select(c).where(c.c.id == contact_id)).mappings().first()
    if row is None:
        return None
    ct = schema.contact_tags
    tags: frozenset[str] = frozenset()
    if with_tags:
        q_tags = sa.select(ct.c.tag).where(ct.c.contact_id == contact_id)
        tags = frozenset(conn.execute(q_tags).scalars().all())
    cons = schema.consents
    consents: dict[str, str] = {}
    if with_consents:
        q_cons = sa.select(cons.c.channel, cons.c.status).where(cons.c.contact_id == contact_id)
        consents = {r.channel: r.status for r in conn.execute(q_cons)}
    e = schema.events
    q = sa.select(e.c.id, e.c.name, e.c.occurred_at, e.c.properties, e.c.value)
    q = q.where(e.c.contact_id == contact_id)
    if events_since is not None:
        q = q.where(e.c.occurred_at >= events_since)
    if event_names is not None:
        q = q.where(e.c.name.in_(sorted(event_names)))
    q = q.order_by(e.c.occurred_at.desc(), e.c.id.desc()).limit(max_events)
    events: list[EventRecord] = []
    if with_events and (event_names is None or event_names):
        events = [
            EventRecord(
                name=r.name, occurred_at=r.occurred_at, properties=r.properties or {}, value=r.value, id=r.id
            )
            for r in conn.execute(q)
        ]
    events.reverse()
    m = schema.segment_memberships
    s = schema.segments
    segs = frozenset(
        conn.execute(
            sa.select(s.c.key)
            .join(m, m.c.segment_id == s.c.id)
            .where(m.c.contact_id == contact_id, m.c.exited_at.is_(None))
        )
        .scalars()
        .all()
    )
    en = schema.enrollments
    j = schema.journeys
    journeys: dict[str, str] = {}
    if with_journeys:
        for r in conn.execute(
            sa.select(j.c.key, en.c.status, en.c.end_reason)
            .join(en, en.c.journey_id == j.c.id)
            .where(en.c.contact_id == contact_id)
            .order_by(en.c.id)
        ):
            journeys[r.key] = r.status if r.status != "ended" else f"ended:{r.end_reason or ''}"
    return snapshot_from_row(
        row, tags=tags, consents=consents, events=tuple(events), segments=segs, journeys=journeys
    )


def snapshot_from_row(
    row: Any,
    tags: frozenset[str],
    consents: dict[str, str],
    events: tuple[EventRecord, ...],
    segments: frozenset[str],
    journeys: dict[str, str],
) -> ContactSnapshot:
    """The core's view of a contact row and what was loaded around it (one mapping, used by
    ``load_snapshot`` and ``bulk_snapshots.load_snapshots``)."""
    return ContactSnapshot(
        id=int(row["id"]),
        email=row["email"],
        phone=row["phone"],
        external_id=row["external_id"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        timezone=row["timezone"],
        locale=row["locale"],
        lifecycle_stage=row["lifecycle_stage"],
        owner=row["owner"],
        score=float(row["score"] or 0),
        created_at=row["created_at"],
        attributes=row["attributes"] or {},
        tags=tags,
        consents=consents,
        events=events,
        segments=segments,
        journeys=journeys,
    )
