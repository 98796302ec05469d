"""Triggers: which events start an enrolment, keyed entries, date-relative schedules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.journeystub import stub_rules  # noqa: F401
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.triggers import (
    date_trigger_entry,
    manual_entry,
    match_triggers,
    next_date_trigger,
)
from tidings.domain.snapshot import ContactSnapshot, EventRecord

pytestmark = pytest.mark.usefixtures("stub_rules")

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
STEPS = "steps:\n  - id: s\n    type: send\n    channel: email\n    template: t\n"


def doc(triggers: str, settings: str = ""):
    return parse_journey(
        "key: j\ntriggers:\n" + triggers + (f"settings:\n{settings}" if settings else "") + STEPS
    )


C = ContactSnapshot(id=1)


def ev(name, **props):
    return EventRecord(name, T0, props)


def test_event_trigger_with_property_filter_and_key():
    d = doc("  - event: order.completed\n    where: {prop: shop, eq: web}\n    key: order.id\n")
    assert match_triggers(d, ev("order.completed", shop="store"), C, T0) == []
    [e] = match_triggers(d, ev("order.completed", shop="web", order={"id": 42}), C, T0)
    assert e.trigger_index == 0 and e.key == "42" and e.event is not None
    assert match_triggers(d, ev("order.refunded", shop="web"), C, T0) == []
    assert match_triggers(d, None, C, T0) == []


@pytest.mark.parametrize(
    ("trigger", "event", "hit"),
    [
        ("segment_entered: vip", ev("segment.entered", segment="vip"), True),
        ("segment_entered: vip", ev("segment.exited", segment="vip"), False),
        ("segment_exited: vip", ev("segment.exited", segment="vip"), True),
        ("tag_added: webinar", ev("tag.added", tag="webinar"), True),
        ("tag_added: webinar", ev("tag.added", tag="other"), False),
        ("tag_removed: webinar", ev("tag.removed", tag="webinar"), True),
        ("attribute_changed: plan", ev("contact.updated", changed={"plan": "pro"}), True),
        ("attribute_changed: plan", ev("contact.updated", changed={"city": "x"}), False),
        (
            "attribute_changed: lifecycle_stage\n    to: customer",
            ev("contact.updated", changed={"lifecycle_stage": "customer"}),
            True,
        ),
        (
            "attribute_changed: lifecycle_stage\n    to: customer",
            ev("contact.updated", changed={"lifecycle_stage": {"from": "lead", "to": "mql"}}),
            False,
        ),
        ("manual: true", ev("anything"), False),
    ],
)
def test_trigger_types(trigger, event, hit):
    d = doc(f"  - {trigger}\n")
    assert bool(match_triggers(d, event, C, T0)) is hit


def test_owned_contacts_do_not_enter_marketing_journeys():
    d = doc("  - event: signup\n")
    owned = ContactSnapshot(id=1, owner="ae@x")
    assert match_triggers(d, ev("signup"), owned, T0) == []
    d2 = doc("  - event: signup\n", settings="  allow_owned: true\n")
    assert match_triggers(d2, ev("signup"), owned, T0)


def test_manual_entry_uses_the_manual_trigger():
    d = doc("  - event: signup\n  - manual: true\n")
    assert manual_entry(d, "k").trigger_index == 1 and manual_entry(d, "k").key == "k"


def test_yearly_birthday_at_local_time_and_key_per_year():
    d = doc("  - date: {attribute: birthday, yearly: true, at: '09:00'}\n")
    c = ContactSnapshot(id=1, timezone="Asia/Tokyo", attributes={"birthday": "1990-03-14"})
    due = next_date_trigger(d, d.triggers[0], c, T0)
    assert due == datetime(2026, 3, 14, 0, 0, tzinfo=UTC)  # 09:00 Tokyo
    entry = date_trigger_entry(d, d.triggers[0], c, due)
    assert entry is not None and entry.key == "2026-03-14"
    # after it fired, the next one is next year
    assert next_date_trigger(d, d.triggers[0], c, due) == datetime(2027, 3, 14, 0, 0, tzinfo=UTC)
    # the date moved since the timer was planned: the stale timer enrols nobody
    moved = ContactSnapshot(id=1, timezone="Asia/Tokyo", attributes={"birthday": "1990-04-01"})
    assert date_trigger_entry(d, d.triggers[0], moved, due) is None


def test_leap_day_birthday_falls_on_28_february():
    d = doc("  - date: {attribute: birthday, yearly: true, at: '10:00'}\n")
    c = ContactSnapshot(id=1, attributes={"birthday": "2000-02-29"})
    assert next_date_trigger(d, d.triggers[0], c, T0) == datetime(2026, 2, 28, 10, 0, tzinfo=UTC)


def test_days_before_an_attribute_date_and_hours_after_an_event():
    d = doc("  - date: {attribute: renewal_at, before: 14d, at: '09:00'}\n")
    c = ContactSnapshot(id=1, attributes={"renewal_at": "2026-06-30"})
    assert next_date_trigger(d, d.triggers[0], c, T0) == datetime(2026, 6, 16, 9, 0, tzinfo=UTC)
    past = ContactSnapshot(id=1, attributes={"renewal_at": "2025-06-30"})
    assert next_date_trigger(d, d.triggers[0], past, T0) is None
    assert next_date_trigger(d, d.triggers[0], ContactSnapshot(id=1), T0) is None
    e = doc("  - date: {event: appointment.booked, property: starts_at, offset: -2h}\n")
    booked = EventRecord("appointment.booked", T0, {"starts_at": "2026-01-09T15:00:00+00:00"}, id=77)
    c2 = ContactSnapshot(id=1, events=(booked,))
    due = next_date_trigger(e, e.triggers[0], c2, T0)
    assert due == datetime(2026, 1, 9, 13, 0, tzinfo=UTC)
    assert due is not None
    entry = date_trigger_entry(e, e.triggers[0], c2, due)
    assert entry is not None and entry.key == "77"
    f = doc("  - date: {event: trial.started, after: 3d}\n")
    started = EventRecord("trial.started", T0, {}, id=5)
    assert next_date_trigger(
        f, f.triggers[0], ContactSnapshot(id=1, events=(started,)), T0
    ) == T0 + timedelta(days=3)


def test_dst_local_time_lands_on_wall_clock():
    d = doc("  - date: {attribute: day, at: '09:00'}\n")
    c = ContactSnapshot(id=1, timezone="Europe/Paris", attributes={"day": "2026-07-01"})
    assert next_date_trigger(d, d.triggers[0], c, T0) == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
