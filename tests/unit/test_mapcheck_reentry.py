"""The publish-time loop check: a journey map cycle through a ``reentry: never`` journey is not a
loop (a contact enters that journey once ever), any other cycle still is."""

from __future__ import annotations

from tidings.application.control.mapcheck import cycles_through
from tidings.domain.journeys.document import parse_journey

SELF = """\
key: nurture
triggers:
  - attribute_changed: lifecycle_stage
    to: lead
settings:
  reentry: {reentry}
steps:
  - id: hand
    type: crm
    system: hubspot
    action: upsert_contact
"""


def test_a_write_back_onto_its_own_trigger_is_a_loop_unless_the_journey_is_entered_once():
    looping = parse_journey(SELF.format(reentry="after_exit"))
    assert cycles_through([], {}, looping) == ["loop in the journey map: nurture -> nurture"]
    once = parse_journey(SELF.format(reentry="never"))
    assert cycles_through([], {}, once) == []


def test_a_cycle_through_another_journey_entered_once_is_not_a_loop():
    a = parse_journey(SELF.format(reentry="after_exit").replace("key: nurture", "key: a"))
    b = parse_journey(SELF.format(reentry="never").replace("key: nurture", "key: b"))
    assert cycles_through([b], {}, a) == ["loop in the journey map: a -> a"]  # a's own loop remains
    assert cycles_through([a], {}, b) == []


def test_the_audit_reports_no_loop_through_a_journey_entered_once():
    from datetime import UTC, datetime

    from tidings.domain.audit.inputs import JourneyFacts
    from tidings.domain.audit.report import AuditInputs, audit

    now = datetime(2026, 3, 2, tzinfo=UTC)

    def loops(reentry: str) -> list[tuple[str, ...]]:
        doc = parse_journey(SELF.format(reentry=reentry))
        report = audit(AuditInputs(now=now, journeys=[JourneyFacts("nurture", "active", doc, published_at=now)]))
        return [f.subjects for f in report.findings if f.kind == "journey_loop"]

    assert loops("after_exit") == [("journey:nurture",)]
    assert loops("never") == []
