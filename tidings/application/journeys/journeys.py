"""Journey use cases: validate, save a draft, publish immutable versions, pause/resume, migrate.

Publishing stores the document's source and its normalised form with a checksum; publishing
the same document again is a no-op that returns the existing version. Running enrolments stay
on the version they entered; :func:`migrate` moves *waiting* enrolments to another version by
step-id mapping, and shows who would move where (dry run) before doing it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tidings.application.journeys.datetriggers import plan_journey
from tidings.application.journeys.paused import ENDED_BY_CRITERIA
from tidings.application.ports.journeys import JourneysUnitOfWork
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.model import EnrollmentState, JourneyDoc, JourneyError, Problem
from tidings.domain.journeys.signalnames import check_template_signals
from tidings.domain.statuses import JourneyStatus
from tidings.domain.templates import signal_links, source_from_row


class NotFound(LookupError):
    """No such journey / version / enrolment."""


class Conflict(ValueError):
    """The request does not fit the journey's current state (e.g. publishing another key)."""


def known_templates(uow: JourneysUnitOfWork) -> set[str] | None:
    """Template keys a send step may name; None (no check) when no template exists yet."""
    return uow.templates.keys() or None


def validate(uow: JourneysUnitOfWork, text: str) -> JourneyDoc:
    """Parse and validate a document (raises JourneyError naming lines and step ids).

    This and the other journey use cases run in the caller's open unit of work."""
    doc = parse_journey(text, templates=known_templates(uow))
    problems = check_template_signals(doc, template_signal_links(uow, doc))
    if problems:
        raise JourneyError(problems)
    return doc


def template_signal_links(uow: JourneysUnitOfWork, doc: JourneyDoc) -> dict[str, set[str]]:
    """The signals each template a send step of ``doc`` names links to (every variant's)."""
    wanted = {str(s.config["template"]) for s in doc.steps.values() if s.type == "send" and s.config.get("template")}
    links: dict[str, set[str]] = {}
    if not wanted:
        return links
    for row in uow.templates.all():
        if row["key"] in wanted:
            links.setdefault(row["key"], set()).update(signal_links(source_from_row(row)))
    return links


def checksum(doc: JourneyDoc) -> str:
    """What makes a new version: the document without ``layout`` (where the builder draws the
    steps; moving a box is not a change of the journey)."""
    meant = {k: v for k, v in doc.raw.items() if k != "layout"}
    return hashlib.sha256(json.dumps(meant, sort_keys=True, default=str).encode()).hexdigest()


def save_draft(uow: JourneysUnitOfWork, text: str, now: datetime) -> dict[str, Any]:
    """Validate and keep ``text`` as the journey's draft (creating the journey if new)."""
    doc = validate(uow, text)
    row = uow.journeys.get(doc.key, for_update=True)
    if row is None:
        jid = uow.journeys.add(doc.key, doc.name, text, now)
    else:
        jid = int(row["id"])
        uow.journeys.update(jid, now, draft_source=text, name=doc.name)
    return {"key": doc.key, "id": jid, "draft": True}


@dataclass(frozen=True)
class Published:
    key: str
    journey_id: int
    version: int
    checksum: str
    created: bool
    doc: JourneyDoc
    #: loops in the journey map through this journey (allowed because it declares loop_limit).
    warnings: tuple[str, ...] = ()
    #: name-check warnings (names nothing produces or defines), see ``application/control/audit_names``
    name_warnings: tuple[Any, ...] = ()


def publish(
    uow: JourneysUnitOfWork,
    now: datetime,
    *,
    text: str | None = None,
    key: str | None = None,
    by: str | None = None,
    check_names: Callable[[JourneyDoc], Sequence[Any]] | None = None,
) -> Published:
    """Publish ``text`` (or the saved draft of ``key``) as a new immutable version.

    A journey becomes active on its first publication; a paused one stays paused. Date
    triggers are (re)scheduled for every contact. ``check_names`` (the name checks of
    ``application/control/audit_names``) gives the warnings kept on the result, or refuses the
    document by raising.
    """
    if text is None:
        if key is None:
            raise ValueError("publish needs a document or a journey key")
        row = uow.journeys.get(key)
        if row is None:
            raise NotFound(f"no journey {key!r}")
        if not row["draft_source"]:
            raise Conflict(f"journey {key!r} has no draft to publish")
        text = str(row["draft_source"])
    doc = validate(uow, text)
    if key is not None and doc.key != key:
        raise Conflict(f"the document's key is {doc.key!r}, not {key!r}")
    loops = _loops_through(uow, doc)
    if loops and doc.settings.loop_limit is None:
        raise Conflict(
            "; ".join(loops) + ": declare settings.loop_limit (e.g. loop_limit: 3) to publish it anyway;"
            " the loop breaker then stops the chain at that many rounds"
        )
    names = tuple(check_names(doc)) if check_names is not None else ()
    digest = checksum(doc)
    row = uow.journeys.get(doc.key, for_update=True)
    if row is None:
        jid = uow.journeys.add(doc.key, doc.name, None, now)
        row = uow.journeys.get_by_id(jid)
        assert row is not None
    jid = int(row["id"])
    current = row["current_version"]
    if current is not None:
        latest = uow.journeys.get_version(jid, int(current))
        if latest is not None and latest["checksum"] == digest:
            return Published(doc.key, jid, int(current), digest, False, doc, tuple(loops), names)
    last = max((int(v["version"]) for v in uow.journeys.versions(jid)), default=0)
    version = last + 1
    uow.journeys.add_version(jid, version, document=doc.raw, source=text, checksum=digest, now=now, by=by)
    status = JourneyStatus.PAUSED if row["status"] == JourneyStatus.PAUSED else JourneyStatus.ACTIVE
    uow.journeys.update(jid, now, current_version=version, status=status, name=doc.name, draft_source=None)
    plan_journey(uow.journey_runs, jid, doc, now, paused=status == JourneyStatus.PAUSED)
    return Published(doc.key, jid, version, digest, True, doc, tuple(loops), names)


def _loops_through(uow: JourneysUnitOfWork, doc: JourneyDoc) -> list[str]:
    """Cycles of the journey map through ``doc`` among the journeys that are not archived."""
    from tidings.application.control import mapcheck

    sources = []
    for r in uow.journeys.all():
        if r["status"] != "archived" and r["current_version"] and r["key"] != doc.key:
            v = uow.journeys.get_version(int(r["id"]), int(r["current_version"]))
            if v is not None:
                sources.append((str(r["key"]), str(v["source"])))
    seg_rules = uow.journey_runs.segment_rules()
    return mapcheck.cycles_through(mapcheck.parse_sources(sources), seg_rules, doc)


def _require(uow: JourneysUnitOfWork, key: str, *, for_update: bool = False) -> Mapping[str, Any]:
    row = uow.journeys.get(key, for_update=for_update)
    if row is None:
        raise NotFound(f"no journey {key!r}")
    return row


def pause(uow: JourneysUnitOfWork, key: str, now: datetime) -> dict[str, Any]:
    """Hold the journey's people in place until :func:`resume` (see ``application/journeys/paused.py``).

    No new entries; timers and unsent messages are held; events and signals that would move an
    enrolment are held and applied on resume; exits and goals still end enrolments.
    """
    row = _require(uow, key, for_update=True)
    if row["status"] not in ("active", "paused"):
        raise Conflict(f"journey {key!r} is {row['status']}: only an active journey can be paused")
    held, messages = uow.journey_runs.hold(int(row["id"]))
    uow.journeys.update(int(row["id"]), now, status=JourneyStatus.PAUSED)
    return {"key": key, "status": "paused", "held_timers": held, "held_messages": messages}


def resume(uow: JourneysUnitOfWork, key: str, now: datetime) -> dict[str, Any]:
    """Release what :func:`pause` held; messages of enrolments ended meanwhile by criteria are skipped."""
    row = _require(uow, key, for_update=True)
    if row["status"] not in ("active", "paused"):
        raise Conflict(f"journey {key!r} is {row['status']}: only a paused journey can be resumed")
    released = uow.journey_runs.release(int(row["id"]), now, skip_ended_by=ENDED_BY_CRITERIA)
    uow.journeys.update(int(row["id"]), now, status=JourneyStatus.ACTIVE)
    return {"key": key, "status": "active", **released}


def describe(uow: JourneysUnitOfWork, key: str) -> dict[str, Any]:
    """The journey with its versions and where its enrolments are (per version, status, step)."""
    row = _require(uow, key)
    counts = uow.journey_runs.enrollment_counts(int(row["id"]))
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
            for v in uow.journeys.versions(int(row["id"]))
        ],
        "enrollments": [{"version": v, "status": s, "step": st, "count": n} for v, s, st, n in counts],
        "control": _control(uow, row),
    }


def _control(uow: JourneysUnitOfWork, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The current version's stance on the global send policy and the loop breaker."""
    if not row["current_version"]:
        return None
    doc, _ = version_doc(uow, int(row["id"]), int(row["current_version"]))
    s = doc.settings
    return {
        "category": s.category,
        "exempt_from_caps": s.exempt_from_caps,
        "loop_limit": {"rounds": s.loop_limit[0], "window_seconds": int(s.loop_limit[1].total_seconds())}
        if s.loop_limit
        else None,
    }


def summary(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "key": row["key"],
        "name": row["name"],
        "status": row["status"],
        "current_version": row["current_version"],
        "updated_at": row["updated_at"].isoformat(),
    }


def list_all(uow: JourneysUnitOfWork) -> list[dict[str, Any]]:
    return [summary(r) for r in uow.journeys.all()]


def version_doc(uow: JourneysUnitOfWork, journey_id: int, version: int) -> tuple[JourneyDoc, Mapping[str, Any]]:
    row = uow.journeys.get_version(journey_id, version)
    if row is None:
        raise NotFound(f"no version {version} of journey {journey_id}")
    return parse_journey(str(row["source"])), row


# --------------------------------------------------------------------------- migration


def migrate(
    uow: JourneysUnitOfWork,
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
    row = _require(uow, key, for_update=not dry_run)
    jid = int(row["id"])
    target = int(to_version or row["current_version"] or 0)
    new_doc, _ = version_doc(uow, jid, target)
    mapping = dict(mapping or {})
    docs: dict[int, JourneyDoc] = {}
    moves: list[dict[str, Any]] = []
    stays: list[dict[str, Any]] = []
    states: list[dict[str, Any]] = []
    for r in uow.journey_runs.waiting(jid, not_version=target, version=from_version):
        v = int(r["version"])
        if v not in docs:
            docs[v] = version_doc(uow, jid, v)[0]
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
        states.append(state.to_dict())
    if not dry_run and moves:
        uow.journey_runs.move(jid, [m | {"state": st} for m, st in zip(moves, states, strict=True)], now)
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
