"""Signals as first-class stimuli (wait for one and branch, exit on one) and the past-date policy
of ``wait_until`` (issue 18, points 2 and 3), in the pure machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.effects import SendMessage
from tidings.domain.journeys.machine import advance
from tidings.domain.journeys.model import (
    EngineContext,
    Entry,
    EventStimulus,
    JourneyError,
    Signal,
    TimerDue,
    Transition,
)
from tidings.domain.snapshot import ContactSnapshot, EventRecord

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


@settings(deadline=None)  # the first parse of a policy's document is slow on a busy machine
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


# --------------------------------------------------------------------------- behaviour windows

def _window_doc(anchor: str | None) -> str:
    frm = f"    from: {anchor}\n" if anchor else ""
    return (
        "key: j\ntriggers:\n  - manual: true\nsteps:\n"
        "  - id: hello\n    type: send\n    channel: email\n    template: hello\n"
        f"  - id: opened\n    type: behaviour\n    message: hello\n    action: opened\n    within: 2d\n{frm}"
        "    then: thanks\n    else: nudge\n"
        "  - id: nudge\n    type: send\n    channel: email\n    template: nudge\n    next: end\n"
        "  - id: thanks\n    type: send\n    channel: email\n    template: thanks\n"
    )


def _msg(name: str, at: datetime, **extra: object) -> EventRecord:
    return EventRecord(name, at, {"step": "hello", "journey": "j", **extra})


def _run_window(anchor: str | None, delivered_after: timedelta, opened_after: timedelta) -> list[str]:
    """Drive the machine as the runtime does: each event, then the due timer, in time order."""
    doc = parse_journey(_window_doc(anchor))
    t = advance(doc, None, Entry(0), C, T0, context=CTX)
    sent: list[str] = _templates(t)
    state, events = t.state, []
    stimuli = sorted([(T0 + delivered_after, "message.delivered"), (T0 + opened_after, "message.opened")])
    for at, name in stimuli:
        while state.waiting is not None and state.waiting.until and datetime.fromisoformat(state.waiting.until) < at:
            due = datetime.fromisoformat(state.waiting.until)
            timer = TimerDue(1, "wait", {"token": state.waiting.token})
            t = advance(doc, state, timer, ContactSnapshot(id=1, events=tuple(events)), due, context=CTX)
            state, sent = t.state, sent + _templates(t)
        if state.status == "ended":
            break
        ev = _msg(name, at)
        events.append(ev)
        t = advance(doc, state, EventStimulus(ev), ContactSnapshot(id=1, events=tuple(events)), at, context=CTX)
        state, sent = t.state, sent + _templates(t)
    return sent


def test_window_from_sent_keeps_todays_meaning() -> None:
    assert _run_window(None, timedelta(days=1), timedelta(days=2, hours=12)) == ["hello", "nudge"]
    assert _run_window("sent", timedelta(days=1), timedelta(days=1, hours=12)) == ["hello", "thanks"]


def test_window_from_delivery_counts_from_the_delivered_event() -> None:
    assert _run_window("delivered", timedelta(days=1), timedelta(days=2, hours=12)) == ["hello", "thanks"]
    assert _run_window("delivered", timedelta(days=1), timedelta(days=3, hours=1)) == ["hello", "nudge"]


def test_a_bad_window_anchor_is_refused() -> None:
    with pytest.raises(JourneyError) as err:
        parse_journey(_window_doc("clicked"))
    [p] = err.value.problems
    assert p.step_id == "opened" and "from is one of" in p.message and p.line == 14


@settings(deadline=None)
@given(
    st.integers(min_value=0, max_value=72), st.integers(min_value=0, max_value=120),
    st.sampled_from(["sent", "delivered"]),
)
def test_an_open_counts_exactly_when_it_falls_in_the_window(delivered_h: int, opened_h: int, anchor: str) -> None:
    # until a delivery is seen the window counts from the send; a delivery seen in that window
    # moves it (an open before it, or a delivery after the window from the send closed: from the send)
    moved = anchor == "delivered" and delivered_h <= 48 and delivered_h <= opened_h
    start = delivered_h if moved else 0
    inside = start <= opened_h <= start + 48
    got = _run_window(anchor, timedelta(hours=delivered_h), timedelta(hours=opened_h))
    assert got == ["hello", "thanks" if inside else "nudge"]
