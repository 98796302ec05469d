"""The state machine, step type by step type, called directly (no simulator)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.journeystub import stub_rules  # noqa: F401
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.effects import (
    AssignOwner,
    CallWebhook,
    Conversion,
    CreateTask,
    EnrollOther,
    SendMessage,
    UpdateContact,
)
from tidings.domain.journeys.machine import EDGES, advance, move
from tidings.domain.journeys.model import (
    ContactChanged,
    EngineContext,
    EnrollmentState,
    Entry,
    EventStimulus,
    IllegalTransition,
    Signal,
    TimerDue,
)
from tidings.domain.journeys.steps import assignment_point
from tidings.domain.snapshot import ContactSnapshot, EventRecord

pytestmark = pytest.mark.usefixtures("stub_rules")

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday
CTX = EngineContext(enrollment_id=7, journey_version=3)
HEAD = "key: j\ntriggers:\n  - manual: true\n"


def doc(steps: str, settings: str = ""):
    return parse_journey(HEAD + (f"settings:\n{settings}" if settings else "") + "steps:\n" + steps)


def enter(d, contact=None, now=T0):
    return advance(d, None, Entry(0), contact or ContactSnapshot(id=1), now, context=CTX)


def fire(d, t, contact=None, now=None):
    timer = t.timers[-1]
    return advance(
        d,
        t.state,
        TimerDue(1, timer.kind, timer.payload),
        contact or ContactSnapshot(id=1),
        now or timer.due_at,
        context=CTX,
    )


def event(d, state, name, at, contact=None, **props):
    ev = EventRecord(name, at, props)
    c = contact or ContactSnapshot(id=1)
    c = replace(c, events=(*c.events, ev))
    return advance(d, state, EventStimulus(ev), c, at, context=CTX)


SEND = "  - id: s\n    type: send\n    channel: email\n    template: hello\n"


def test_declared_edges_and_illegal_transitions_raise():
    assert move("new", "enter") == "active"
    assert ("ended", "resume") not in EDGES
    with pytest.raises(IllegalTransition):
        move("ended", "resume")
    with pytest.raises(IllegalTransition):
        move("new", "wait")
    d = doc(SEND)
    with pytest.raises(IllegalTransition):
        advance(d, None, ContactChanged(), ContactSnapshot(id=1), T0, context=CTX)


def test_send_then_complete_with_idempotency_key_and_trace():
    d = doc(SEND)
    t = enter(d)
    assert t.state.status == "ended" and t.state.end_reason == "completed"
    [m] = t.effects
    assert isinstance(m, SendMessage)
    assert (m.channel, m.template, m.category, m.idempotency_key) == ("email", "hello", "marketing", "7:s:1")
    assert m.data["journey"] == "j" and m.data["step"] == "s" and m.data["version"] == 3
    traced = [e for e in t.trace if e.effect_index == 0]
    assert traced and traced[0].action == "send" and traced[0].step_id == "s"
    assert [e.action for e in t.trace][0] == "entered" and t.trace[-1].action == "ended"
    assert t.cancel_timers


def test_stimulus_for_a_finished_enrolment_is_recorded_and_ignored():
    d = doc(SEND)
    t = enter(d)
    t2 = advance(d, t.state, EventStimulus(EventRecord("x", T0)), ContactSnapshot(id=1), T0, context=CTX)
    assert not t2.changed and t2.effects == [] and t2.trace[0].action == "ignored"
    assert t2.state.to_dict() == t.state.to_dict()


def test_wait_duration_sets_a_timer_and_resumes_on_it_only():
    d = doc("  - id: w\n    type: wait\n    duration: 2d\n" + SEND)
    t = enter(d)
    assert t.state.status == "waiting" and t.effects == []
    [timer] = t.timers
    assert timer.due_at == T0 + timedelta(days=2) and timer.payload["token"] == t.state.waiting.token
    stale = advance(d, t.state, TimerDue(1, "wait", {"token": 999}), ContactSnapshot(id=1), T0, context=CTX)
    assert not stale.changed and stale.trace[0].action == "stale_timer"
    t2 = fire(d, t)
    assert t2.state.status == "ended" and [e.template for e in t2.effects] == ["hello"]
    # replaying the same timer after it fired is stale, not a second send
    t3 = advance(
        d, t2.state, TimerDue(1, "wait", t.timers[0].payload), ContactSnapshot(id=1), T0, context=CTX
    )
    assert t3.effects == [] and not t3.changed


def test_state_round_trips_through_json():
    d = doc("  - id: w\n    type: wait\n    duration: 2d\n" + SEND)
    t = enter(d)
    back = EnrollmentState.from_json(t.state.to_json())
    assert back == t.state
    timer = t.timers[0]
    t2 = advance(
        d, back, TimerDue(1, timer.kind, timer.payload), ContactSnapshot(id=1), timer.due_at, context=CTX
    )
    assert t2.effects


def test_wait_until_attribute_date_minus_offset_at_local_time():
    d = doc(
        "  - id: u\n    type: wait_until\n    date: {attribute: appointment, offset: -1d, at: '08:00'}\n"
        + SEND
    )
    c = ContactSnapshot(id=1, timezone="Europe/Paris", attributes={"appointment": "2026-01-20"})
    t = enter(d, c)
    assert t.timers[0].due_at == datetime(2026, 1, 19, 7, 0, tzinfo=UTC)
    # a missing or past date does not wait
    t_missing = enter(d, ContactSnapshot(id=1))
    assert t_missing.state.end_reason == "completed" and t_missing.effects
    past = ContactSnapshot(id=1, attributes={"appointment": "2025-01-01"})
    # a past date skips the wait and the message it timed (on_past: skip, the v2 default)
    assert not enter(d, past).effects


def test_wait_time_of_day_and_weekday_in_contact_timezone():
    d = doc("  - id: t\n    type: wait_time\n    at: '10:00'\n    days: [wed]\n" + SEND)
    c = ContactSnapshot(id=1, timezone="America/New_York")
    t = enter(d, c)
    # Wednesday 7 Jan 2026 10:00 New York = 15:00 UTC
    assert t.timers[0].due_at == datetime(2026, 1, 7, 15, 0, tzinfo=UTC)


WAIT_EVENT = (
    "  - id: we\n    type: wait_event\n    event: order.completed\n    where: {prop: shop, eq: web}\n"
    "    timeout: 3d\n    on_event: yes-path\n    on_timeout: no-path\n"
    "  - id: yes-path\n    type: send\n    channel: email\n    template: thanks\n    next: end\n"
    "  - id: no-path\n    type: send\n    channel: email\n    template: reminder\n"
)


def test_wait_for_event_matching_filter_branches_on_event():
    d = doc(WAIT_EVENT)
    t = enter(d)
    assert t.state.waiting.kind == "event" and t.timers[0].kind == "timeout"
    other = event(d, t.state, "order.completed", T0 + timedelta(hours=1), shop="store")
    assert not other.changed
    t2 = event(d, t.state, "order.completed", T0 + timedelta(hours=2), shop="web")
    assert [e.template for e in t2.effects] == ["thanks"] and t2.cancel_timers
    resume = [e for e in t2.trace if e.action == "resume"][0]
    assert resume.detail["edge"] == "event"


def test_wait_for_event_timeout_branch():
    d = doc(WAIT_EVENT)
    t = enter(d)
    t2 = fire(d, t)
    assert [e.template for e in t2.effects] == ["reminder"]
    assert t2.state.end_reason == "completed"


BRANCH = (
    "  - id: b\n    type: branch\n    branches:\n      - when: {tag: vip}\n        next: v\n"
    "      - when: {attr: plan, eq: pro}\n        next: p\n    else: o\n"
    "  - id: v\n    type: send\n    channel: email\n    template: vip\n    next: end\n"
    "  - id: p\n    type: send\n    channel: email\n    template: pro\n    next: end\n"
    "  - id: o\n    type: send\n    channel: email\n    template: other\n"
)


@pytest.mark.parametrize(
    ("contact", "template", "taken"),
    [
        (ContactSnapshot(id=1, tags=frozenset({"vip"})), "vip", "branch:0"),
        (ContactSnapshot(id=1, attributes={"plan": "pro"}), "pro", "branch:1"),
        (ContactSnapshot(id=1), "other", "else"),
    ],
)
def test_branch_takes_first_true_condition_and_traces_values(contact, template, taken):
    d = doc(BRANCH)
    t = enter(d, contact)
    assert [e.template for e in t.effects] == [template]
    [b] = [e for e in t.trace if e.action == "branch"]
    assert b.detail["taken"] == taken
    assert all("explain" in c and "value" in c for c in b.detail["conditions"])


BEHAVIOUR = (
    SEND + "  - id: beh\n    type: behaviour\n    message: s\n    action: clicked\n    within: 2d\n"
    "    then: clicked\n    else: not-clicked\n"
    "  - id: clicked\n    type: send\n    channel: email\n    template: c\n    next: end\n"
    "  - id: not-clicked\n    type: send\n    channel: email\n    template: nc\n"
)


def _msg(name, at, step="s", machine=False):
    return EventRecord(name, at, {"journey": "j", "step": step, "template": "hello", "machine": machine})


def test_behaviour_split_waits_for_the_click_within_the_window():
    d = doc(BEHAVIOUR)
    t = enter(d)
    assert t.state.waiting.kind == "behaviour" and t.timers[0].due_at == T0 + timedelta(days=2)
    c = ContactSnapshot(id=1)
    # an open is not a click; a machine click is not a click; a click on another step is not
    for ev in (
        _msg("message.opened", T0 + timedelta(hours=1)),
        _msg("message.clicked", T0 + timedelta(hours=1), machine=True),
        _msg("message.clicked", T0 + timedelta(hours=1), step="zzz"),
    ):
        assert not advance(d, t.state, EventStimulus(ev), c, ev.occurred_at, context=CTX).changed
    click = _msg("message.clicked", T0 + timedelta(hours=5))
    t2 = advance(d, t.state, EventStimulus(click), c, click.occurred_at, context=CTX)
    assert [getattr(e, "template", None) for e in t2.effects] == ["c"]


def test_behaviour_split_else_when_window_passes_and_reads_history_at_timeout():
    d = doc(BEHAVIOUR)
    t = enter(d)
    assert [e.template for e in fire(d, t).effects] == ["nc"]
    # a click the engine missed as a stimulus is still found in the snapshot at the timeout
    c = ContactSnapshot(id=1, events=(_msg("message.clicked", T0 + timedelta(hours=3)),))
    assert [e.template for e in fire(d, t, c).effects] == ["c"]


SPLIT = (
    "  - id: ab\n    type: split\n    variants:\n      - {name: a, weight: 30, next: sa}\n"
    "      - {name: b, weight: 70, next: sb}\n"
    "  - id: sa\n    type: send\n    channel: email\n    template: a\n    next: end\n"
    "  - id: sb\n    type: send\n    channel: email\n    template: b\n"
)


def test_split_is_deterministic_weighted_recorded_and_traced():
    d = doc(SPLIT)
    counts = {"a": 0, "b": 0}
    for cid in range(1, 2001):
        t = enter(d, ContactSnapshot(id=cid))
        variant = t.state.ab["ab"]
        counts[variant] += 1
        assert [e.template for e in t.effects] == [variant]
        assert [e for e in t.trace if e.action == "split"][0].detail["variant"] == variant
        assert (assignment_point("j", cid, "ab") < 0.3) == (variant == "a")
    assert 500 < counts["a"] < 700
    again = [enter(d, ContactSnapshot(id=5)).state.ab["ab"] for _ in range(3)]
    assert len(set(again)) == 1


def test_action_steps_emit_effects_with_keys():
    d = doc(
        "  - id: u\n    type: update_contact\n    set: {plan: pro}\n    add_tags: [a]\n    remove_tags: [b]\n"
        "    lifecycle_stage: customer\n    score: 5\n"
        "  - id: h\n    type: webhook\n    url: https://example.com/hook\n    body: {x: 1}\n"
        "  - id: k\n    type: task\n    title: Call\n    team: sales\n    due_in: 1d\n"
        "  - id: o\n    type: assign_owner\n    team: sales\n    strategy: round_robin\n"
        "  - id: e\n    type: enroll\n    journey: other\n"
        "  - id: g\n    type: goal\n    goal: signed\n    revenue: 100\n",
        settings="  allow_owned: true\n",
    )
    t = enter(d)
    kinds = [type(e) for e in t.effects]
    assert kinds == [UpdateContact, CallWebhook, CreateTask, AssignOwner, EnrollOther, Conversion]
    u = t.effects[0]
    assert u.set_attributes == {"plan": "pro"} and u.add_tags == ("a",) and u.score_delta == 5
    assert u.stage == "customer"  # the step key is the contact field's name: lifecycle_stage
    assert t.effects[1].body["x"] == 1 and t.effects[1].method == "POST"
    assert t.effects[2].due_in == timedelta(days=1)
    assert t.effects[5].revenue == 100
    assert [e.idempotency_key for e in t.effects] == ["7:u:1", "7:h:1", "7:k:1", "7:o:1", "7:e:1", "7:g:1"]
    assert t.state.end_reason == "converted"
    assert sorted(e.effect_index for e in t.trace if e.effect_index is not None) == list(range(6))


def test_exit_step_ends_as_exited():
    t = enter(doc("  - id: x\n    type: exit\n    reason: done\n"))
    assert t.state.status == "ended" and t.state.end_reason == "exited"


def test_signal_reschedules_a_date_wait():
    d = doc(
        "  - id: u\n    type: wait_until\n    date: {variable: start_date, offset: -1d, at: '09:00'}\n"
        + SEND,
        settings="  signals: [reschedule]\n",
    )
    t = advance(d, None, Entry(0), ContactSnapshot(id=1), T0, context=CTX)
    assert t.state.status == "ended"  # no date yet: nothing to wait for
    d2 = doc(
        "  - id: w0\n    type: wait\n    duration: 1h\n"
        "  - id: u\n    type: wait_until\n    date: {variable: start_date, offset: -1d, at: '09:00'}\n"
        + SEND,
        settings="  signals: [reschedule]\n",
    )
    t0 = enter(d2)
    t1 = advance(d2, t0.state, Signal("reschedule", {"start_date": "2026-02-10"}), ContactSnapshot(id=1),
                 T0 + timedelta(minutes=5), context=CTX)  # fmt: skip
    assert t1.state.variables["start_date"] == "2026-02-10" and t1.timers == []
    timer = t0.timers[0]
    t = advance(d2, t1.state, TimerDue(1, timer.kind, timer.payload), ContactSnapshot(id=1), timer.due_at,
                context=CTX)  # fmt: skip
    assert (
        t.state.waiting is not None
        and t.state.waiting.kind == "date"
        and t.timers[0].due_at == datetime(2026, 2, 9, 9, 0, tzinfo=UTC)
    )
    moved = advance(d2, t.state, Signal("reschedule", {"start_date": "2026-03-01"}), ContactSnapshot(id=1),
                    T0 + timedelta(days=2), context=CTX)  # fmt: skip
    assert moved.cancel_timers and moved.timers[0].due_at == datetime(2026, 2, 28, 9, 0, tzinfo=UTC)
    assert moved.state.variables["start_date"] == "2026-03-01"
    # the old timer is now stale
    old = advance(d2, moved.state, TimerDue(1, "wait", t.timers[0].payload), ContactSnapshot(id=1),
                  datetime(2026, 2, 9, 9, 0, tzinfo=UTC), context=CTX)  # fmt: skip
    assert not old.changed
    assert [e.template for e in fire(d2, moved).effects] == ["hello"]


def test_unknown_signal_is_refused_and_stop_ends():
    d = doc("  - id: w\n    type: wait\n    duration: 1d\n" + SEND)
    t = enter(d)
    r = advance(d, t.state, Signal("reschedule", {"x": 1}), ContactSnapshot(id=1), T0, context=CTX)
    assert not r.changed and r.trace[0].action == "signal_refused" and "x" not in r.state.variables
    s = advance(d, t.state, Signal("stop"), ContactSnapshot(id=1), T0, context=CTX)
    assert s.state.end_reason == "signal"


def test_the_stage_key_is_the_contact_fields_name():
    from tidings.domain.journeys.model import JourneyError

    with pytest.raises(JourneyError) as info:
        doc("  - id: u\n    type: update_contact\n    stage: customer\n")
    assert "lifecycle_stage" in str(info.value.problems)
