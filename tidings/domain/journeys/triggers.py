"""Who enters a journey, and when: trigger matching, date-relative schedules, re-entry policy.

The runtime calls :func:`match_triggers` for every processed event, :func:`next_date_trigger`
to keep one ``date_trigger`` timer row per (journey, trigger, contact) (recompute it when the
contact changes and after it fires), :func:`date_trigger_entry` when that timer fires, and
:func:`may_enter` before creating an enrolment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from tidings.domain.journeys import conditions
from tidings.domain.journeys.dates import resolve
from tidings.domain.journeys.model import Entry, JourneyDoc, PriorEnrollment, Trigger
from tidings.domain.snapshot import STANDARD_FIELDS, ContactSnapshot, EventRecord
from tidings.domain.statuses import EnrolmentStatus


def _prop(props: Mapping[str, Any], path: str) -> Any:
    obj: Any = props
    for part in path.removeprefix("properties.").split("."):
        if not isinstance(obj, Mapping) or part not in obj:
            return None
        obj = obj[part]
    return obj


def owned_blocked(doc: JourneyDoc, contact: ContactSnapshot) -> bool:
    """The owned-contact rule: no automated marketing nurture for contacts with an owner."""
    s = doc.settings
    return bool(contact.owner) and not s.allow_owned and s.category == "marketing"


def trigger_matches(trigger: Trigger, event: EventRecord, contact: ContactSnapshot, now: datetime) -> bool:
    props = event.properties
    if trigger.type == "event":
        if event.name != trigger.target:
            return False
        return trigger.where is None or conditions.matches_event(trigger.where, event, now)
    if trigger.type == "segment_entered":
        return event.name == "segment.entered" and props.get("segment") == trigger.target
    if trigger.type == "segment_exited":
        return event.name == "segment.exited" and props.get("segment") == trigger.target
    if trigger.type == "tag_added":
        return event.name == "tag.added" and props.get("tag") == trigger.target
    if trigger.type == "tag_removed":
        return event.name == "tag.removed" and props.get("tag") == trigger.target
    if trigger.type == "attribute_changed":
        if event.name != "contact.updated":
            return False
        changed = props.get("changed") or {}
        name = str(trigger.target)
        short = name.removeprefix("attributes.")
        if name not in changed and short not in changed:
            return False
        if trigger.to is None:
            return True
        value = changed.get(name, changed.get(short))
        if isinstance(value, Mapping) and "to" in value:  # {"from": .., "to": ..} change records
            value = value["to"]
        return bool(value == trigger.to)
    return False


def entry_key(trigger: Trigger, event: EventRecord | None) -> str:
    if trigger.key is None or event is None:
        return ""
    value = _prop(event.properties, trigger.key)
    return "" if value is None else str(value)


def match_triggers(
    doc: JourneyDoc, event: EventRecord | None, contact: ContactSnapshot, now: datetime
) -> list[Entry]:
    """Entries this event starts (at most one per distinct key). Owned contacts are left out
    unless the journey opts in. Manual and date triggers never match events."""
    if event is None or owned_blocked(doc, contact):
        return []
    out: list[Entry] = []
    keys: set[str] = set()
    for trigger in doc.triggers:
        if trigger.type in ("manual", "date") or not trigger_matches(trigger, event, contact, now):
            continue
        key = entry_key(trigger, event)
        if key in keys:
            continue
        keys.add(key)
        out.append(Entry(trigger.index, event, key))
    if owner_removed(event) and skipped_for_owner(doc, contact):
        for trigger in doc.triggers:
            held = still_holds(trigger, contact, event, now)
            if held is not None and (key := entry_key(trigger, held)) not in keys:
                keys.add(key)
                out.append(Entry(trigger.index, held, key))
    return out


def skipped_for_owner(doc: JourneyDoc, contact: ContactSnapshot) -> bool:
    """The journey keeps owned contacts out and this one never entered it, or left it for an owner."""
    if doc.settings.allow_owned or doc.settings.category != "marketing":
        return False
    return contact.journeys.get(doc.key) in (None, "ended:owned")


def owner_removed(event: EventRecord) -> bool:
    """A ``contact.updated`` event whose ``changed`` removes the owner."""
    if event.name != "contact.updated":
        return False
    changed = event.properties.get("changed") or {}
    if not isinstance(changed, Mapping) or "owner" not in changed:
        return False
    value = changed["owner"]
    if isinstance(value, Mapping) and "to" in value:
        value = value["to"]
    return not value


def still_holds(trigger: Trigger, contact: ContactSnapshot, event: EventRecord, now: datetime) -> EventRecord | None:
    """When the owner is removed, a journey that skipped the contact for it picks it up if the
    trigger still holds: the latest matching event (event triggers), the attribute equal to
    ``to`` (or set), the tag present, the segment joined. The entry event it starts from (the
    owner change itself for the state triggers), or None."""
    if trigger.type == "event":
        return next((e for e in reversed(contact.events) if trigger_matches(trigger, e, contact, now)), None)
    if trigger.type == "attribute_changed":
        name = str(trigger.target)
        value = (
            contact.field_value(name)
            if name in STANDARD_FIELDS
            else _prop(contact.attributes, name.removeprefix("attributes."))
        )
        holds = value is not None if trigger.to is None else value == trigger.to
        return event if holds else None
    if trigger.type == "tag_added":
        return event if trigger.target in contact.tags else None
    if trigger.type == "segment_entered":
        return event if trigger.target in contact.segments else None
    return None


def manual_entry(doc: JourneyDoc, key: str = "") -> Entry:
    """An API/manual enrolment (uses the manual trigger's index, or -1 if there is none)."""
    index = next((t.index for t in doc.triggers if t.type == "manual"), -1)
    return Entry(index, None, key)


def next_date_trigger(
    doc: JourneyDoc, trigger: Trigger, contact: ContactSnapshot, now: datetime
) -> datetime | None:
    """When a date-relative trigger next fires for this contact (strictly after ``now``), or None."""
    if trigger.type != "date" or trigger.date is None:
        return None
    found = resolve(trigger.date, contact, {}, now, doc.settings.timezone)
    if found is None or found[0] <= now:
        return None
    return found[0]


def date_trigger_entry(
    doc: JourneyDoc, trigger: Trigger, contact: ContactSnapshot, due_at: datetime
) -> Entry | None:
    """The entry for a fired date timer, or None if the contact's date moved since it was planned.

    The key names the occurrence (anniversary date, event id or date value), so that
    ``reentry: per_key`` gives one enrolment per birthday or per appointment."""
    if trigger.type != "date" or trigger.date is None or owned_blocked(doc, contact):
        return None
    found = resolve(trigger.date, contact, {}, due_at - timedelta(microseconds=1), doc.settings.timezone)
    if found is None or found[0] != due_at:
        return None
    return Entry(trigger.index, None, found[1])


def may_enter(
    doc: JourneyDoc, previous: Sequence[PriorEnrollment | tuple[Any, ...]], key: str, now: datetime
) -> tuple[bool, str]:
    """The re-entry policy. One contact is never in a journey twice at once for one key.

    never: one enrolment ever; after_exit: again once the last one ended; after_days N: again N
    days after the last one ended; per_key: once per key (order id, appointment id, ...)."""
    s = doc.settings
    # plain (status, end_reason, entered_at, ended_at, key) tuples are accepted too
    prior = [p if isinstance(p, PriorEnrollment) else PriorEnrollment(*p) for p in previous]
    same_key = [p for p in prior if p.key == key]
    if any(p.status != EnrolmentStatus.ENDED for p in same_key):
        return False, "already enrolled for this key"
    if s.reentry == "never" and prior:
        return False, "re-entry: never"
    if s.reentry == "per_key" and same_key:
        return False, "re-entry: once per key"
    if s.reentry == "after_days" and prior:
        last = max((p.ended_at or p.entered_at) for p in prior)
        if now - last < timedelta(days=s.reentry_days or 0):
            return False, f"re-entry: after {s.reentry_days} days"
    return True, "ok"
