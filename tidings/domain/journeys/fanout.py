"""The fan-out of one event: to the contact's running enrolments, then to the triggers of the
journeys it may enter. Pure: the caller advances and enters (the runtime with the database, the
simulator on its virtual clock), so both walk an event the same way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from tidings.domain.journeys.model import EnrollmentState, Entry, EventStimulus, JourneyDoc
from tidings.domain.journeys.triggers import match_triggers
from tidings.domain.snapshot import ContactSnapshot, EventRecord
from tidings.domain.statuses import EnrolmentStatus

L = TypeVar("L")  # an enrolment, as the caller knows it
J = TypeVar("J")  # a journey, as the caller knows it


def fan_out_event(
    event: EventRecord,
    lives: Sequence[tuple[L, JourneyDoc]],
    journeys: Sequence[tuple[J, JourneyDoc]],
    contact: Callable[[], ContactSnapshot],
    now: datetime,
    *,
    state_of: Callable[[L], EnrollmentState],
    advance: Callable[[L, JourneyDoc, EventStimulus], None],
    enter: Callable[[J, JourneyDoc, Entry], None],
) -> None:
    """Hand ``event`` to every enrolment of ``lives`` that has not ended (in their order), then
    offer each entry the event starts in ``journeys`` (in their order) to ``enter``.

    ``contact`` is read when the triggers are matched, after the enrolments moved (the simulator's
    contact changes with the effects it applies). ``lives`` is read once: enrolments that
    ``enter`` starts see the next event, not this one.
    """
    for live, doc in list(lives):
        if state_of(live).status != EnrolmentStatus.ENDED:
            advance(live, doc, EventStimulus(event))
    for journey, doc in journeys:
        for entry in match_triggers(doc, event, contact(), now):
            enter(journey, doc, entry)
