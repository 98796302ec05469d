"""Date-relative triggers as timer rows: one ``date_trigger`` timer per (journey, trigger, contact).

Planned for every contact when a journey is published, re-planned for one contact when the
attribute or event its date comes from changes, and planned anew after each firing (yearly
anniversaries). The worker fires them like any timer; nothing polls contacts for dates.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tidings.application.ports.journeys import JourneyRuns
from tidings.domain.journeys.model import JourneyDoc, Trigger
from tidings.domain.journeys.timing import PARKED_AT, PARKED_KEY
from tidings.domain.journeys.triggers import next_date_trigger
from tidings.domain.snapshot import ContactSnapshot, EventRecord

CHUNK = 2000


def date_triggers(doc: JourneyDoc) -> list[Trigger]:
    return [t for t in doc.triggers if t.type == "date" and t.date is not None]


def timer_row(
    journey_id: int, doc: JourneyDoc, trigger: Trigger, contact_id: int, due: datetime, paused: bool
) -> dict[str, Any]:
    payload: dict[str, Any] = {"journey_id": journey_id, "journey": doc.key, "trigger": trigger.index}
    if paused:
        payload[PARKED_KEY] = due.isoformat()
        due = PARKED_AT
    return {
        "contact_id": contact_id,
        "enrollment_id": None,
        "kind": "date_trigger",
        "due_at": due,
        "payload": payload,
    }


def plan_journey(runs: JourneyRuns, journey_id: int, doc: JourneyDoc, now: datetime, *, paused: bool = False) -> int:
    """Replace the journey's date-trigger timers with ones planned from ``doc`` for every contact
    (``journeys.publish`` calls this); how many were planned."""
    runs.drop_date_triggers(journey_id)
    triggers = date_triggers(doc)
    if not triggers:
        return 0
    needs_events = any(t.date is not None and t.date.event for t in triggers)
    planned = 0
    last = 0
    while True:
        snaps = runs.contact_snapshots(last, CHUNK, events=needs_events)
        if not snaps:
            break
        last = snaps[-1].id
        rows = []
        for snap in snaps:
            for trigger in triggers:
                due = next_date_trigger(doc, trigger, snap, now)
                if due is not None:
                    rows.append(timer_row(journey_id, doc, trigger, snap.id, due, paused))
        runs.add_timers(rows)
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
    runs: JourneyRuns,
    journey_id: int,
    doc: JourneyDoc,
    trigger: Trigger,
    contact: ContactSnapshot,
    now: datetime,
    *,
    paused: bool = False,
) -> datetime | None:
    """Re-plan one contact's timer for one date trigger (after a change or a firing)."""
    runs.drop_date_triggers(journey_id, contact_id=contact.id, trigger=trigger.index)
    due = next_date_trigger(doc, trigger, contact, now)
    if due is not None:
        runs.add_timers([timer_row(journey_id, doc, trigger, contact.id, due, paused)])
    return due
