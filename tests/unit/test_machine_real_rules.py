"""The machine with the real rule language (tidings.domain.rules): filters, branches, criteria,
explanations in the trace, and parse errors with their column."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.effects import SendMessage
from tidings.domain.journeys.machine import advance
from tidings.domain.journeys.model import ContactChanged, EngineContext, Entry, EventStimulus, JourneyError, Transition
from tidings.domain.journeys.triggers import match_triggers
from tidings.domain.snapshot import ContactSnapshot, EventRecord

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _templates(t: Transition) -> list[str]:
    return [e.template for e in t.effects if isinstance(e, SendMessage)]


CTX = EngineContext(enrollment_id=9)

DOC = """\
key: orders
triggers:
  - event: order.completed
    where: properties.total > 50
    key: order_id
settings:
  exit: 'tag("returned")'
steps:
  - id: fit
    type: branch
    branches:
      - when: attributes.plan == "pro" and score >= 10
        next: pro
    else: review
  - id: pro
    type: send
    channel: email
    template: pro-thanks
    next: end
  - id: review
    type: wait_event
    event: review.posted
    where: properties.stars >= 4
    timeout: 5d
    on_event: thanks
    on_timeout: end
  - id: thanks
    type: send
    channel: email
    template: review-thanks
"""


def test_event_filter_branch_explain_and_wait_event_filter():
    doc = parse_journey(DOC)
    small = EventRecord("order.completed", T0, {"total": 20, "order_id": "A1"})
    big = EventRecord("order.completed", T0, {"total": 80, "order_id": "A2"})
    c = ContactSnapshot(id=1, attributes={"plan": "pro"}, score=12)
    assert match_triggers(doc, small, c, T0) == []
    [entry] = match_triggers(doc, big, c, T0)
    assert entry.key == "A2"
    t = advance(doc, None, entry, c, T0, context=CTX)
    assert _templates(t) == ["pro-thanks"]
    branch = next(e for e in t.trace if e.action == "branch")
    assert branch.detail["taken"] == "branch:0" and branch.detail["conditions"][0]["value"] is True
    assert branch.detail["conditions"][0]["explain"], "explain() output is kept in the trace"
    json.dumps(branch.detail)
    assert t.state.variables["order_id"] == "A2"

    plain = ContactSnapshot(id=2)
    t = advance(doc, None, entry, plain, T0, context=CTX)
    assert t.state.waiting is not None and t.state.waiting.kind == "event"
    meh = EventRecord("review.posted", T0 + timedelta(days=1), {"stars": 2})
    assert not advance(doc, t.state, EventStimulus(meh), plain, meh.occurred_at, context=CTX).changed
    good = EventRecord("review.posted", T0 + timedelta(days=1), {"stars": 5})
    t2 = advance(doc, t.state, EventStimulus(good), plain, good.occurred_at, context=CTX)
    assert _templates(t2) == ["review-thanks"]


def test_exit_rule_with_real_rules_and_explanation():
    doc = parse_journey(DOC)
    plain = ContactSnapshot(id=2)
    entry = match_triggers(doc, EventRecord("order.completed", T0, {"total": 99}), plain, T0)[0]
    t = advance(doc, None, entry, plain, T0, context=CTX)
    returned = ContactSnapshot(id=2, tags=frozenset({"returned"}))
    t2 = advance(doc, t.state, ContactChanged(), returned, T0 + timedelta(hours=1), context=CTX)
    assert t2.state.end_reason == "exited" and t2.cancel_timers
    assert t2.trace[-1].detail["explain"]


def test_a_condition_that_does_not_parse_names_line_step_and_column():
    bad = DOC.replace('attributes.plan == "pro" and score >= 10', 'attributes.plan === "pro"')
    with pytest.raises(JourneyError) as err:
        parse_journey(bad)
    [p] = err.value.problems
    assert p.step_id == "fit" and p.line == 12 and "column 19" in p.message


def test_event_filter_refuses_contact_rules_and_branch_refuses_event_properties():
    with pytest.raises(JourneyError) as err:
        parse_journey(DOC.replace("where: properties.total > 50", 'where: tag("vip")'))
    assert err.value.problems[0].path == "triggers.0.where"
    with pytest.raises(JourneyError):
        parse_journey(DOC.replace('attributes.plan == "pro" and score >= 10', "properties.total > 3"))


def test_manual_entry_without_event_has_no_variables():
    doc = parse_journey(DOC)
    t = advance(doc, None, Entry(-1), ContactSnapshot(id=3), T0, context=CTX)
    assert t.state.variables == {}
