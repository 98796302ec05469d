"""`tidings simulate` and the simulate() library function on a virtual clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.unit.journeystub import stub_rules  # noqa: F401
from tidings.cli.main import app
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.scenarios import ScenarioError
from tidings.domain.journeys.simulate import simulate

pytestmark = pytest.mark.usefixtures("stub_rules")

JOURNEY = """\
key: trial
name: Trial nurture
triggers:
  - event: trial.started
  - manual: true
settings:
  goal: {event: order.completed}
  exit: [{event: message.complained}]
  quiet_hours: {start: "21:00", end: "08:00"}
  signals: [reschedule]
steps:
  - id: welcome
    type: send
    channel: email
    template: welcome
  - id: opened
    type: behaviour
    message: welcome
    action: clicked
    within: 2d
    then: offer
    else: nudge
  - id: nudge
    type: send
    channel: email
    template: nudge
  - id: wait
    type: wait
    duration: 3d
  - id: vip
    type: branch
    branches:
      - when: {tag: vip}
        next: offer
    else: end
  - id: offer
    type: send
    channel: sms
    template: offer
  - id: cool-off
    type: wait
    duration: 1d
"""

SCENARIOS = """\
start: 2026-03-02T10:00:00Z
scenarios:
  - name: clicker buys
    contact: {email: a@example.com, timezone: Europe/Paris}
    behaviour: {opens: true, clicks: true, open_after: 1h, click_after: 2h}
    events:
      - name: order.completed
        after: {message: offer, delay: 5h}
    expect:
      - message: welcome
        at: 0h
      - message: offer
        at: 2h
      - outcome: converted
  - name: silent
    contact: {email: b@example.com}
    expect:
      - message: nudge
        at: 2d
      - no_message: offer
      - outcome: completed
  - name: complainer
    behaviour: {opens: true, complains: [welcome]}
    expect:
      - outcome: exited
      - messages: 1
"""


@pytest.fixture()
def files(tmp_path):
    j = tmp_path / "journey.yaml"
    s = tmp_path / "scenario.yaml"
    j.write_text(JOURNEY)
    s.write_text(SCENARIOS)
    return j, s, tmp_path


def test_json_output_has_the_documented_shape(files):
    j, s, _ = files
    res = CliRunner().invoke(app, ["simulate", str(j), "--scenario", str(s), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) == {"scenarios", "coverage"}
    assert set(out["coverage"]) == {"unreached_steps", "untaken_branches"}
    first = out["scenarios"][0]
    assert set(first) == {"name", "contact", "timeline", "changes", "outcome", "failed_expectations"}
    assert first["outcome"] == "converted"
    assert [t["template"] for t in first["timeline"]] == ["welcome", "offer"]
    assert set(first["timeline"][0]) == {"at", "step", "channel", "template"}
    assert datetime.fromisoformat(first["timeline"][1]["at"]) == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    silent = out["scenarios"][1]
    assert silent["outcome"] == "completed" and silent["failed_expectations"] == []
    assert out["scenarios"][2]["outcome"] == "exited"
    assert "vip:branch:0" in out["coverage"]["untaken_branches"]
    assert out["coverage"]["unreached_steps"] == []


def test_failed_expectation_exits_non_zero_and_says_why(files):
    j, s, tmp = files
    bad = tmp / "bad.yaml"
    bad.write_text("scenarios:\n  - name: wrong\n    expect:\n      - message: welcome\n        at: 1h\n"
                   "      - outcome: converted\n")  # fmt: skip
    res = CliRunner().invoke(app, ["simulate", str(j), "--scenario", str(bad), "--json"])
    assert res.exit_code == 1
    failed = json.loads(res.stdout)["scenarios"][0]["failed_expectations"]
    assert any("welcome at +1h" in f for f in failed) and any("outcome converted" in f for f in failed)
    human = CliRunner().invoke(app, ["simulate", str(j), "--scenario", str(bad)])
    assert human.exit_code == 1 and "failed" in human.output and "wrong" in human.output


def test_human_output_lists_timeline_and_coverage(files):
    j, s, _ = files
    res = CliRunner().invoke(app, ["simulate", str(j), "--scenario", str(s)])
    assert res.exit_code == 0, res.output
    assert "clicker buys" in res.output and "welcome" in res.output and "converted" in res.output
    assert "branches never taken" in res.output


def test_invalid_journey_is_refused_with_line_and_step(files):
    _, s, tmp = files
    bad = tmp / "bad-journey.yaml"
    bad.write_text("key: x\ntriggers:\n  - manual: true\nsteps:\n  - id: a\n    type: teleport\n")
    res = CliRunner().invoke(app, ["simulate", str(bad), "--scenario", str(s)])
    assert res.exit_code == 2
    assert "line 5" in res.output and "'a'" in res.output and "teleport" in res.output


def test_signals_reschedule_and_quiet_hours_in_simulation():
    doc = parse_journey(
        "key: treat\ntriggers:\n  - event: treatment.booked\nsettings:\n  signals: [reschedule]\n"
        '  quiet_hours: {start: "20:00", end: "08:00"}\n'
        "steps:\n  - id: until\n    type: wait_until\n    date: {variable: start, before: 1d, at: '18:00'}\n"
        "  - id: remind\n    type: send\n    channel: sms\n    template: reminder\n"
    )
    result = simulate(
        doc,
        [
            {
                "name": "moves",
                "contact": {"timezone": "Europe/London"},
                "enter": {"event": {"name": "treatment.booked", "properties": {"start": "2026-01-12"}}},
                "signals": [
                    {"at": "1h", "name": "reschedule", "data": {"start": "2026-01-20"}},
                    {"at": "2d", "name": "reschedule", "data": {"start": "2026-01-25"}},
                ],
            }
        ],
    )
    sc = result.scenarios[0]
    assert [(t.template, t.at) for t in sc.timeline] == [
        ("reminder", datetime(2026, 1, 24, 18, 0, tzinfo=UTC))
    ]
    assert sc.outcome == "completed"


def test_entry_by_scripted_event_and_bad_scenarios():
    doc = parse_journey(JOURNEY)
    result = simulate(doc, [{"name": "e", "enter": {"event": {"name": "trial.started"}, "at": "1h"}}])
    assert result.scenarios[0].timeline[0].template == "welcome"
    none = simulate(doc, [{"name": "n", "enter": {"event": {"name": "other"}}}])
    assert none.scenarios[0].outcome == "exited" and none.scenarios[0].timeline == []
    with pytest.raises(ScenarioError):
        simulate(doc, [{"name": "x", "events": [{"at": "1h"}]}])
    with pytest.raises(ScenarioError):
        simulate(doc, [{"name": "x", "contact": {"shoe_size": 9}}])
    typos: list[dict[str, Any]] = [
        {"expect": [{"mesage": "welcome"}]},
        {"behavior": {}},
        {"behaviour": {"open": True}},
        {"expect": [{"outcome": "won"}]},
    ]
    for typo in typos:
        with pytest.raises(ScenarioError, match="unknown field|outcome"):
            simulate(doc, [{"name": "typo", **typo}])


def test_unreadable_scenario_file_exits_2(files):
    j, _, tmp = files
    res = CliRunner().invoke(app, ["simulate", str(j), "--scenario", str(tmp / "missing.yaml")])
    assert res.exit_code == 2 and "cannot read" in res.output
    bad = tmp / "bad.yaml"
    bad.write_text("scenarios:\n  - name: x\n    expect: [{mesage: welcome}]\n")
    res = CliRunner().invoke(app, ["simulate", str(j), "--scenario", str(bad)])
    assert res.exit_code == 2 and "mesage" in res.output


def test_birthday_date_trigger_scenario():
    doc = parse_journey(
        "key: bday\ntriggers:\n  - date: {attribute: birthday, yearly: true, at: '09:00'}\n"
        "steps:\n  - id: card\n    type: send\n    channel: email\n    template: happy-birthday\n"
    )
    result = simulate(
        doc,
        [
            {
                "name": "tokyo",
                "contact": {"timezone": "Asia/Tokyo", "attributes": {"birthday": "1990-01-20"}},
                "enter": {"date_trigger": 0},
                "expect": [{"message": "happy-birthday", "at": "14d15h"}, {"outcome": "completed"}],
            }
        ],
    )
    sc = result.scenarios[0]
    assert sc.failed_expectations == [], sc.failed_expectations
    assert sc.timeline[0].at == datetime(2026, 1, 20, 0, 0, tzinfo=UTC)
