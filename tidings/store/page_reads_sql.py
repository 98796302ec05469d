"""SQL read models of the web pages beyond ``web_reads_sql`` (dashboard counts, the journeys list
and map, a journey's step counts and A/B rows, the dead-letter labels, the template editor's
preview contacts, a segment's membership history): the queries ``tidings/web`` used to build
itself, so that the web adapter imports no SQLAlchemy.

Every function takes the caller's connection and returns plain values; the pages shape them
exactly as before.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.domain.statuses import EnrolmentStatus, JourneyStatus
from tidings.store import schema as s

# --------------------------------------------------------------------------- dashboard


def dashboard_counts(conn: sa.Connection) -> tuple[int, int, int]:
    """(contacts, enrolments not ended, active journeys)."""

    def count(table: sa.Table, *where: Any) -> int:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())

    return (
        count(s.contacts),
        count(s.enrollments, s.enrollments.c.status != EnrolmentStatus.ENDED),
        count(s.journeys, s.journeys.c.status == JourneyStatus.ACTIVE),
    )


# --------------------------------------------------------------------------- journeys


def enrolment_counts(conn: sa.Connection) -> tuple[dict[int, int], dict[int, int]]:
    """Per journey id: enrolments not ended, and all enrolments."""
    e = s.enrollments
    active: dict[int, int] = dict(
        conn.execute(
            sa.select(e.c.journey_id, sa.func.count())
            .where(e.c.status != EnrolmentStatus.ENDED)
            .group_by(e.c.journey_id)
        ).all()
    )
    total: dict[int, int] = dict(
        conn.execute(sa.select(e.c.journey_id, sa.func.count()).group_by(e.c.journey_id)).all()
    )
    return active, total


def segment_rules(conn: sa.Connection) -> dict[str, Any]:
    """Saved segments' rules by key (the journey map's cross-journey links)."""
    return {k: rule for k, rule in conn.execute(sa.select(s.segments.c.key, s.segments.c.rule))}


def step_counts(
    conn: sa.Connection, journey_id: int, version: int | None
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Contacts waiting at each step now, that passed through it, and that converted after it."""
    e, t = s.enrollments, s.traces
    where_e = [e.c.journey_id == journey_id, e.c.status != EnrolmentStatus.ENDED]
    where_t = [t.c.journey_id == journey_id, t.c.step_id.is_not(None)]
    if version is not None:
        where_e.append(e.c.version == version)
        where_t.append(t.c.journey_version == version)
    waiting = {
        str(k): int(n)
        for k, n in conn.execute(sa.select(e.c.step_id, sa.func.count()).where(*where_e).group_by(e.c.step_id))
        if k
    }
    passed = {
        str(k): int(n)
        for k, n in conn.execute(
            sa.select(t.c.step_id, sa.func.count(sa.distinct(t.c.enrollment_id))).where(*where_t).group_by(t.c.step_id)
        )
    }
    converted = {
        str(k): int(n)
        for k, n in conn.execute(
            sa.select(t.c.step_id, sa.func.count(sa.distinct(t.c.enrollment_id)))
            .select_from(t.join(e, e.c.id == t.c.enrollment_id))
            .where(*where_t, e.c.end_reason == "converted")
            .group_by(t.c.step_id)
        )
    }
    return waiting, passed, converted


def split_rows(conn: sa.Connection, journey_id: int, splits: Collection[str]) -> list[tuple[Any, Any, Any]]:
    """(step id, trace detail, the enrolment's end reason) of every split trace of these steps."""
    t, e = s.traces, s.enrollments
    rows = conn.execute(
        sa.select(t.c.step_id, t.c.detail, e.c.end_reason)
        .select_from(t.join(e, e.c.id == t.c.enrollment_id))
        .where(t.c.journey_id == journey_id, t.c.action == "split", t.c.step_id.in_(list(splits)))
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


# --------------------------------------------------------------------------- dead letters


def contact_labels_rows(conn: sa.Connection, contact_ids: Collection[int]) -> list[dict[str, Any]]:
    """``id``, ``email``, ``phone``, ``first_name``, ``last_name`` of these contacts."""
    c = s.contacts
    q = sa.select(c.c.id, c.c.email, c.c.phone, c.c.first_name, c.c.last_name).where(c.c.id.in_(list(contact_ids)))
    return [dict(r) for r in conn.execute(q).mappings()]


def journey_names(conn: sa.Connection, journey_ids: Collection[int]) -> dict[int, tuple[str, str]]:
    """Journey id -> (key, name)."""
    j = s.journeys
    return {
        int(r[0]): (r[1], r[2])
        for r in conn.execute(sa.select(j.c.id, j.c.key, j.c.name).where(j.c.id.in_(list(journey_ids))))
    }


# --------------------------------------------------------------------------- templates


def preview_contacts(conn: sa.Connection, limit: int = 100) -> list[dict[str, Any]]:
    """The newest contacts (``id``, ``email``, names, ``locale``) to preview a template with."""
    c = s.contacts
    q = sa.select(c.c.id, c.c.email, c.c.first_name, c.c.last_name, c.c.locale).order_by(c.c.id.desc()).limit(limit)
    return [dict(r) for r in conn.execute(q).mappings()]


def template_locales(conn: sa.Connection, key: str) -> list[str]:
    t = s.templates
    return [r[0] for r in conn.execute(sa.select(t.c.locale).where(t.c.key == key).order_by(t.c.locale))]


def contact_with_tags(conn: sa.Connection, contact_id: int) -> tuple[dict[str, Any], list[str]]:
    """The contact's row ({} when there is none) and its tags."""
    row = conn.execute(sa.select(s.contacts).where(s.contacts.c.id == contact_id)).mappings().first()
    tags = list(
        conn.execute(sa.select(s.contact_tags.c.tag).where(s.contact_tags.c.contact_id == contact_id)).scalars()
    )
    return (dict(row) if row else {}), tags


# --------------------------------------------------------------------------- segments


def segment_id(conn: sa.Connection, key: str) -> int | None:
    sid: int | None = conn.execute(sa.select(s.segments.c.id).where(s.segments.c.key == key)).scalar_one_or_none()
    return sid


def members_at(conn: sa.Connection, segment_id: int, at: datetime) -> int:
    """Members of the segment at ``at``: entered by then and not exited by then."""
    m = s.segment_memberships
    n = conn.execute(
        sa.select(sa.func.count()).where(
            m.c.segment_id == segment_id,
            m.c.entered_at <= at,
            sa.or_(m.c.exited_at.is_(None), m.c.exited_at > at),
        )
    ).scalar_one()
    return int(n)
