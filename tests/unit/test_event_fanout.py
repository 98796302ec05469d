"""The one fan-out of an event (domain/journeys/fanout.py), used by the runtime, the journey
simulator and the cross-journey simulator."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.unit.journeystub import stub_rules  # noqa: F401
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.fanout import fan_out_event
from tidings.domain.journeys.model import EnrollmentState, Entry, EventStimulus, JourneyDoc
from tidings.domain.snapshot import ContactSnapshot, EventRecord
from tidings.domain.statuses import EnrolmentStatus

pytestmark = pytest.mark.usefixtures("stub_rules")

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
STEPS = "steps:\n  - id: s\n    type: send\n    channel: email\n    template: t\n"


def doc(key: str, event: str) -> JourneyDoc:
    return parse_journey(f"key: {key}\ntriggers:\n  - event: {event}\n" + STEPS)


def test_live_enrolments_in_order_then_entries_with_the_contact_after_the_moves() -> None:
    a, b = doc("a", "order.completed"), doc("b", "signup")
    states = {
        "e1": EnrollmentState(journey="a", status=EnrolmentStatus.WAITING),
        "e2": EnrollmentState(journey="a", status=EnrolmentStatus.ENDED),
        "e3": EnrollmentState(journey="b", status=EnrolmentStatus.ACTIVE),
    }
    log: list[Any] = []
    contact = {"now": ContactSnapshot(id=1)}

    def advance(eid: str, d: JourneyDoc, stimulus: EventStimulus) -> None:
        log.append(("advance", eid, d.key, stimulus.event.name))
        contact["now"] = ContactSnapshot(id=1, score=5.0)

    def enter(journey: str, d: JourneyDoc, entry: Entry) -> None:
        log.append(("enter", journey, d.key, contact["now"].score))
        lives.append(("new", d))  # an enrolment started now does not see this event

    lives = [("e3", b), ("e2", a), ("e1", a)]
    event = EventRecord("order.completed", T0, {})
    fan_out_event(
        event, lives, [("A", a), ("B", b)], lambda: contact["now"], T0,
        state_of=states.__getitem__, advance=advance, enter=enter,
    )  # fmt: skip
    assert log == [
        ("advance", "e3", "b", "order.completed"),
        ("advance", "e1", "a", "order.completed"),
        ("enter", "A", "a", 5.0),
    ]
