"""Journey documents: what parses, and every refusal names its line and step id."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.unit.journeystub import stub_rules  # noqa: F401
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.model import END, JourneyError

pytestmark = pytest.mark.usefixtures("stub_rules")

GOOD = """\
key: onboarding
name: Onboarding
triggers:
  - event: signup
    where: {prop: plan, eq: pro}
    key: account_id
  - manual: true
  - date: {attribute: birthday, yearly: true, at: "09:00"}
settings:
  reentry: {after_days: 30}
  exit: [{event: message.complained}, {tag: unsubscribed}]
  goal: {event: order.completed, revenue: total}
  quiet_hours: {start: "21:00", end: "08:00"}
  send_window: {days: [mon, tue, wed, thu, fri], start: 09:00, end: "18:00"}
  frequency_cap: {email: {max: 1, per: 1d, action: delay}}
  signals: [reschedule]
steps:
  - id: welcome
    type: send
    channel: email
    template: welcome
  - id: wait-1
    type: wait
    duration: 2 days
  - id: did-open
    type: behavior
    message: welcome
    action: opened
    within: 3d
    then: tips
    else: vip
  - id: vip
    type: branch
    branches:
      - when: {tag: vip}
        next: call
    else: tips
  - id: call
    type: task
    title: Call this VIP
    due_in: 1d
    next: end
  - id: tips
    type: split
    variants:
      - {name: a, weight: 50, next: tips-a}
      - {name: b, weight: 50, next: tips-b}
  - id: tips-a
    type: send
    channel: email
    template: tips-a
    next: purchase
  - id: tips-b
    type: send
    channel: email
    template: tips-b
  - id: purchase
    type: wait_event
    event: order.completed
    timeout: 7d
    on_event: thanks
    on_timeout: bye
  - id: thanks
    type: goal
  - id: bye
    type: exit
"""


def test_a_good_document_parses_with_edges_and_settings():
    doc = parse_journey(GOOD, templates={"welcome", "tips-a", "tips-b"})
    assert doc.key == "onboarding"
    assert doc.start == "welcome"
    assert [t.type for t in doc.triggers] == ["event", "manual", "date"]
    assert doc.triggers[0].key == "account_id"
    assert doc.triggers[2].date is not None and doc.triggers[2].date.yearly
    assert doc.steps["welcome"].edges == {"next": "wait-1"}
    assert doc.steps["did-open"].type == "behaviour"
    assert doc.steps["vip"].edges == {"branch:0": "call", "else": "tips"}
    assert doc.steps["call"].edges == {"next": END}
    assert doc.steps["tips-b"].edges == {"next": "purchase"}
    assert doc.steps["purchase"].edges == {"timeout": "bye", "event": "thanks"}
    assert doc.steps["welcome"].line == 18
    s = doc.settings
    assert s.reentry == "after_days" and s.reentry_days == 30
    assert s.frequency_caps["email"].per == timedelta(days=1)
    assert s.send_window is not None and s.send_window.start == "09:00" and 5 not in s.send_window.days
    assert s.quiet_hours == ("21:00", "08:00")
    assert len(s.exit) == 2 and s.goal[0].revenue == "total"
    assert "reschedule" in s.signals
    json.loads(doc.to_json())


def test_json_documents_parse_too():
    doc = parse_journey(
        json.dumps(
            {
                "key": "j",
                "triggers": [{"manual": True}],
                "steps": [{"id": "a", "type": "send", "channel": "sms", "template": "t"}],
            }
        )
    )
    assert doc.steps["a"].edges == {"next": END}


def _problems(text, **kw):
    with pytest.raises(JourneyError) as err:
        parse_journey(text, **kw)
    return err.value.problems


HEAD = "key: j\ntriggers:\n  - manual: true\nsteps:\n"


def test_unknown_step_type_names_line_and_step():
    ps = _problems(
        HEAD + "  - id: a\n    type: send\n    channel: email\n    template: t\n  - id: b\n    type: fax\n"
    )
    assert len(ps) == 1
    assert ps[0].step_id == "b" and ps[0].line == 9 and "unknown step type" in ps[0].message


def test_unreachable_step():
    text = HEAD + "  - id: a\n    type: exit\n  - id: b\n    type: wait\n    duration: 1d\n"
    ps = _problems(text)
    assert [(p.step_id, p.line) for p in ps] == [("b", 7)]
    assert "unreachable" in ps[0].message


def test_loop_without_a_wait_is_refused_but_a_loop_with_a_wait_is_fine():
    loop = HEAD + (
        "  - id: a\n    type: send\n    channel: email\n    template: t\n"
        "  - id: b\n    type: branch\n    branches:\n      - when: {tag: x}\n        next: a\n    else: end\n"
    )
    ps = _problems(loop)
    assert len(ps) == 1 and "loop without a wait" in ps[0].message and ps[0].step_id in ("a", "b")
    ok = HEAD + (
        "  - id: a\n    type: send\n    channel: email\n    template: t\n"
        "  - id: w\n    type: wait\n    duration: 1d\n"
        "  - id: b\n    type: branch\n    branches:\n      - when: {tag: x}\n        next: a\n    else: end\n"
    )
    parse_journey(ok)


def test_missing_template_only_when_templates_are_known():
    text = HEAD + "  - id: a\n    type: send\n    channel: email\n    template: nope\n"
    parse_journey(text)
    ps = _problems(text, templates={"welcome"})
    assert ps[0].step_id == "a" and ps[0].line == 5 and "nope" in ps[0].message


def test_bad_duration_names_its_line():
    ps = _problems(HEAD + "  - id: a\n    type: wait\n    duration: soon\n")
    assert ps[0].step_id == "a" and ps[0].line == 7 and "duration" in ps[0].message


def test_condition_that_does_not_parse():
    text = HEAD + (
        "  - id: b\n    type: branch\n    branches:\n"
        "      - when: {frobnicate: 1}\n        next: end\n    else: end\n"
    )
    ps = _problems(text)
    assert ps[0].step_id == "b" and ps[0].line == 8 and "condition does not parse" in ps[0].message


def test_all_problems_reported_at_once_and_unknown_fields_caught():
    text = "key: Bad Key\ntriggers: []\nsteps:\n  - id: a\n    type: send\n"
    text += "    channel: pigeon\n    tempalte: x\n"
    ps = _problems(text)
    msgs = " | ".join(str(p) for p in ps)
    assert "key is required" in msgs
    assert "triggers" in msgs
    assert "unknown channel" in msgs
    assert "unknown field 'tempalte'" in msgs
    assert "template is required" in msgs
    assert all(p.line for p in ps)


def test_yaml_syntax_error_has_a_line():
    ps = _problems("key: j\nsteps:\n  - id: [unclosed\n")
    assert ps[0].line == 4 or ps[0].line == 3


def test_dangling_edge_and_duplicate_id():
    text = HEAD + "  - id: a\n    type: wait\n    duration: 1d\n    next: zzz\n  - id: a\n    type: exit\n"
    msgs = [str(p) for p in _problems(text)]
    assert any("duplicate step id" in m for m in msgs)


def test_yes_no_and_clock_times_stay_strings():
    text = HEAD + "  - id: at\n    type: wait_time\n    at: 09:30\n    days: [mon]\n"
    doc = parse_journey(text)
    assert doc.steps["at"].config["at"] == "09:30"


def test_error_details_are_api_shaped():
    with pytest.raises(JourneyError) as err:
        parse_journey(HEAD + "  - id: a\n    type: wait\n    duration: soon\n")
    d = err.value.details()[0]
    assert d["line"] == 7 and d["step"] == "a" and "msg" in d and isinstance(d["loc"], list)


def test_behaviour_converted_needs_an_event():
    steps = (
        "  - id: s\n    type: send\n    channel: email\n    template: t\n"
        "  - id: b\n    type: behaviour\n    message: s\n    action: converted\n"
        "    within: 2d\n    then: end\n"
    )
    ps = _problems(HEAD + steps)
    assert ps[0].step_id == "b" and "converted needs event" in ps[0].message
    parse_journey(HEAD + steps.replace("within: 2d", "within: 2d\n    event: order.completed"))
