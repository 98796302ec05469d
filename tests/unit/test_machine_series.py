"""The recurring ``repeat`` step (issue 18, point 7): occurrences at anchor + k·period, a
reschedule re-plans every later one exactly once, skip-one, pause and resume."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.effects import SendMessage
from tidings.domain.journeys.machine import advance
from tidings.domain.journeys.model import (
    EngineContext,
    EnrollmentState,
    Entry,
    JourneyError,
    Signal,
    TimerDue,
    Transition,
)
from tidings.domain.journeys.series import add_period, occurrence
from tidings.domain.snapshot import ContactSnapshot, EventRecord

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CTX = EngineContext(enrollment_id=5)
C = ContactSnapshot(id=1, timezone="Europe/Paris")

DOC = """\
key: aligners
triggers:
  - event: treatment.started
settings:
  category: transactional
  signals: [reschedule]
steps:
  - id: series
    type: repeat
    every: 14d
    anchor: {variable: start_date, at: "09:00"}
    count: 6
    each: remind
    done: finished
  - id: remind
    type: send
    channel: email
    template: reminder
    next: series
  - id: finished
    type: send
    channel: email
    template: all-done
"""


PARSED = parse_journey(DOC)


def _enter(start: str) -> Transition:
    doc = PARSED
    ev = EventRecord("treatment.started", T0, {"start_date": start})
    return advance(doc, None, Entry(0, ev), C, T0, context=CTX)


def _fire(state: EnrollmentState) -> Transition:
    assert state.waiting is not None and state.waiting.until
    due = datetime.fromisoformat(state.waiting.until)
    timer = TimerDue(1, "wait", {"token": state.waiting.token})
    return advance(PARSED, state, timer, C, due, context=CTX)


def _sends(t: Transition) -> list[str]:
    return [e.template for e in t.effects if isinstance(e, SendMessage)]


def test_occurrences_at_anchor_plus_k_periods_then_done() -> None:
    t = _enter("2026-03-02")
    dues = []
    sent: list[str] = []
    while t.state.waiting is not None:
        dues.append(t.state.waiting.until)
        t = _fire(t.state)
        sent += _sends(t)
    assert sent == ["reminder"] * 6 + ["all-done"]
    # 09:00 Paris each time, across the DST change of 29 March (08:00 UTC, then 07:00 UTC)
    assert dues[0] == "2026-03-16T08:00:00+00:00" and dues[2] == "2026-04-13T07:00:00+00:00"
    assert len(dues) == 6


def test_a_reschedule_moves_every_later_occurrence_once() -> None:
    t = _enter("2026-03-02")
    t = _fire(t.state)  # occurrence 1 on 16 March
    now = datetime.fromisoformat(t.state.waiting.until) - timedelta(days=3)  # type: ignore[union-attr]
    moved = advance(parse_journey(DOC), t.state, Signal("reschedule", {"start_date": "2026-03-09"}), C, now,
                    context=CTX)
    assert moved.state.waiting is not None
    assert moved.state.waiting.until == "2026-04-06T07:00:00+00:00", "occurrence 2 from the new start"
    assert moved.state.series["series"]["done"] == 1


def test_skip_one_pause_and_resume() -> None:
    doc = parse_journey(DOC)
    t = _enter("2026-03-02")
    skipped = advance(doc, t.state, Signal("skip-one"), C, T0 + timedelta(days=1), context=CTX)
    assert skipped.state.waiting is not None and skipped.state.waiting.until == "2026-03-30T07:00:00+00:00"
    paused = advance(doc, skipped.state, Signal("pause"), C, T0 + timedelta(days=2), context=CTX)
    assert paused.state.waiting is not None and paused.state.waiting.until is None and not paused.timers
    later = T0 + timedelta(days=50)  # occurrences 2 and 3 passed while paused
    resumed = advance(doc, paused.state, Signal("resume"), C, later, context=CTX)
    assert resumed.state.waiting is not None and resumed.state.waiting.until == "2026-04-27T07:00:00+00:00"
    assert any(e.action == "series_skipped" for e in resumed.trace)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("every: 14d", "every: 0d", "at least 1"),
        ("every: 14d", "every: fortnightly", "write a number"),
        ("    count: 6\n", "", "count (how many), until (the last day) or lasts"),
        ("count: 6", "until: soon", "not a date"),
    ],
)
def test_bad_series_are_refused_with_line_and_step(old: str, new: str, message: str) -> None:
    with pytest.raises(JourneyError) as err:
        parse_journey(DOC.replace(old, new))
    assert any(message in p.message and p.step_id == "series" and p.line for p in err.value.problems)


def test_months_clamp_to_the_end_of_the_month() -> None:
    assert add_period(date(2026, 1, 31), 1, "mo") == date(2026, 2, 28)
    assert add_period(date(2026, 1, 31), 13, "mo") == date(2027, 2, 28)


@settings(deadline=None, max_examples=40)
@given(
    st.integers(min_value=0, max_value=5),  # occurrences done before the reschedule
    st.integers(min_value=-20, max_value=40),  # how many days the start moves
    st.integers(min_value=0, max_value=13),  # days before the next occurrence the signal arrives
)
def test_a_rescheduled_series_yields_each_remaining_occurrence_once(done: int, shift: int, early: int) -> None:
    doc = PARSED
    t = _enter("2026-03-02")
    for _ in range(done):
        t = _fire(t.state)
    assert t.state.waiting is not None
    now = datetime.fromisoformat(str(t.state.waiting.until)) - timedelta(days=early, hours=1)
    new_start = date(2026, 3, 2) + timedelta(days=shift)
    t = advance(doc, t.state, Signal("reschedule", {"start_date": new_start.isoformat()}), C, now, context=CTX)
    fired: list[int] = []
    skipped = [o["occurrence"] for e in t.trace if e.action == "series_skipped" for o in e.detail["occurrences"]]
    paris = ZoneInfo("Europe/Paris")
    anchor = datetime(new_start.year, new_start.month, new_start.day, 9, 0, tzinfo=paris)
    while t.state.waiting is not None:
        k = t.state.series["series"]["next"]
        due = occurrence(anchor, k, (14, "d"), paris)
        assert t.state.waiting.until == due.isoformat() and due.astimezone(paris).hour == 9
        t = _fire(t.state)
        fired.append(k)
    assert sorted(fired + skipped) == list(range(done + 1, 7)), "each remaining occurrence exactly once"
    assert len(set(fired)) == len(fired)


def test_the_docs_example_parses() -> None:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "journeys.md").read_text()
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if "type: repeat" in b)
    doc = parse_journey("key: x\ntriggers:\n  - manual: true\n" + block, templates={"reminder", "all-done"})
    assert doc.steps["series"].edges == {"each": "remind", "done": "finished"}


LASTS = parse_journey(DOC.replace("    count: 6\n", "    lasts: {variable: weeks, unit: w}\n"))


@settings(max_examples=60, deadline=None)
@given(weeks=st.integers(0, 30))
def test_a_series_that_lasts_n_weeks_sends_every_occurrence_within_them(weeks: int) -> None:
    """``lasts: {variable: weeks, unit: w}``: occurrence k (every 14 days) is sent while the start
    + 14k days is within the treatment's weeks — k <= weeks / 2 — each once, with vars.occurrence = k."""
    ev = EventRecord("treatment.started", T0, {"start_date": "2026-03-02", "weeks": weeks})
    t = advance(LASTS, None, Entry(0, ev), C, T0, context=CTX)
    occurrences = []
    for _ in range(40):
        if t.state.waiting is None or not t.state.waiting.until:
            break
        due = datetime.fromisoformat(t.state.waiting.until)
        t = advance(LASTS, t.state, TimerDue(1, "wait", {"token": t.state.waiting.token}), C, due, context=CTX)
        if _sends(t):
            occurrences.append(t.state.variables["occurrence"])
    assert occurrences == list(range(1, weeks // 2 + 1))


def test_a_series_without_a_usable_length_ends_with_the_reason() -> None:
    ev = EventRecord("treatment.started", T0, {"start_date": "2026-03-02", "weeks": "many"})
    t = advance(LASTS, None, Entry(0, ev), C, T0, context=CTX)
    assert t.state.waiting is None or t.state.step_id == "finished"
    assert any(e.action == "series_done" and e.detail.get("reason") == "no length" for e in t.trace)
    with pytest.raises(JourneyError) as err:
        parse_journey(DOC.replace("    count: 6\n", "    lasts: {variable: weeks, unit: years}\n"))
    assert any("lasts is" in p.message and p.step_id == "series" for p in err.value.problems)
