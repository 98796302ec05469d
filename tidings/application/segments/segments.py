"""Segments: saved rules, validated whole before saving, with preview, members and history.

Keeping memberships current lives in ``memberships`` (``refresh_contact`` for one
contact in the worker, ``refresh_segment`` set-based); both are re-exported here.
Storage is the ``SegmentStore`` port (``application/ports/segments.py``) the caller passes (the
composition root's ``Container.segments``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from tidings.application.ports.segments import SegmentDefinitions, SegmentKeyTaken, SegmentMemberships, SegmentStore
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


def check_rule(repo: SegmentMemberships, source: Any, key: str | None = None) -> Rule:
    """Parse a segment rule; refuse segment cycles (a rule reading itself, directly or not)."""
    if source is None or source == "":
        raise SegmentError("a rule is required", "rule")
    try:
        rule = parse_contact_rule(source)
    except RuleError as exc:
        raise SegmentError(exc.message, "rule", exc.path, exc.column) from None
    if key is not None:
        graph = {s.key: set(s.deps.segments) for s in all_segments(repo)}
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


def saved_segments_version(repo: SegmentDefinitions) -> tuple[Any, ...]:
    """Changes whenever a segment is created, changed or deleted (cheap enough to poll)."""
    return repo.version()


def sync_indexes(store: SegmentStore) -> tuple[list[str], list[str]] | None:
    """Bring the optional rule indexes (``store.rule_indexes``) in line with the saved segments:
    create what their rules need, drop what none needs; idempotent, shared between segments.

    Saving a segment does not do this (``CREATE INDEX`` on a big table would hold the request):
    the worker's segment refresher runs it after every change. Call it to have the indexes now
    (benchmarks, tests). Returns (present, dropped), or None when another process is at it."""
    with store.reading() as repo:
        rules = [seg.rule for seg in all_segments(repo)]
    return store.sync_rule_indexes(rules)


# ----------------------------------------------------------------------------- CRUD


def create_segment(
    store: SegmentStore,
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
    try:  # the unique key decides between concurrent creates: the loser gets 409, not a 500
        with store.writing() as repo:
            if repo.id_of(key) is not None:
                raise SegmentError(f"segment {key!r} already exists", "key", status=409)
            rule = check_rule(repo, rule_source, key)
            sid = repo.insert(
                {
                    "key": key,
                    "name": name,
                    "description": description,
                    "rule": to_json(rule),
                    "rule_text": _rule_text(rule_source, rule),
                    "created_at": now,
                    "updated_at": now,
                    "next_refresh_at": _next_refresh(rule, now, refresh_every),
                }
            )
    except SegmentKeyTaken:
        raise SegmentError(f"segment {key!r} already exists", "key", status=409) from None
    refresh_segment(store, sid, now)  # its indexes follow: the segment refresher's sync_indexes
    return get_segment(store, key) or {}


def update_segment(
    store: SegmentStore,
    key: str,
    now: datetime,
    *,
    name: str | None = None,
    rule_source: Any = None,
    description: str | None = None,
    refresh_every: timedelta = DEFAULT_REFRESH,
) -> dict[str, Any]:
    with store.writing() as repo:
        row = repo.row(key)
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
            rule = check_rule(repo, rule_source, key)
            values.update(
                rule=to_json(rule),
                rule_text=_rule_text(rule_source, rule),
                next_refresh_at=_next_refresh(rule, now, refresh_every),
            )
        repo.update(int(row["id"]), values)
    if rule_source is not None:
        refresh_segment(store, int(row["id"]), now)
    return get_segment(store, key) or {}


def delete_segment(store: SegmentStore, key: str) -> bool:
    """Delete a segment and its membership history (no exit events: nobody left, it ended)."""
    with store.writing() as repo:
        sid = repo.id_of(key)
        if sid is None:
            return False
        users = [x.key for x in all_segments(repo) if key in x.deps.segments and x.id != sid]
        if users:
            raise SegmentError(f"segment {key!r} is used by segment(s) {', '.join(users)}", "key", status=409)
        repo.delete(sid)
    return True


def segment_id(store: SegmentStore, key: str) -> int | None:
    with store.reading() as repo:
        return repo.id_of(key)


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


def list_segments(store: SegmentStore) -> list[dict[str, Any]]:
    with store.reading() as repo:
        return [_public(r) for r in repo.listed()]


def get_segment(store: SegmentStore, key: str) -> dict[str, Any] | None:
    with store.reading() as repo:
        rows = repo.listed(key)
    return _public(rows[0]) if rows else None


def members(store: SegmentStore, key: str, *, limit: int = 50, after: int = 0) -> dict[str, Any]:
    """Current members, by contact id, keyset-paginated (``after`` = last id of the previous page)."""
    with store.reading() as repo:
        sid = repo.id_of(key)
        if sid is None:
            raise SegmentError(f"no segment {key!r}", "key", status=404)
        items = repo.member_page(sid, after=after, limit=limit)
        total = repo.member_count(sid)
    return {"items": items, "total": total, "next_after": items[-1]["id"] if len(items) == limit else None}


def history(
    store: SegmentStore, key: str, *, contact_id: int | None = None, limit: int = 100, before: int | None = None
) -> list[dict[str, Any]]:
    """Membership periods (entered_at / exited_at), newest first."""
    with store.reading() as repo:
        sid = repo.id_of(key)
        if sid is None:
            raise SegmentError(f"no segment {key!r}", "key", status=404)
        return repo.history(sid, contact_id=contact_id, before=before, limit=limit)


# ----------------------------------------------------------------------------- preview


def preview(store: SegmentStore, rule_source: Any, now: datetime, *, sample: int = 20) -> dict[str, Any]:
    """Count and a sample of who a rule matches now, with warnings; nothing is saved."""
    with store.reading() as repo:
        rule = check_rule(repo, rule_source)
        count, rows = repo.preview(rule, now, sample)
        warnings = rule_warnings(repo, rule)
    return {
        "count": count,
        "sample": rows,
        "warnings": warnings,
        "rule": to_json(rule),
        "rule_text": to_text(rule),
    }


def rule_warnings(repo: SegmentDefinitions, rule: Rule) -> list[str]:
    """Things the rule names that nobody has (valid, but it likely matches nobody)."""
    d = dependencies(rule)
    missing = repo.missing_names(
        attributes=sorted(d.attributes),
        events=sorted(d.events - {"*"}),
        tags=sorted(d.tags),
        segments=sorted(d.segments),
        journeys=sorted(d.journeys),
    )
    return (
        [f"no contact has the attribute {a!r}" for a in missing["attributes"]]
        + [f"no event named {n!r} has been recorded" for n in missing["events"]]
        + [f"no contact has the tag {t!r}" for t in missing["tags"]]
        + [f"there is no segment {k!r}" for k in missing["segments"]]
        + [f"there is no journey {k!r}" for k in missing["journeys"]]
    )
