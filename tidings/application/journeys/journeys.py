"""Journey use cases: validate, save a draft, publish immutable versions, pause/resume, migrate.

Publishing stores the document's source and its normalised form with a checksum; publishing
the same document again is a no-op that returns the existing version. Running enrolments stay
on the version they entered; :func:`migrate` moves *waiting* enrolments to another version by
step-id mapping, and shows who would move where (dry run) before doing it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.application.journeys import paused
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.model import EnrollmentState, JourneyDoc, JourneyError, Problem
from tidings.store import enrollments as est
from tidings.store import journeys as jst
from tidings.store import schema


class NotFound(LookupError):
    """No such journey / version / enrolment."""


class Conflict(ValueError):
    """The request does not fit the journey's current state (e.g. publishing another key)."""


def known_templates(conn: sa.Connection) -> set[str] | None:
    """Template keys a send step may name; None (no check) when no template exists yet."""
    keys = set(conn.execute(sa.select(schema.templates.c.key).distinct()).scalars())
    return keys or None


def validate(conn: sa.Connection, text: str) -> JourneyDoc:
    """Parse and validate a document (raises JourneyError naming lines and step ids)."""
    return parse_journey(text, templates=known_templates(conn))


def checksum(doc: JourneyDoc) -> str:
    return hashlib.sha256(doc.to_json().encode()).hexdigest()


def save_draft(conn: sa.Connection, text: str, now: datetime) -> dict[str, Any]:
    """Validate and keep ``text`` as the journey's draft (creating the journey if new)."""
    doc = validate(conn, text)
    row = jst.get_journey(conn, doc.key, for_update=True)
    if row is None:
        jid = jst.create_journey(conn, doc.key, doc.name, text, now)
    else:
        jid = int(row["id"])
        jst.update_journey(conn, jid, now, draft_source=text, name=doc.name)
    return {"key": doc.key, "id": jid, "draft": True}


@dataclass(frozen=True)
class Published:
    key: str
    journey_id: int
    version: int
    checksum: str
    created: bool
    doc: JourneyDoc


def publish(
    conn: sa.Connection,
    now: datetime,
    *,
    text: str | None = None,
    key: str | None = None,
    by: str | None = None,
) -> Published:
    """Publish ``text`` (or the saved draft of ``key``) as a new immutable version.

    A journey becomes active on its first publication; a paused one stays paused. Date
    triggers are (re)scheduled for every contact.
    """
    if text is None:
        if key is None:
            raise ValueError("publish needs a document or a journey key")
        row = jst.get_journey(conn, key)
        if row is None:
            raise NotFound(f"no journey {key!r}")
        if not row["draft_source"]:
            raise Conflict(f"journey {key!r} has no draft to publish")
        text = str(row["draft_source"])
    doc = validate(conn, text)
    if key is not None and doc.key != key:
        raise Conflict(f"the document's key is {doc.key!r}, not {key!r}")
    digest = checksum(doc)
    row = jst.get_journey(conn, doc.key, for_update=True)
    if row is None:
        jid = jst.create_journey(conn, doc.key, doc.name, None, now)
        row = jst.get_journey_by_id(conn, jid)
        assert row is not None
    jid = int(row["id"])
    current = row["current_version"]
    if current is not None:
        latest = jst.get_version(conn, jid, int(current))
        if latest is not None and latest["checksum"] == digest:
            return Published(doc.key, jid, int(current), digest, False, doc)
    last = max((int(v["version"]) for v in jst.versions(conn, jid)), default=0)
    version = last + 1
    jst.insert_version(conn, jid, version, doc.raw, text, digest, now, by)
    status = "paused" if row["status"] == "paused" else "active"
    jst.update_journey(
        conn, jid, now, current_version=version, status=status, name=doc.name, draft_source=None
    )
    from tidings.application.journeys.datetriggers import schedule_for_journey

    schedule_for_journey(conn, jid, doc, now, paused=status == "paused")
    return Published(doc.key, jid, version, digest, True, doc)


def _require(conn: sa.Connection, key: str, *, for_update: bool = False) -> Mapping[str, Any]:
    row = jst.get_journey(conn, key, for_update=for_update)
    if row is None:
        raise NotFound(f"no journey {key!r}")
    return row


def pause(conn: sa.Connection, key: str, now: datetime) -> dict[str, Any]:
    """Hold the journey's people in place until :func:`resume` (see ``services/paused.py``).

    No new entries; timers and unsent messages are held; events and signals that would move an
    enrolment are held and applied on resume; exits and goals still end enrolments.
    """
    row = _require(conn, key, for_update=True)
    if row["status"] not in ("active", "paused"):
        raise Conflict(f"journey {key!r} is {row['status']}: only an active journey can be paused")
    held = est.park_journey_timers(conn, int(row["id"]))
    messages = paused.park_outbox(conn, int(row["id"]))
    jst.update_journey(conn, int(row["id"]), now, status="paused")
    return {"key": key, "status": "paused", "held_timers": held, "held_messages": messages}


def resume(conn: sa.Connection, key: str, now: datetime) -> dict[str, Any]:
    row = _require(conn, key, for_update=True)
    if row["status"] not in ("active", "paused"):
        raise Conflict(f"journey {key!r} is {row['status']}: only a paused journey can be resumed")
    released = est.unpark_journey_timers(conn, int(row["id"]))
    messages = paused.unpark_outbox(conn, int(row["id"]), now)
    jst.update_journey(conn, int(row["id"]), now, status="active")
    return {"key": key, "status": "active", "released_timers": released, **messages}


def describe(conn: sa.Connection, key: str) -> dict[str, Any]:
    """The journey with its versions and where its enrolments are (per version, status, step)."""
    row = _require(conn, key)
    e = schema.enrollments
    counts = conn.execute(
        sa.select(e.c.version, e.c.status, e.c.step_id, sa.func.count())
        .where(e.c.journey_id == row["id"])
        .group_by(e.c.version, e.c.status, e.c.step_id)
        .order_by(e.c.version, e.c.status, e.c.step_id)
    ).all()
    return {
        **summary(row),
        "draft": bool(row["draft_source"]),
        "versions": [
            {
                "version": v["version"],
                "checksum": v["checksum"],
                "published_at": v["published_at"].isoformat(),
                "published_by": v["published_by"],
            }
            for v in jst.versions(conn, int(row["id"]))
        ],
        "enrollments": [{"version": v, "status": s, "step": st, "count": n} for v, s, st, n in counts],
    }


def summary(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "key": row["key"],
        "name": row["name"],
        "status": row["status"],
        "current_version": row["current_version"],
        "updated_at": row["updated_at"].isoformat(),
    }


def list_all(conn: sa.Connection) -> list[dict[str, Any]]:
    return [summary(r) for r in jst.list_journeys(conn)]


def version_doc(conn: sa.Connection, journey_id: int, version: int) -> tuple[JourneyDoc, Mapping[str, Any]]:
    row = jst.get_version(conn, journey_id, version)
    if row is None:
        raise NotFound(f"no version {version} of journey {journey_id}")
    return parse_journey(str(row["source"])), row


# --------------------------------------------------------------------------- migration


def migrate(
    conn: sa.Connection,
    key: str,
    now: datetime,
    *,
    to_version: int | None = None,
    from_version: int | None = None,
    mapping: Mapping[str, str] | None = None,
    dry_run: bool = True,
) -> dict[str, Any]:
    """Move waiting enrolments of older versions to ``to_version`` (default: current).

    A waiting enrolment at step S moves to ``mapping[S]`` (default: S itself) when the target
    version has that step with the same type; otherwise it stays where it is, listed with the
    reason. Timers keep their due time and token, so a wait in progress continues unchanged.
    """
    row = _require(conn, key, for_update=not dry_run)
    jid = int(row["id"])
    target = int(to_version or row["current_version"] or 0)
    new_doc, _ = version_doc(conn, jid, target)
    mapping = dict(mapping or {})
    e = schema.enrollments
    q = sa.select(e.c.id, e.c.contact_id, e.c.version, e.c.step_id, e.c.state).where(
        e.c.journey_id == jid, e.c.status == "waiting", e.c.version != target
    )
    if from_version is not None:
        q = q.where(e.c.version == from_version)
    docs: dict[int, JourneyDoc] = {}
    moves: list[dict[str, Any]] = []
    stays: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for r in conn.execute(q.order_by(e.c.id)).mappings():
        v = int(r["version"])
        if v not in docs:
            docs[v] = version_doc(conn, jid, v)[0]
        old_step = docs[v].steps.get(str(r["step_id"]))
        dest = mapping.get(str(r["step_id"]), str(r["step_id"]))
        new_step = new_doc.steps.get(dest)
        item = {
            "enrollment_id": r["id"],
            "contact_id": r["contact_id"],
            "from_version": v,
            "from_step": r["step_id"],
            "to_version": target,
            "to_step": dest,
        }
        if new_step is None:
            stays.append({**item, "reason": f"version {target} has no step {dest!r}"})
            continue
        if old_step is not None and old_step.type != new_step.type:
            stays.append({**item, "reason": f"step {dest!r} is a {new_step.type}, not a {old_step.type}"})
            continue
        moves.append(item)
        state = EnrollmentState.from_dict(r["state"])
        state.step_id = dest
        if state.waiting is not None:
            state.waiting.step_id = dest
        updates.append({"_id": r["id"], "version": target, "step_id": dest, "state": state.to_dict()})
    if not dry_run and updates:
        conn.execute(
            sa.update(e)
            .where(e.c.id == sa.bindparam("_id"))
            .values(
                version=sa.bindparam("version"),
                step_id=sa.bindparam("step_id"),
                state=sa.bindparam("state"),
                updated_at=now,
            ),
            updates,
        )
        t = schema.traces
        conn.execute(
            sa.insert(t),
            [
                {
                    "contact_id": m["contact_id"],
                    "enrollment_id": m["enrollment_id"],
                    "journey_id": jid,
                    "journey_version": target,
                    "step_id": m["to_step"],
                    "stimulus": "migration",
                    "action": "migrated",
                    "detail": {"from_version": m["from_version"], "from_step": m["from_step"]},
                    "at": now,
                }
                for m in moves
            ],
        )
    by_move: dict[tuple[int, str, str], int] = {}
    for m in moves:
        k = (m["from_version"], str(m["from_step"]), m["to_step"])
        by_move[k] = by_move.get(k, 0) + 1
    return {
        "key": key,
        "to_version": target,
        "dry_run": dry_run,
        "moved": len(moves) if not dry_run else 0,
        "would_move": len(moves),
        "summary": [
            {"from_version": v, "from_step": s, "to_step": d, "count": n}
            for (v, s, d), n in sorted(by_move.items())
        ],
        "moves": moves,
        "unmapped": stays,
    }


def problems_details(exc: JourneyError) -> list[dict[str, Any]]:
    return exc.details()


__all__ = [
    "Conflict",
    "JourneyError",
    "NotFound",
    "Problem",
    "Published",
    "describe",
    "list_all",
    "migrate",
    "pause",
    "publish",
    "resume",
    "save_draft",
    "validate",
]
