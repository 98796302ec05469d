"""The loop breaker at run time: the engine asks :func:`admit` before an enrolment starts.

An enrolment whose stimulus carries a cause (a tag, a field or an event raised by another
journey's effect, an enrol step, or any tag change) gets an ``enrollment_causes`` row holding
its causal chain. Entering a journey one round too many (``domain/control/loops.py``) is
refused: a ``loop_stopped`` trace row names the whole chain and an alert is raised.
Enrolments started by a plain event or a segment keep their cause in the trace only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tidings.application.ports.control import ControlRepository
from tidings.domain.control.loops import Cause, ChainLink, LoopLimit, LoopStop, cause_of_event, check, extend
from tidings.domain.journeys.model import JourneyDoc
from tidings.domain.snapshot import EventRecord


@dataclass(frozen=True)
class Admission:
    cause: Cause
    chain: tuple[ChainLink, ...]


def attribute_segment_events(pending: Sequence[EventRecord], new: Sequence[EventRecord]) -> list[EventRecord]:
    """Segment changes computed in the pass of a journey's change are that change's effect.

    ``segment.entered/exited`` events carry no cause of their own: when the events of this pass
    include one a journey raised (a tag, a field), the segment events get its ``by`` (the last
    such event's), so a loop through a segment is counted like a direct one.
    """
    by = None
    for event in pending:
        cause = cause_of_event(event.name, event.properties)
        if cause is not None and cause.parent_enrollment is not None:
            by = event.properties.get("by")
    if not isinstance(by, Mapping):
        return list(new)
    return [replace(e, properties={**e.properties, "by": dict(by)}) for e in new]


def enrol_cause(cause: Mapping[str, Any]) -> Cause:
    """The cause of an enrolment made by another journey's enrol step (``Batch`` passes it)."""
    parent = cause.get("enrollment")
    return Cause(
        "enrol",
        str(cause.get("journey") or ""),
        int(parent) if parent is not None else None,
        str(cause.get("journey") or "") or None,
    )


def admit(
    repo: ControlRepository, doc: JourneyDoc, cause: Cause, default: LoopLimit, now: datetime
) -> Admission | LoopStop:
    """The chain this enrolment would extend, or the stop when it goes one round too far."""
    limit = LoopLimit(*doc.settings.loop_limit) if doc.settings.loop_limit else default
    parent: tuple[ChainLink, ...] = ()
    if cause.parent_enrollment is not None:
        row = repo.parent_of(cause.parent_enrollment)
        if row is not None and row["chain"]:
            parent = tuple(ChainLink.from_list(x) for x in row["chain"])
        elif row is not None:
            parent = (ChainLink(str(row["key"]), int(row["id"]), row["entered_at"]),)
    chain = extend(parent, ChainLink(doc.key, None, now), max(limit.window, default.window))
    stop = check(chain, limit)
    return stop if stop is not None else Admission(cause, chain)


def record(
    repo: ControlRepository, enrollment_id: int, contact_id: int, doc: JourneyDoc, adm: Admission, now: datetime
) -> None:
    chain = [*adm.chain[:-1], ChainLink(doc.key, enrollment_id, now)]
    repo.insert_cause(
        {
            "enrollment_id": enrollment_id,
            "contact_id": contact_id,
            "journey_key": doc.key,
            "kind": adm.cause.kind,
            "value": (adm.cause.value or "")[:400] or None,
            "parent_enrollment_id": adm.cause.parent_enrollment,
            "chain": [x.to_list() for x in chain],
            "created_at": now,
        },
    )


def alert_for(
    repo: ControlRepository, stop: LoopStop, contact_id: int, now: datetime, notify_webhook: str | None = None
) -> int:
    """Raise (or count up) the open alert for this loop; the cycle's journeys name it."""
    cycle = sorted({x.journey for x in stop.chain})
    detail = {**stop.to_dict(), "contact_id": contact_id}
    alert_id, created = repo.raise_alert(
        kind="loop_stopped",
        severity="critical",
        fingerprint="loop_stopped:" + ",".join(cycle),
        message=(
            f"loop stopped for contact {contact_id}: {stop.text} "
            f"({stop.rounds} rounds of {stop.journey!r} > limit {stop.limit.rounds} in "
            f"{int(stop.limit.window.total_seconds() // 3600)}h)"
        ),
        detail=detail,
        contact_id=contact_id,
        now=now,
    )
    if created and notify_webhook:
        alert = repo.get_alert(alert_id) or {}
        body = {"alert": {k: alert.get(k) for k in ("id", "kind", "severity", "message", "detail")}}
        repo.queue_webhook(contact_id, notify_webhook, f"alert:{alert_id}", body, now)
    return alert_id
