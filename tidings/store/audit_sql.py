"""Read queries for the automation audit, the name checks and the blast-radius preview.

Counts and names only: which tags contacts carry, which events and attributes have been seen,
enrolment and conversion counts per journey, steps the traces reached, contacts in several
journeys at once, and the candidate populations a journey would draw from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.domain.snapshot import ContactSnapshot
from tidings.domain.statuses import EnrolmentStatus, JourneyStatus
from tidings.store import schema as s
from tidings.store.bulk_snapshots import load_snapshots


def tag_counts(conn: sa.Connection) -> dict[str, int]:
    t = s.contact_tags
    return {str(tag): int(n) for tag, n in conn.execute(sa.select(t.c.tag, sa.func.count()).group_by(t.c.tag))}


def event_names(conn: sa.Connection) -> set[str]:
    return {str(n) for n in conn.execute(sa.select(s.events.c.name).distinct()).scalars()}


def attribute_keys(conn: sa.Connection) -> set[str]:
    """Top-level attribute keys any contact has."""
    if conn.dialect.name == "postgresql":
        sql = "SELECT DISTINCT jsonb_object_keys(attributes) FROM contacts WHERE jsonb_typeof(attributes) = 'object'"
    else:
        sql = (
            "SELECT DISTINCT j.key FROM contacts, json_each(contacts.attributes) AS j "
            "WHERE json_type(contacts.attributes) = 'object'"
        )
    return {str(k) for k in conn.exec_driver_sql(sql).scalars()}


def segment_rules(conn: sa.Connection) -> dict[str, Any]:
    return {str(k): rule for k, rule in conn.execute(sa.select(s.segments.c.key, s.segments.c.rule))}


def template_keys(conn: sa.Connection) -> set[str]:
    return {str(k) for k in conn.execute(sa.select(s.templates.c.key).distinct()).scalars()}


def published_journeys(conn: sa.Connection) -> list[dict[str, Any]]:
    """Journeys with a current version: key, status, the current source, first publication."""
    j, v = s.journeys, s.journey_versions
    first = (
        sa.select(v.c.journey_id, sa.func.min(v.c.published_at).label("first_published"))
        .group_by(v.c.journey_id)
        .subquery()
    )
    rows = conn.execute(
        sa.select(j.c.id, j.c.key, j.c.status, j.c.recipe, v.c.source, first.c.first_published)
        .join(v, sa.and_(v.c.journey_id == j.c.id, v.c.version == j.c.current_version))
        .join(first, first.c.journey_id == j.c.id)
        .where(j.c.status != JourneyStatus.ARCHIVED)
        .order_by(j.c.key)
    ).mappings()
    return [dict(r) for r in rows]


def enrolment_stats(conn: sa.Connection) -> dict[int, dict[str, Any]]:
    """journey id -> enrolments, converted, last entry."""
    e = s.enrollments
    converted = sa.func.sum(sa.case((e.c.end_reason == "converted", 1), else_=0))
    q = sa.select(e.c.journey_id, sa.func.count(), converted, sa.func.max(e.c.entered_at)).group_by(e.c.journey_id)
    return {
        int(jid): {"enrolments": int(n), "conversions": int(conv or 0), "last_entered_at": last}
        for jid, n, conv, last in conn.execute(q)
    }


def revenue_by_journey(conn: sa.Connection) -> dict[str, float]:
    """journey key -> revenue of its ``journey.converted`` events (the value of each)."""
    e = s.events
    out: dict[str, float] = {}
    q = sa.select(e.c.properties, e.c.value).where(e.c.name == "journey.converted", e.c.value.is_not(None))
    for props, value in conn.execute(q):
        key = str((props or {}).get("journey") or "")
        out[key] = out.get(key, 0.0) + float(value)
    return out


def sends_by_journey(conn: sa.Connection) -> dict[int, int]:
    o = s.outbox
    q = (
        sa.select(o.c.journey_id, sa.func.count())
        .where(o.c.kind == "message", o.c.sent_at.is_not(None), o.c.journey_id.is_not(None))
        .group_by(o.c.journey_id)
    )
    return {int(j): int(n) for j, n in conn.execute(q)}


def human_engagement_by_journey(conn: sa.Connection, since: datetime) -> dict[str, int]:
    """journey key -> opens and clicks since ``since`` not made by a proxy or scanner."""
    e = s.events
    q = sa.select(e.c.properties).where(
        e.c.name.in_(("message.opened", "message.clicked")), e.c.occurred_at >= since
    )
    out: Counter[str] = Counter()
    for (props,) in conn.execute(q):
        p = props or {}
        if p.get("journey") and not p.get("machine"):
            out[str(p["journey"])] += 1
    return dict(out)


def reached_steps(conn: sa.Connection, journey_ids: Collection[int]) -> dict[int, set[str]]:
    """journey id -> step ids its recorded traces mention."""
    if not journey_ids:
        return {}
    t = s.traces
    q = (
        sa.select(t.c.journey_id, t.c.step_id)
        .where(t.c.journey_id.in_(sorted(journey_ids)), t.c.step_id.is_not(None))
        .distinct()
    )
    out: dict[int, set[str]] = {}
    for jid, sid in conn.execute(q):
        out.setdefault(int(jid), set()).add(str(sid))
    return out


def active_overlaps(conn: sa.Connection, journey_ids: Collection[int]) -> list[tuple[tuple[int, ...], int]]:
    """(journey ids, contacts) for contacts in more than one of these journeys right now."""
    if len(journey_ids) < 2:
        return []
    e = s.enrollments
    live = sa.and_(e.c.status != EnrolmentStatus.ENDED, e.c.journey_id.in_(sorted(journey_ids)))
    several = (
        sa.select(e.c.contact_id)
        .where(live)
        .group_by(e.c.contact_id)
        .having(sa.func.count(sa.distinct(e.c.journey_id)) > 1)
        .subquery()
    )
    per_contact: dict[int, set[int]] = {}
    for cid, jid in conn.execute(
        sa.select(e.c.contact_id, e.c.journey_id).where(live, e.c.contact_id.in_(sa.select(several.c.contact_id)))
    ):
        per_contact.setdefault(int(cid), set()).add(int(jid))
    combos = Counter(tuple(sorted(js)) for js in per_contact.values())
    return sorted(combos.items(), key=lambda kv: (-kv[1], kv[0]))


# --------------------------------------------------------------------------- preview populations


def ids_with_attribute(conn: sa.Connection, name: str) -> list[int]:
    c = s.contacts
    if conn.dialect.name == "postgresql":
        cond = sa.func.jsonb_extract_path(c.c.attributes, name).is_not(None)
    else:
        cond = sa.func.json_type(c.c.attributes, sa.func.printf('$."%w"', name)).is_not(None)
    return sorted(int(i) for i in conn.execute(sa.select(c.c.id).where(cond, c.c.anonymous.is_(False))).scalars())


def ids_with_event_since(conn: sa.Connection, name: str, since: datetime) -> list[int]:
    e = s.events
    q = sa.select(e.c.contact_id).where(e.c.name == name, e.c.occurred_at >= since).distinct()
    return sorted(int(c) for c in conn.execute(q).scalars())


def prior_enrolments(
    conn: sa.Connection, journey_id: int, contact_ids: Sequence[int]
) -> dict[int, list[tuple[str, str | None, datetime, datetime | None, str]]]:
    """contact id -> (status, end_reason, entered_at, ended_at, key) of its enrolments in the journey."""
    if not contact_ids:
        return {}
    e = s.enrollments
    out: dict[int, list[tuple[str, str | None, datetime, datetime | None, str]]] = {}
    for start in range(0, len(contact_ids), 500):
        part = list(contact_ids[start : start + 500])
        q = sa.select(e.c.contact_id, e.c.status, e.c.end_reason, e.c.entered_at, e.c.ended_at, e.c.enroll_key).where(
            e.c.journey_id == journey_id, e.c.contact_id.in_(part)
        )
        for cid, *rest in conn.execute(q):
            out.setdefault(int(cid), []).append(tuple(rest))
    return out


def in_flight(conn: sa.Connection, journey_id: int) -> tuple[dict[str, int], int, list[datetime | None]]:
    """What the journey already has going: its unsent messages per channel, its live
    enrolments, and the due time of each of their timers (a paused journey's parked timers
    give their held due time; None when it is not known)."""
    from tidings.domain.journeys.timing import PARKED_AT, PARKED_KEY

    o, e, t = s.outbox, s.enrollments, s.timers
    queued = {
        str(ch): int(n)
        for ch, n in conn.execute(
            sa.select(o.c.channel, sa.func.count())
            .where(o.c.journey_id == journey_id, o.c.kind == "message", o.c.status == "pending")
            .group_by(o.c.channel)
        )
    }
    live = sa.select(e.c.id).where(e.c.journey_id == journey_id, e.c.status != EnrolmentStatus.ENDED)
    n_live = int(conn.execute(sa.select(sa.func.count()).select_from(live.subquery())).scalar_one())
    due: list[datetime | None] = []
    for at, payload in conn.execute(sa.select(t.c.due_at, t.c.payload).where(t.c.enrollment_id.in_(live))):
        if at >= PARKED_AT:
            held = (payload or {}).get(PARKED_KEY)
            due.append(datetime.fromisoformat(held) if held else None)
        else:
            due.append(at)
    return queued, n_live, due


def journey_row(conn: sa.Connection, key: str) -> dict[str, Any] | None:
    """The journey's row (id, key, status, current_version, draft_source), None when unknown."""
    j = s.journeys
    row = conn.execute(
        sa.select(j.c.id, j.c.key, j.c.status, j.c.current_version, j.c.draft_source).where(j.c.key == key)
    ).mappings().first()
    return dict(row) if row is not None else None


def snapshots(conn: sa.Connection, contact_ids: Sequence[int], events_since: datetime) -> dict[int, ContactSnapshot]:
    """Snapshots with their events since ``events_since`` (at most 2000 each) and journeys."""
    return load_snapshots(conn, contact_ids, events=True, events_since=events_since, journeys=True, max_events=2000)


def version_source(conn: sa.Connection, journey_id: int, version: int) -> str | None:
    """The source text of one published version, None when there is no such version."""
    v = s.journey_versions
    src = conn.execute(
        sa.select(v.c.source).where(v.c.journey_id == journey_id, v.c.version == version)
    ).scalar_one_or_none()
    return None if src is None else str(src)
