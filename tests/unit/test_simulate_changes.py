"""Scenarios change their contact at offsets (issue 18, point 8): running enrolments see the
change (exit rules, the owned-contact rule), triggers see its events, the result lists it."""

from __future__ import annotations

import pytest

from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.scenarios import ScenarioError
from tidings.domain.journeys.simulate import simulate

DOC = """\
key: nurture
triggers:
  - manual: true
  - tag_added: vip
settings:
  exit: 'tag("customer")'
steps:
  - id: hello
    type: send
    channel: email
    template: hello
  - id: pause
    type: wait
    duration: 7d
  - id: again
    type: send
    channel: email
    template: again
"""


def _run(*scenarios: dict) -> list:
    return simulate(parse_journey(DOC), list(scenarios)).scenarios


def test_a_tag_added_at_an_offset_ends_the_enrolment_and_is_listed() -> None:
    [sc] = _run({"name": "buys", "changes": [{"at": "3d", "add_tags": ["customer"], "set": {"plan": "pro"}}],
                 "expect": [{"messages": 1}, {"outcome": "exited"}]})
    assert sc.failed_expectations == [] and sc.end_reason == "exited"
    [change] = sc.to_dict()["changes"]
    assert change["change"] == {"add_tags": ["customer"], "set": {"plan": "pro"}}
    assert change["at"] == "2026-01-08T09:00:00+00:00"


def test_an_owner_set_then_removed() -> None:
    [owned] = _run({"name": "owned", "changes": [{"at": "1d", "owner": "rep@example.com"}]})
    assert owned.end_reason == "owned" and len(owned.timeline) == 1
    [trigger] = _run({"name": "vip later", "enter": "events", "changes": [{"at": "2d", "add_tags": ["vip"]}],
                      "expect": [{"message": "hello", "at": "2d"}]})
    assert trigger.failed_expectations == []


def test_an_unchanged_contact_gets_both_messages() -> None:
    [sc] = _run({"name": "quiet", "changes": [{"at": "1d", "consents": {"email": "granted"}}]})
    assert [t.template for t in sc.timeline] == ["hello", "again"] and sc.outcome == "completed"


@pytest.mark.parametrize(
    ("change", "message"),
    [({"at": "1d"}, "say what changes"), ({"at": "1d", "colour": "red"}, "unknown field"),
     ({"at": "1d", "add_tags": "vip"}, "a list of tags"), ({"at": "soon", "owner": None}, "changes.0.at")],
)
def test_bad_changes_are_refused(change: dict, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        _run({"name": "bad", "changes": [change]})


def test_owner_removed_picks_up_only_contacts_skipped_for_their_owner() -> None:
    from datetime import UTC, datetime

    from tidings.domain.journeys.triggers import match_triggers
    from tidings.domain.snapshot import ContactSnapshot, EventRecord

    now = datetime(2026, 3, 2, tzinfo=UTC)
    doc = parse_journey(DOC.replace("  - manual: true\n", "  - event: trial.started\n    key: account\n"))
    signup = EventRecord("trial.started", now, {"account": "a-1"})
    removed = EventRecord("contact.updated", now, {"changed": {"owner": {"from": "rep", "to": None}}})
    set_owner = EventRecord("contact.updated", now, {"changed": {"owner": "rep"}})

    def entries(journeys: dict[str, str], tags: frozenset[str] = frozenset(), event: EventRecord = removed) -> list:
        contact = ContactSnapshot(id=1, events=(signup,), tags=tags, journeys=journeys)
        return [(e.trigger_index, e.key) for e in match_triggers(doc, event, contact, now)]

    assert entries({}) == [(0, "a-1")], "never entered: the latest trial.started still holds"
    assert entries({"nurture": "ended:owned"}, frozenset({"vip"})) == [(0, "a-1"), (1, "")]
    assert entries({"nurture": "ended:completed"}) == [], "a contact that went through is not re-entered"
    assert entries({}, event=set_owner) == [], "an owner assigned is not an owner removed"
