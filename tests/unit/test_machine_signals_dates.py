"""Signals as first-class stimuli (wait for one and branch, exit on one) and the past-date policy
of ``wait_until`` (issue 18, points 2 and 3), in the pure machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.effects import SendMessage
from tidings.domain.journeys.machine import advance
from tidings.domain.journeys.model import EngineContext, Entry, JourneyError, Signal, Transition
from tidings.domain.snapshot import ContactSnapshot

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CTX = EngineContext(enrollment_id=3)
C = ContactSnapshot(id=1, email="a@example.com")

SIGNALS = """\
key: reminders
triggers:
  - manual: true
settings:
  exit:
    - {signal: unsubscribe-series}
steps:
  - id: first
    type: send
    channel: email
    template: first
  - id: listen
    type: wait_event
    signal: stop
    timeout: 3d
    on_event: sorry
    on_timeout: second
  - id: second
    type: send
    channel: email
    template: second
    next: end
  - id: sorry
    type: send
    channel: email
    template: stopped-confirmation
"""


def _templates(t: Transition) -> list[str]:
    return [e.template for e in t.effects if isinstance(e, SendMessage)]


def test_a_signal_wait_branches_instead_of_ending() -> None:
    doc = parse_journey(SIGNALS)
    t = advance(doc, None, Entry(0), C, T0, context=CTX)
    assert t.state.waiting is not None and t.state.waiting.event == "signal.stop"
    stopped = advance(doc, t.state, Signal("stop"), C, T0 + timedelta(hours=1), context=CTX)
    assert _templates(stopped) == ["stopped-confirmation"] and stopped.state.end_reason == "completed"
    assert stopped.state.resumed_by is not None and stopped.state.resumed_by["name"] == "signal.stop"


def test_an_exit_signal_ends_the_enrolment_as_exited() -> None:
    doc = parse_journey(SIGNALS)
    t = advance(doc, None, Entry(0), C, T0, context=CTX)
    out = advance(doc, t.state, Signal("unsubscribe-series"), C, T0 + timedelta(hours=1), context=CTX)
    assert out.state.end_reason == "exited" and not out.effects
    other = advance(doc, t.state, Signal("teleport"), C, T0, context=CTX)
    assert other.changed is False and other.trace[-1].action == "signal_refused"
    assert "unsubscribe-series" in other.trace[-1].detail["accepted"]


def test_stop_without_a_wait_for_it_still_ends_the_enrolment() -> None:
    doc = parse_journey(SIGNALS.replace("signal: stop", "signal: pause-me"))
    t = advance(doc, None, Entry(0), C, T0, context=CTX)
    assert advance(doc, t.state, Signal("stop"), C, T0, context=CTX).state.end_reason == "signal"


@pytest.mark.parametrize(
    ("old", "new", "message", "step"),
    [
        ("signal: stop", "signal: Stop!", "bad signal name", "listen"),
        ("signal: stop", "signal: stop\n    event: x.y", "exactly one of event or signal", "listen"),
        ("{signal: unsubscribe-series}", "{signal: 7}", "bad signal name", None),
    ],
)
def test_bad_signal_names_are_refused(old: str, new: str, message: str, step: str | None) -> None:
    with pytest.raises(JourneyError) as err:
        parse_journey(SIGNALS.replace(old, new))
    assert any(message in p.message and p.step_id == step and p.line for p in err.value.problems)


def _dated(policy: str | None, yearly: bool = False) -> str:
    on_past = f"    on_past: {policy}\n" if policy else ""
    return (
        "key: appt\ntriggers:\n  - manual: true\nsteps:\n"
        f"  - id: until\n    type: wait_until\n    date: {{attribute: visit, before: 1d, at: '09:00'}}\n{on_past}"
        "  - id: remind\n    type: send\n    channel: email\n    template: remind\n"
        "  - id: after\n    type: send\n    channel: email\n    template: after\n"
    )


PAST = ContactSnapshot(id=1, attributes={"visit": "2026-02-10"})


def test_a_past_date_is_skipped_by_default_with_a_trace_entry() -> None:
    t = advance(parse_journey(_dated(None)), None, Entry(0), PAST, T0, context=CTX)
    assert _templates(t) == ["after"]
    skipped = next(e for e in t.trace if e.action == "wait_skipped")
    assert skipped.detail["on_past"] == "skip" and skipped.detail["skipped_step"] == "remind"


def test_send_now_goes_on_at_once() -> None:
    t = advance(parse_journey(_dated("send_now")), None, Entry(0), PAST, T0, context=CTX)
    assert _templates(t) == ["remind", "after"]


def test_next_occurrence_waits_for_the_anniversary() -> None:
    t = advance(parse_journey(_dated("next_occurrence")), None, Entry(0), PAST, T0, context=CTX)
    assert not t.effects and t.timers[0].due_at == datetime(2027, 2, 9, 9, 0, tzinfo=UTC)


def test_a_bad_policy_is_refused_with_line_and_step() -> None:
    with pytest.raises(JourneyError) as err:
        parse_journey(_dated("later"))
    [p] = err.value.problems
    assert p.step_id == "until" and p.line == 8 and "on_past" in p.message


@given(st.integers(min_value=-400, max_value=400), st.sampled_from(["skip", "send_now", "next_occurrence"]))
def test_a_future_date_always_waits_and_a_past_one_follows_its_policy(days: int, policy: str) -> None:
    visit = (T0 + timedelta(days=days)).date().isoformat()
    contact = ContactSnapshot(id=1, attributes={"visit": visit})
    t = advance(parse_journey(_dated(policy)), None, Entry(0), contact, T0, context=CTX)
    due = datetime.fromisoformat(visit).replace(hour=9, tzinfo=UTC) - timedelta(days=1)
    if due > T0:
        assert t.timers and t.timers[0].due_at == due and not t.effects
    elif policy == "skip":
        assert _templates(t) == ["after"]
    elif policy == "send_now":
        assert _templates(t) == ["remind", "after"]
    else:
        assert t.timers and t.timers[0].due_at > T0 and not t.effects
