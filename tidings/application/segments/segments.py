"""Segments: saved rules, validated whole before saving, with preview, members and history.

Keeping memberships current lives in ``services.memberships`` (``refresh_contact`` for one
contact in the worker, ``refresh_segment`` set-based); both are re-exported here.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tidings.application.segments.memberships import (
    DEFAULT_REFRESH,
    all_segments,
    due_refreshes,
    refresh_contact,
    refresh_segment,
)
from tidings.domain.names import control_problem
from tidings.domain.rules import Rule, RuleError, dependencies, parse_contact_rule, to_json, to_text
from tidings.domain.rules.ast import KEY_RE
from tidings.store import schema
from tidings.store.rule_indexes import rule_query, saved_rules_version, sync_rule_indexes

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_REFRESH",
    "SegmentError",
    "check_rule",
    "create_segment",
    "delete_segment",
    "due_refreshes",
    "get_segment",
    "history",
    "list_segments",
    "members",
    "preview",
    "refresh_contact",
    "refresh_segment",
    "rule_warnings",
    "segment_id",
    "sync_indexes",
    "update_segment",
]


class SegmentError(ValueError):
    """A refused segment change; ``field`` names the input, ``path``/``column`` locate a rule error."""

    def __init__(
        self,
        message: str,
        field: str = "",
        path: list[Any] | None = None,
        column: int | None = None,
        status: int = 422,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.path = path or []
        self.column = column
        self.status = status


# ----------------------------------------------------------------------------- validation


def check_rule(conn: sa.Connection, source: Any, key: str | None = None) -> Rule:
    """Parse a segment rule; refuse segment cycles (a rule reading itself, directly or not)."""
    if source is None or source == "":
        raise SegmentError("a rule is required", "rule")
    try:
        rule = parse_contact_rule(source)
    except RuleError as exc:
        raise SegmentError(exc.message, "rule", exc.path, exc.column) from None
    if key is not None:
        graph = {s.key: set(s.deps.segments) for s in all_segments(conn)}
        graph[key] = set(dependencies(rule).segments)
        seen: set[str] = set()
        stack = list(graph[key])
        while stack:
            k = stack.pop()
            if k == key:
                raise SegmentError(f"segment {key!r} would depend on itself (through in_segment)", "rule")
            if k not in seen:
                seen.add(k)
                stack.extend(graph.get(k, ()))
    return rule


def _rule_text(source: Any, rule: Rule) -> str:
    return source if isinstance(source, str) else to_text(rule)


def _next_refresh(rule: Rule, now: datetime, every: timedelta) -> datetime | None:
    return now + every if dependencies(rule).time_relative else None


def saved_segments_version(conn: sa.Connection) -> tuple[Any, ...]:
    """Changes whenever a segment is created, changed or deleted (cheap enough to poll)."""
    return saved_rules_version(conn)


def sync_indexes(engine: sa.Engine) -> tuple[list[str], list[str]] | None:
    """Bring the optional rule indexes (``store.rule_indexes``) in line with the saved segments:
    create what their rules need, drop what none needs; idempotent, shared between segments.

    Saving a segment does not do this (``CREATE INDEX`` on a big table would hold the request):
    the worker's segment refresher runs it after every change. Call it to have the indexes now
    (benchmarks, tests). Returns (present, dropped), or None when another process is at it."""
    with engine.connect() as conn:
        rules = [seg.rule for seg in all_segments(conn)]
    return sync_rule_indexes(engine, rules)


# ----------------------------------------------------------------------------- CRUD


def create_segment(
    engine: sa.Engine,
    key: str,
    name: str,
    rule_source: Any,
    now: datetime,
    *,
    description: str = "",
    refresh_every: timedelta = DEFAULT_REFRESH,
) -> dict[str, Any]:
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise SegmentError("key: letters, digits, _ . : - (up to 100)", "key")
    if not name or not isinstance(name, str):
        raise SegmentError("name is required", "name")
    if (problem := control_problem(name)) is not None:
        raise SegmentError(problem, "name")
    s = schema.segments
    try:  # the unique key decides between concurrent creates: the loser gets 409, not a 500
        with engine.begin() as conn:
            if conn.execute(sa.select(s.c.id).where(s.c.key == key)).first() is not None:
                raise SegmentError(f"segment {key!r} already exists", "key", status=409)
            rule = check_rule(conn, rule_source, key)
            sid = conn.execute(
                sa.insert(s)
                .values(
                    key=key,
                    name=name,
                    description=description,
                    rule=to_json(rule),
                    rule_text=_rule_text(rule_source, rule),
                    created_at=now,
                    updated_at=now,
                    next_refresh_at=_next_refresh(rule, now, refresh_every),
                )
                .returning(s.c.id)
            ).scalar_one()
    except sa.exc.IntegrityError:
        raise SegmentError(f"segment {key!r} already exists", "key", status=409) from None
    refresh_segment(engine, sid, now)  # its indexes follow: the segment refresher's sync_indexes
    return get_segment(engine, key) or {}


def update_segment(
    engine: sa.Engine,
    key: str,
    now: datetime,
    *,
    name: str | None = None,
    rule_source: Any = None,
    description: str | None = None,
    refresh_every: timedelta = DEFAULT_REFRESH,
) -> dict[str, Any]:
    s = schema.segments
    with engine.begin() as conn:
        row = conn.execute(sa.select(s).where(s.c.key == key)).mappings().first()
        if row is None:
            raise SegmentError(f"no segment {key!r}", "key", status=404)
        values: dict[str, Any] = {"updated_at": max(now, row["updated_at"] + timedelta(microseconds=1))}
        if name is not None:
            if not name:
                raise SegmentError("name is required", "name")
            if (problem := control_problem(name)) is not None:
                raise SegmentError(problem, "name")
            values["name"] = name
        if description is not None:
            values["description"] = description
        if rule_source is not None:
            rule = check_rule(conn, rule_source, key)
            values.update(
                rule=to_json(rule),
                rule_text=_rule_text(rule_source, rule),
                next_refresh_at=_next_refresh(rule, now, refresh_every),
            )
        conn.execute(sa.update(s).where(s.c.id == row["id"]).values(**values))
    if rule_source is not None:
        refresh_segment(engine, int(row["id"]), now)
    return get_segment(engine, key) or {}


def delete_segment(engine: sa.Engine, key: str) -> bool:
    """Delete a segment and its membership history (no exit events: nobody left, it ended)."""
    s = schema.segments
    with engine.begin() as conn:
        sid = conn.execute(sa.select(s.c.id).where(s.c.key == key)).scalar_one_or_none()
        if sid is None:
            return False
        users = [x.key for x in all_segments(conn) if key in x.deps.segments and x.id != sid]
        if users:
            raise SegmentError(f"segment {key!r} is used by segment(s) {', '.join(users)}", "key", status=409)
        conn.execute(sa.delete(schema.segment_memberships).where(schema.segment_memberships.c.segment_id == sid))
        conn.execute(sa.delete(s).where(s.c.id == sid))
    return True


def segment_id(engine: sa.Engine, key: str) -> int | None:
    s = schema.segments
    with engine.connect() as conn:
        sid = conn.execute(sa.select(s.c.id).where(s.c.key == key)).scalar_one_or_none()
    return None if sid is None else int(sid)


def _member_count(conn: sa.Connection, sid: Any) -> Any:
    m = schema.segment_memberships
    return sa.select(sa.func.count()).where(m.c.segment_id == sid, m.c.exited_at.is_(None)).scalar_subquery()


def _public(row: Any) -> dict[str, Any]:
    return {
        "key": row["key"],
        "name": row["name"],
        "description": row["description"],
        "rule": row["rule"],
        "rule_text": row["rule_text"],
        "members": int(row["members"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "evaluated_at": row["evaluated_at"],
        "next_refresh_at": row["next_refresh_at"],
    }


def list_segments(engine: sa.Engine) -> list[dict[str, Any]]:
    s = schema.segments
    with engine.connect() as conn:
        rows = conn.execute(sa.select(s, _member_count(conn, s.c.id).label("members")).order_by(s.c.key)).mappings()
        return [_public(r) for r in rows]


def get_segment(engine: sa.Engine, key: str) -> dict[str, Any] | None:
    s = schema.segments
    with engine.connect() as conn:
        row = (
            conn.execute(sa.select(s, _member_count(conn, s.c.id).label("members")).where(s.c.key == key))
            .mappings()
            .first()
        )
        return None if row is None else _public(row)


def members(engine: sa.Engine, key: str, *, limit: int = 50, after: int = 0) -> dict[str, Any]:
    """Current members, by contact id, keyset-paginated (``after`` = last id of the previous page)."""
    s, m, c = schema.segments, schema.segment_memberships, schema.contacts
    with engine.connect() as conn:
        sid = conn.execute(sa.select(s.c.id).where(s.c.key == key)).scalar_one_or_none()
        if sid is None:
            raise SegmentError(f"no segment {key!r}", "key", status=404)
        rows = (
            conn.execute(
                sa.select(c.c.id, c.c.email, c.c.first_name, c.c.last_name, m.c.entered_at)
                .join(m, m.c.contact_id == c.c.id)
                .where(m.c.segment_id == sid, m.c.exited_at.is_(None), c.c.id > after)
                .order_by(c.c.id)
                .limit(limit)
            )
            .mappings()
            .all()
        )
        total = conn.execute(sa.select(_member_count(conn, sid))).scalar_one()
    items = [dict(r) for r in rows]
    return {"items": items, "total": total, "next_after": items[-1]["id"] if len(items) == limit else None}


def history(
    engine: sa.Engine, key: str, *, contact_id: int | None = None, limit: int = 100, before: int | None = None
) -> list[dict[str, Any]]:
    """Membership periods (entered_at / exited_at), newest first."""
    s, m = schema.segments, schema.segment_memberships
    with engine.connect() as conn:
        sid = conn.execute(sa.select(s.c.id).where(s.c.key == key)).scalar_one_or_none()
        if sid is None:
            raise SegmentError(f"no segment {key!r}", "key", status=404)
        q = sa.select(m.c.id, m.c.contact_id, m.c.entered_at, m.c.exited_at).where(m.c.segment_id == sid)
        if contact_id is not None:
            q = q.where(m.c.contact_id == contact_id)
        if before is not None:
            q = q.where(m.c.id < before)
        return [dict(r) for r in conn.execute(q.order_by(m.c.id.desc()).limit(limit)).mappings()]


# ----------------------------------------------------------------------------- preview


def preview(engine: sa.Engine, rule_source: Any, now: datetime, *, sample: int = 20) -> dict[str, Any]:
    """Count and a sample of who a rule matches now, with warnings; nothing is saved."""
    with engine.connect() as conn:
        rule = check_rule(conn, rule_source)
        q = rule_query(conn, rule, now).subquery()
        count = conn.execute(sa.select(sa.func.count()).select_from(q)).scalar_one()
        c = schema.contacts
        ids = sa.select(q.c.contact_id).order_by(q.c.contact_id).limit(sample).subquery()
        rows = (
            conn.execute(
                sa.select(c.c.id, c.c.email, c.c.first_name, c.c.last_name, c.c.lifecycle_stage)
                .where(c.c.id.in_(sa.select(ids.c.contact_id)))
                .order_by(c.c.id)
            )
            .mappings()
            .all()
        )
        warnings = rule_warnings(conn, rule)
    return {
        "count": count,
        "sample": [dict(r) for r in rows],
        "warnings": warnings,
        "rule": to_json(rule),
        "rule_text": to_text(rule),
    }


def rule_warnings(conn: sa.Connection, rule: Rule) -> list[str]:
    """Things the rule names that nobody has (valid, but it likely matches nobody)."""
    d = dependencies(rule)
    out: list[str] = []
    c = schema.contacts
    for a in sorted(d.attributes):
        if conn.dialect.name == "postgresql":
            has = c.c.attributes.op("?")(a)
        else:
            has = sa.func.json_type(c.c.attributes, f'$."{a}"').is_not(None)
        if conn.execute(sa.select(c.c.id).where(has).limit(1)).first() is None:
            out.append(f"no contact has the attribute {a!r}")
    e = schema.events
    for name in sorted(d.events - {"*"}):
        if conn.execute(sa.select(e.c.id).where(e.c.name == name).limit(1)).first() is None:
            out.append(f"no event named {name!r} has been recorded")
    t = schema.contact_tags
    for tag in sorted(d.tags):
        if conn.execute(sa.select(t.c.contact_id).where(t.c.tag == tag).limit(1)).first() is None:
            out.append(f"no contact has the tag {tag!r}")
    s = schema.segments
    for key in sorted(d.segments):
        if conn.execute(sa.select(s.c.id).where(s.c.key == key)).first() is None:
            out.append(f"there is no segment {key!r}")
    j = schema.journeys
    for key in sorted(d.journeys):
        if conn.execute(sa.select(j.c.id).where(j.c.key == key)).first() is None:
            out.append(f"there is no journey {key!r}")
    return out


# ----------------------------------------------------------------------------- membership changes
