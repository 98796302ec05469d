"""SQL read models of the web pages: the reads no use case offers (the contacts list and a
contact's profile and timeline, revenue and conversions, the inbox, the tasks list).

Moved here from ``web/queries.py`` so that the web adapter builds no SQL; the rest of the
pages' reads is in ``page_reads_sql.py``. Every function takes the caller's connection.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tidings.domain.statuses import TaskStatus
from tidings.store import schema as s
from tidings.store.contact_lists import ListFilter, filtered

PAGE_SIZE = 50


# --------------------------------------------------------------------------- dashboard


def conversions(conn: Connection, start: datetime, end: datetime, journey: str | None = None) -> tuple[int, float]:
    """Conversions (a journey's goal reached) and their revenue in [start, end).

    The engine records each as a ``journey.converted`` event on the contact, with the journey's
    key in its properties and the revenue as the event's value."""
    e = s.events
    rows = conn.execute(
        sa.select(e.c.properties, e.c.value).where(
            e.c.name == "journey.converted", e.c.occurred_at >= start, e.c.occurred_at < end
        )
    )
    n, revenue = 0, 0.0
    for props, value in rows:
        if journey is not None and (props or {}).get("journey") != journey:
            continue
        n += 1
        revenue += float(value or 0)
    return n, revenue


def journey_revenue(conn: Connection, limit: int = 10) -> list[dict[str, Any]]:
    """Conversions and revenue per journey, all time, highest revenue first."""
    e, j = s.events, s.journeys
    totals: dict[str, list[float]] = {}
    for props, value in conn.execute(sa.select(e.c.properties, e.c.value).where(e.c.name == "journey.converted")):
        t = totals.setdefault(str((props or {}).get("journey") or ""), [0, 0.0])
        t[0] += 1
        t[1] += float(value or 0)
    names = {str(k): str(n) for k, n in conn.execute(sa.select(j.c.key, j.c.name))}
    rows: list[dict[str, Any]] = [
        {"key": k, "name": names.get(k, k or "(unknown)"), "conversions": int(v[0]), "revenue": float(v[1])}
        for k, v in totals.items()
    ]
    rows.sort(key=lambda r: (-float(r["revenue"]), -int(r["conversions"])))
    return rows[:limit]


# --------------------------------------------------------------------------- contacts


def search_contacts(
    conn: Connection,
    q: str = "",
    tag: str = "",
    segment: str = "",
    stage: str = "",
    page: int = 1,
    journey: str = "",
    step: str = "",
) -> tuple[list[dict[str, Any]], bool]:
    """Contacts matching the filters, newest first; ``journey`` (+ ``step``): in it now (at that step)."""
    c = s.contacts
    query = sa.select(
        c.c.id,
        c.c.email,
        c.c.phone,
        c.c.first_name,
        c.c.last_name,
        c.c.lifecycle_stage,
        c.c.score,
        c.c.created_at,
        c.c.external_id,
    )
    query, order = filtered(query, conn.dialect.name, ListFilter(q, tag, segment, stage, journey, step))
    page = max(1, page)
    rows = conn.execute(query.order_by(order.desc()).limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)).mappings()
    items = [dict(r) for r in rows]
    return items[:PAGE_SIZE], len(items) > PAGE_SIZE


def filter_options(conn: Connection) -> dict[str, list[str]]:
    t, sg, c = s.contact_tags, s.segments, s.contacts
    return {
        "tags": [r[0] for r in conn.execute(sa.select(t.c.tag).distinct().order_by(t.c.tag).limit(300))],
        "segments": [r[0] for r in conn.execute(sa.select(sg.c.key).order_by(sg.c.key))],
        "stages": [
            r[0]
            for r in conn.execute(
                sa.select(c.c.lifecycle_stage)
                .where(c.c.lifecycle_stage.is_not(None))
                .distinct()
                .order_by(c.c.lifecycle_stage)
                .limit(100)
            )
        ],
    }


def contact(conn: Connection, contact_id: int) -> dict[str, Any] | None:
    row = conn.execute(sa.select(s.contacts).where(s.contacts.c.id == contact_id)).mappings().first()
    return dict(row) if row else None


def contact_profile(conn: Connection, contact_id: int) -> dict[str, Any]:
    t, cs, m, sg = s.contact_tags, s.consents, s.segment_memberships, s.segments
    en, j = s.enrollments, s.journeys
    tags = [r[0] for r in conn.execute(sa.select(t.c.tag).where(t.c.contact_id == contact_id).order_by(t.c.tag))]
    consents = [
        dict(r)
        for r in conn.execute(sa.select(cs).where(cs.c.contact_id == contact_id).order_by(cs.c.channel)).mappings()
    ]
    segments = [
        dict(r)
        for r in conn.execute(
            sa.select(sg.c.key, sg.c.name, m.c.entered_at, m.c.exited_at)
            .join(sg, sg.c.id == m.c.segment_id)
            .where(m.c.contact_id == contact_id)
            .order_by(m.c.entered_at.desc())
            .limit(100)
        ).mappings()
    ]
    journeys = [
        dict(r)
        for r in conn.execute(
            sa.select(
                en.c.id,
                j.c.key,
                j.c.name,
                en.c.version,
                en.c.status,
                en.c.end_reason,
                en.c.step_id,
                en.c.entered_at,
                en.c.ended_at,
                en.c.state,
            )
            .join(j, j.c.id == en.c.journey_id)
            .where(en.c.contact_id == contact_id)
            .order_by(en.c.entered_at.desc())
            .limit(100)
        ).mappings()
    ]
    aliases = [
        dict(r)
        for r in conn.execute(
            sa.select(s.contact_aliases.c.kind, s.contact_aliases.c.value).where(
                s.contact_aliases.c.contact_id == contact_id
            )
        ).mappings()
    ]
    return {
        "tags": tags,
        "consents": consents,
        "segments": segments,
        "journeys": journeys,
        "aliases": aliases,
    }


def timeline(conn: Connection, contact_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """Events and messages of one contact, newest first, merged."""
    e, o, j = s.events, s.outbox, s.journeys
    items: list[dict[str, Any]] = []
    for r in conn.execute(
        sa.select(e.c.id, e.c.name, e.c.properties, e.c.occurred_at, e.c.source, e.c.value)
        .where(e.c.contact_id == contact_id)
        .order_by(e.c.occurred_at.desc(), e.c.id.desc())
        .limit(limit)
    ).mappings():
        items.append({"kind": "event", "at": r["occurred_at"], **dict(r)})
    names = dict(conn.execute(sa.select(j.c.id, j.c.name)).all())
    for r in conn.execute(
        sa.select(
            o.c.id,
            o.c.kind,
            o.c.channel,
            o.c.template,
            o.c.status,
            o.c.subject,
            o.c.recipient,
            o.c.journey_id,
            o.c.journey_version,
            o.c.step_id,
            o.c.created_at,
            o.c.sent_at,
            o.c.error,
            o.c.payload,
        )
        .where(o.c.contact_id == contact_id)
        .order_by(o.c.created_at.desc(), o.c.id.desc())
        .limit(limit)
    ).mappings():
        items.append(
            {
                "kind": "message" if r["kind"] == "message" else "effect",
                "at": r["sent_at"] or r["created_at"],
                "journey_name": names.get(r["journey_id"]),
                **dict(r),
            }
        )
    items.sort(key=lambda x: (x["at"], x["id"]), reverse=True)
    return items[:limit]


def journey_name(conn: Connection, key: str | None) -> str | None:
    if not key:
        return None
    return conn.execute(sa.select(s.journeys.c.name).where(s.journeys.c.key == key)).scalar_one_or_none()


# --------------------------------------------------------------------------- inbox


def inbox_list(conn: Connection, channel: str = "", page: int = 1) -> tuple[list[dict[str, Any]], bool]:
    i = s.inbox
    q = sa.select(i.c.id, i.c.channel, i.c.sender, i.c.recipient, i.c.subject, i.c.received_at, i.c.message_ref)
    if channel:
        q = q.where(i.c.channel == channel)
    page = max(1, page)
    rows = [
        dict(r)
        for r in conn.execute(q.order_by(i.c.id.desc()).limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)).mappings()
    ]
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def inbox_item(conn: Connection, item_id: int) -> dict[str, Any] | None:
    row = conn.execute(sa.select(s.inbox).where(s.inbox.c.id == item_id)).mappings().first()
    return dict(row) if row else None


def inbox_channels(conn: Connection) -> dict[str, int]:
    i = s.inbox
    return {r[0]: int(r[1]) for r in conn.execute(sa.select(i.c.channel, sa.func.count()).group_by(i.c.channel))}


# --------------------------------------------------------------------------- tasks

TASK_SHOWS = ("open", "overdue", "done")


def _task_where(
    show: str, now: datetime, owner: str | None, team: str | None, unassigned_of: str | None = None
) -> list[Any]:
    """``unassigned_of``: with ``owner``, also the open overdue tasks of that team nobody owns."""
    t = s.tasks
    where: list[Any] = []
    if owner is not None:
        mine: Any = t.c.owner == owner
        if unassigned_of and show != "done":
            mine = sa.or_(
                mine,
                sa.and_(t.c.owner.is_(None), t.c.team == unassigned_of, t.c.due_at.is_not(None), t.c.due_at < now),
            )
        where.append(mine)
    if team is not None:
        where.append(t.c.team == team)
    if show == "done":
        where.append(t.c.status == TaskStatus.DONE)
    else:
        where.append(t.c.status == TaskStatus.OPEN)
        if show == "overdue":
            where.append(t.c.due_at.is_not(None))
            where.append(t.c.due_at < now)
    return where


def task_list(
    conn: Connection,
    show: str,
    now: datetime,
    *,
    owner: str | None = None,
    team: str | None = None,
    unassigned_of: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Tasks with their contact and the journey step that created them (through the outbox row)."""
    t, c, o, j = s.tasks, s.contacts, s.outbox, s.journeys
    q = (
        sa.select(
            t.c.id,
            t.c.title,
            t.c.body,
            t.c.owner,
            t.c.team,
            t.c.status,
            t.c.due_at,
            t.c.created_at,
            t.c.completed_at,
            t.c.escalated_at,
            t.c.escalated_to,
            t.c.contact_id,
            c.c.email.label("contact_email"),
            c.c.first_name.label("contact_first_name"),
            c.c.last_name.label("contact_last_name"),
            o.c.step_id,
            o.c.journey_version,
            j.c.key.label("journey_key"),
            j.c.name.label("journey_name"),
        )
        .select_from(
            t.outerjoin(c, c.c.id == t.c.contact_id)
            .outerjoin(o, o.c.id == t.c.outbox_id)
            .outerjoin(j, j.c.id == o.c.journey_id)
        )
        .where(*_task_where(show, now, owner, team, unassigned_of))
        .limit(limit)
    )
    if show == "done":
        q = q.order_by(t.c.completed_at.desc(), t.c.id.desc())
    else:
        q = q.order_by(t.c.due_at.is_(None), t.c.due_at, t.c.id)
    return [dict(r) for r in conn.execute(q).mappings()]


def task_counts(
    conn: Connection,
    now: datetime,
    *,
    owner: str | None = None,
    team: str | None = None,
    unassigned_of: str | None = None,
) -> dict[str, int]:
    counts = {}
    for show in TASK_SHOWS:
        where = _task_where(show, now, owner, team, unassigned_of)
        q = sa.select(sa.func.count()).select_from(s.tasks).where(*where)
        counts[show] = int(conn.execute(q).scalar_one())
    return counts
