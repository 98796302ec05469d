"""Self-service signals: a contact (or a system acting for them) tells a running enrolment
something, e.g. ``reschedule {"start_date": "2026-04-01"}``: the data joins the enrolment's
variables and a date wait depending on it is re-planned, so later reminders shift.

``stop`` ends the enrolment. A signal for an ended enrolment is recorded in the trace and
ignored. The API (``POST /api/enrollments/{id}/signal``) and the channels' signed links call
:func:`send_signal`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

from tidings.application.journeys.engine import EngineError, JourneyEngine
from tidings.application.ports.wiring import Wiring

NAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")


class Wired(Wiring, Protocol):
    """The composition root's container: one journey engine (and its cache of versions) per container."""

    @property
    def journey_engine(self) -> JourneyEngine: ...


def send_signal(
    container: Wired, enrollment_id: int, name: str, data: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    if not NAME_RE.match(name):
        raise EngineError("invalid", f"bad signal name {name!r} (lowercase letters, digits, _ . -)")
    eng = container.journey_engine
    with eng.storage.writing() as tx:
        return eng.signal(tx, enrollment_id, name, dict(data or {}), container.clock.now())


def self_service_view(container: Wired, enrollment_id: int) -> dict[str, Any] | None:
    """One enrolment as its contact's self-service page shows it (see ``JourneyEngine.self_service``)."""
    eng = container.journey_engine
    with eng.storage.reading() as tx:
        return eng.self_service(tx, enrollment_id, container.clock.now())


def enroll(container: Wired, journey_key: str, contact_id: int, key: str = "") -> dict[str, Any]:
    eng = container.journey_engine
    with eng.storage.writing() as tx:
        return eng.enroll(tx, journey_key, contact_id, key, container.clock.now())
