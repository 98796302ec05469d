"""Enrolment context (issue 18, point 1): correlation by the enrolment key, enrolment variables
(from the trigger event and ``set_variables`` steps), and branches reading the event that
resumed a wait — in the pure machine, with the real rule language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain.journeys.context import Correlation, contact_view, correlated
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.effects import SendMessage
from tidings.domain.journeys.machine import advance
from tidings.domain.journeys.model import EngineContext, EnrollmentState, EventStimulus, JourneyError, Transition
from tidings.domain.journeys.triggers import match_triggers
from tidings.domain.rules import RuleError, parse_contact_rule, parse_journey_rule, to_json, to_text
from tidings.domain.rules.structured import parse_structured
from tidings.domain.snapshot import ContactSnapshot, EventRecord

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CTX = EngineContext(enrollment_id=7)

DOC = """\
key: feedback
triggers:
  - event: order.delivered
    key: order_id
    vars: {order_total: properties.total, delivered_at: at}
settings:
  reentry: per_key
  correlate: order_id
  exit:
    - event: order.returned
steps:
  - id: survey
    type: send
    channel: email
    template: nps-survey
  - id: answer
    type: wait_event
    event: nps.answered
    timeout: 7d
    on_event: keep
    on_timeout: end
  - id: keep
    type: set_variables
    set: {nps: {from: event.properties.score}, asked: true}
  - id: score
    type: branch
    branches:
      - when: event.properties.score >= 8 and vars.order_total > 100
        next: vip-review
      - when: vars.nps >= 8
        next: review
    else: end
  - id: vip-review
    type: send
    channel: email
    template: vip-review
    next: end
  - id: review
    type: send
    channel: email
    template: review
"""


def _templates(t: Transition) -> list[str]:
    return [e.template for e in t.effects if isinstance(e, SendMessage)]


def _enter(total: float, order: str = "o-1") -> tuple[Transition, ContactSnapshot]:
    doc = parse_journey(DOC)
    contact = ContactSnapshot(id=1, email="a@example.com")
    [entry] = match_triggers(doc, EventRecord("order.delivered", T0, {"order_id": order, "total": total}), contact, T0)
    return advance(doc, None, entry, contact, T0, context=CTX), contact


def _event(state: EnrollmentState, contact: ContactSnapshot, name: str, **props: object) -> Transition:
    at = T0 + timedelta(days=1)
    ev = EventRecord(name, at, props)
    seen = ContactSnapshot(id=contact.id, email=contact.email, events=(*contact.events, ev))
    return advance(parse_journey(DOC), state, EventStimulus(ev), seen, at, context=CTX)


def test_trigger_vars_are_set_and_sent_to_templates() -> None:
    t, _ = _enter(150)
    assert t.state.variables["order_total"] == 150
    assert t.state.variables["delivered_at"] == T0.isoformat()
    [send] = t.effects
    assert isinstance(send, SendMessage) and send.data["variables"]["order_total"] == 150


def test_an_event_of_another_order_does_not_move_the_enrolment() -> None:
    t, contact = _enter(150, "o-1")
    other = _event(t.state, contact, "order.returned", order_id="o-2")
    assert other.changed is False and other.state.status == "waiting"
    assert [e.action for e in other.trace] == ["uncorrelated"]
    answer = _event(t.state, contact, "nps.answered", order_id="o-2", score=10)
    assert answer.changed is False and answer.state.waiting is not None
    mine = _event(t.state, contact, "order.returned", order_id="o-1")
    assert mine.state.end_reason == "exited"


def test_events_without_the_key_property_still_count() -> None:
    t, contact = _enter(150)
    answered = _event(t.state, contact, "nps.answered", score=9)
    assert _templates(answered) == ["vip-review"]


def test_branch_reads_the_resuming_event_and_variables() -> None:
    t, contact = _enter(50)
    answered = _event(t.state, contact, "nps.answered", order_id="o-1", score=9)
    assert _templates(answered) == ["review"], "order_total 50 is not > 100; vars.nps (set from event) is 9"
    assert answered.state.variables["nps"] == 9 and answered.state.variables["asked"] is True
    assert answered.state.resumed_by is not None and answered.state.resumed_by["name"] == "nps.answered"
    branch = next(e for e in answered.trace if e.action == "branch")
    values = [c["explain"][0].get("value") for c in branch.detail["conditions"]]
    assert 9 in values or [9] in values or any(v == 9 for v in values if v is not None)
    low = _event(t.state, contact, "nps.answered", order_id="o-1", score=3)
    assert _templates(low) == [] and low.state.end_reason == "completed"


def test_state_round_trips_the_resuming_event() -> None:
    t, contact = _enter(50)
    answered = _event(t.state, contact, "nps.answered", order_id="o-1", score=9)
    again = EnrollmentState.from_json(answered.state.to_json())
    assert again.resumed_by == answered.state.resumed_by
    old = {k: v for k, v in answered.state.to_dict().items() if k != "resumed_by"}
    assert EnrollmentState.from_dict(old).resumed_by is None, "states written before v2 still load"


@pytest.mark.parametrize(
    ("change", "message", "step"),
    [
        ("  correlate: order_id\n", "no trigger provides 'order_id'", None),
        ("  correlate: [{property: properties.account}]\n", "no trigger provides 'account'", None),
    ],
)
def test_correlation_needs_a_trigger_key(change: str, message: str, step: str | None) -> None:
    doc = "key: j\ntriggers:\n  - event: a.b\nsettings:\n" + change + "steps:\n  - {id: s, type: exit}\n"
    with pytest.raises(JourneyError) as err:
        parse_journey(doc)
    [problem] = err.value.problems
    assert message in problem.message and problem.line == 5 and problem.path.startswith("settings.correlate.0")


def test_variables_shadowing_contact_fields_are_refused_with_line_and_step() -> None:
    doc = DOC.replace("vars: {order_total: properties.total, delivered_at: at}", "vars: {email: properties.e}")
    doc = doc.replace("set: {nps: {from: event.properties.score}, asked: true}", "set: {first_name: x}")
    with pytest.raises(JourneyError) as err:
        parse_journey(doc)
    problems = {(p.step_id, p.line): p.message for p in err.value.problems}
    assert "shadow" in problems[(None, 5)]
    assert "shadow" in problems[("keep", 24)]


def test_bad_sources_are_refused() -> None:
    doc = DOC.replace("properties.total, delivered_at: at", "attributes.total")
    doc = doc.replace("{from: event.properties.score}", "{from: nowhere}")
    with pytest.raises(JourneyError) as err:
        parse_journey(doc)
    messages = " | ".join(p.message for p in err.value.problems)
    assert "trigger variable reads the trigger event" in messages and "from reads vars.NAME" in messages


def test_enrolment_values_belong_to_journey_rules_only() -> None:
    rule = parse_journey_rule("vars.order_total > 100 and event.properties.score >= 8")
    assert to_text(rule) == "vars.order_total > 100 and event.properties.score >= 8"
    assert parse_structured(to_json(rule)) == rule
    with pytest.raises(RuleError, match="journey rules"):
        parse_contact_rule("vars.order_total > 100")
    with pytest.raises(RuleError, match="event filters"):
        parse_journey_rule("properties.total > 1")


keys = st.sampled_from(["o-1", "o-2", "o-3"])
events = st.builds(
    lambda name, key, has: EventRecord(name, T0, {"order_id": key} if has else {}),
    st.sampled_from(["order.returned", "nps.answered", "page.viewed"]),
    keys,
    st.booleans(),
)


@settings(deadline=None)
@given(st.lists(events, max_size=12), keys)
def test_view_keeps_exactly_the_events_of_this_key_or_without_one(evs: list[EventRecord], key: str) -> None:
    rules = (Correlation(("order_id",)),)
    view = contact_view(ContactSnapshot(id=1, events=tuple(evs)), rules, key)
    assert list(view.events) == [e for e in evs if e.properties.get("order_id") in (None, key)]
    named = (Correlation(("order_id",), "order.returned"),)
    for e in evs:
        expected = e.name != "order.returned" or e.properties.get("order_id") == key
        assert correlated(named, e, key) is expected


def test_the_docs_example_parses_and_correlates() -> None:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "journeys.md").read_text()
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if b.startswith("key: order-feedback"))
    doc = parse_journey(block, templates={"nps-survey", "vip-review"})
    assert doc.settings.correlate == (Correlation(("order_id",), None, doc.settings.correlate[0].line),)
    assert doc.triggers[0].vars == {"order_total": "properties.total", "delivered_at": "at"}
