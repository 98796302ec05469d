"""Date-relative triggers as timer rows: one ``date_trigger`` timer per (journey, trigger, contact).

Planned for every contact when a journey is published, re-planned for one contact when the
attribute or event its date comes from changes, and planned anew after each firing (yearly
anniversaries). The worker fires them like any timer; nothing polls contacts for dates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.domain.journeys.model import JourneyDoc, Trigger
from tidings.domain.journeys.triggers import next_date_trigger
from tidings.domain.snapshot import ContactSnapshot, EventRecord
from tidings.store import enrollments as est
from tidings.store import schema
from tidings.store.bulk_snapshots import load_snapshots

CHUNK = 2000


def date_triggers(doc: JourneyDoc) -> list[Trigger]:
    return [t for t in doc.triggers if t.type == "date" and t.date is not None]


def timer_row(
    journey_id: int, doc: JourneyDoc, trigger: Trigger, contact_id: int, due: datetime, paused: bool
) -> dict[str, Any]:
    payload: dict[str, Any] = {"journey_id": journey_id, "journey": doc.key, "trigger": trigger.index}
    if paused:
        payload[est.PARKED_KEY] = due.isoformat()
        due = est.PARKED_AT
    return {
        "contact_id": contact_id,
        "enrollment_id": None,
        "kind": "date_trigger",
        "due_at": due,
        "payload": payload,
    }


def _drop_journey_timers(
    conn: sa.Connection, journey_id: int, contact_ids: Iterable[int] | None = None, trigger: int | None = None
) -> None:
    t = schema.timers
    q = sa.select(t.c.id, t.c.payload).where(t.c.kind == "date_trigger", t.c.enrollment_id.is_(None))
    if contact_ids is not None:
        q = q.where(t.c.contact_id.in_(list(contact_ids)))
    ids = [
        int(r.id)
        for r in conn.execute(q)
        if (r.payload or {}).get("journey_id") == journey_id
        and (trigger is None or (r.payload or {}).get("trigger") == trigger)
    ]
    for i in range(0, len(ids), 5000):
        est.delete_timers(conn, ids[i : i + 5000])


def schedule_for_journey(
    conn: sa.Connection, journey_id: int, doc: JourneyDoc, now: datetime, *, paused: bool = False
) -> int:
    """Replace the journey's date-trigger timers with ones planned from ``doc`` for every contact."""
    _drop_journey_timers(conn, journey_id)
    triggers = date_triggers(doc)
    if not triggers:
        return 0
    needs_events = any(t.date is not None and t.date.event for t in triggers)
    c = schema.contacts
    planned = 0
    last = 0
    while True:
        ids = list(
            conn.execute(sa.select(c.c.id).where(c.c.id > last).order_by(c.c.id).limit(CHUNK)).scalars()
        )
        if not ids:
            break
        last = int(ids[-1])
        snaps = load_snapshots(conn, ids, events=needs_events)
        rows = []
        for snap in snaps.values():
            for trigger in triggers:
                due = next_date_trigger(doc, trigger, snap, now)
                if due is not None:
                    rows.append(timer_row(journey_id, doc, trigger, snap.id, due, paused))
        est.insert_timers(conn, rows)
        planned += len(rows)
    return planned


def relevant(trigger: Trigger, event: EventRecord) -> bool:
    """Does this event move the date the trigger is relative to?"""
    spec = trigger.date
    if spec is None:
        return False
    if spec.event:
        return event.name == spec.event
    if spec.attribute and event.name == "contact.updated":
        changed: Mapping[str, Any] = event.properties.get("changed") or {}
        name = spec.attribute
        return (
            name in changed or f"attributes.{name}" in changed or name.removeprefix("attributes.") in changed
        )
    return False


def replan_contact(
    conn: sa.Connection,
    journey_id: int,
    doc: JourneyDoc,
    trigger: Trigger,
    contact: ContactSnapshot,
    now: datetime,
    *,
    paused: bool = False,
) -> datetime | None:
    """Re-plan one contact's timer for one date trigger (after a change or a firing)."""
    _drop_journey_timers(conn, journey_id, [contact.id], trigger.index)
    due = next_date_trigger(doc, trigger, contact, now)
    if due is not None:
        est.insert_timers(conn, [timer_row(journey_id, doc, trigger, contact.id, due, paused)])
    return due
