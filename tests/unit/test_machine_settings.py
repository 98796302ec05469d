"""Journey settings in the machine: exit/suppression/goal, send windows, quiet hours, caps, owners."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.journeystub import stub_rules  # noqa: F401
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.effects import Conversion
from tidings.domain.journeys.machine import advance
from tidings.domain.journeys.model import (
    ContactChanged,
    EngineContext,
    Entry,
    EventStimulus,
    PriorEnrollment,
    SentRecord,
    TimerDue,
)
from tidings.domain.journeys.triggers import may_enter
from tidings.domain.snapshot import ContactSnapshot, EventRecord

pytestmark = pytest.mark.usefixtures("stub_rules")

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # Monday
CTX = EngineContext(enrollment_id=1)
SEND = "  - id: s\n    type: send\n    channel: email\n    template: hello\n"
WAIT = "  - id: w\n    type: wait\n    duration: 1d\n"


def doc(settings: str, steps: str = WAIT + SEND):
    return parse_journey("key: j\ntriggers:\n  - manual: true\nsettings:\n" + settings + "steps:\n" + steps)


def enter(d, contact=None, now=T0, ctx=CTX):
    return advance(d, None, Entry(0), contact or ContactSnapshot(id=1), now, context=ctx)


def fire(d, t, contact=None, ctx=CTX):
    timer = t.timers[-1]
    return advance(d, t.state, TimerDue(1, timer.kind, timer.payload), contact or ContactSnapshot(id=1),
                   timer.due_at, context=ctx)  # fmt: skip


# ------------------------------------------------------------------ exit, suppression, goal


def test_exit_event_ends_a_waiting_enrolment_and_cancels_timers():
    d = doc("  exit: [{event: message.complained}]\n")
    t = enter(d)
    ev = EventRecord("message.complained", T0 + timedelta(hours=1))
    t2 = advance(
        d, t.state, EventStimulus(ev), ContactSnapshot(id=1, events=(ev,)), ev.occurred_at, context=CTX
    )
    assert t2.state.end_reason == "exited" and t2.cancel_timers and t2.effects == []
    assert t2.trace[-1].action == "ended" and t2.trace[-1].detail["event"]["name"] == "message.complained"


def test_exit_rule_checked_before_every_step_and_on_contact_change():
    d = doc("  exit: {tag: returned}\n")
    returned = ContactSnapshot(id=1, tags=frozenset({"returned"}))
    assert enter(d, returned).state.end_reason == "exited"
    t = enter(d)
    assert fire(d, t, returned).effects == []
    changed = advance(d, t.state, ContactChanged(), returned, T0, context=CTX)
    assert changed.state.end_reason == "exited" and "explain" in changed.trace[-1].detail
    assert not advance(d, t.state, ContactChanged(), ContactSnapshot(id=1), T0, context=CTX).changed


def test_suppression_wins_over_exit():
    d = doc("  suppress: {tag: blocked}\n  exit: {tag: blocked}\n")
    assert enter(d, ContactSnapshot(id=1, tags=frozenset({"blocked"}))).state.end_reason == "suppressed"


def test_goal_event_converts_with_revenue():
    d = doc("  goal: {event: order.completed, where: {prop: shop, eq: web}, revenue: total}\n")
    t = enter(d)
    store = EventRecord("order.completed", T0, {"shop": "store", "total": 10})
    assert not advance(d, t.state, EventStimulus(store), ContactSnapshot(id=1), T0, context=CTX).changed
    web = EventRecord("order.completed", T0, {"shop": "web", "total": 42})
    t2 = advance(d, t.state, EventStimulus(web), ContactSnapshot(id=1), T0, context=CTX)
    assert t2.state.end_reason == "converted"
    [conv] = t2.effects
    assert isinstance(conv, Conversion) and conv.revenue == 42 and conv.idempotency_key == "1:goal"
    assert any(e.effect_index == 0 for e in t2.trace)


# ------------------------------------------------------------------ owned contacts


def test_owned_contacts_get_no_nurture_unless_the_journey_opts_in():
    d = doc("  category: marketing\n")
    owned = ContactSnapshot(id=1, owner="ae@example.com")
    t = enter(d, owned)
    assert t.state.end_reason == "owned" and t.effects == []
    # an owner assigned mid-journey stops the nurture at the next step
    t = enter(d)
    assert fire(d, t, owned).state.end_reason == "owned"
    opted = doc("  allow_owned: true\n")
    assert [e.template for e in fire(opted, enter(opted, owned), owned).effects] == ["hello"]
    transactional = doc("  category: transactional\n")
    assert fire(transactional, enter(transactional, owned), owned).effects


# ------------------------------------------------------------------ send windows and quiet hours


def test_send_window_delays_to_next_opening_in_contact_timezone_same_visit():
    d = doc('  send_window: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}\n', steps=SEND)
    c = ContactSnapshot(id=1, timezone="America/Los_Angeles")
    # Monday 09:00 UTC is 01:00 in Los Angeles: wait until 09:00 local = 17:00 UTC
    t = enter(d, c)
    assert t.effects == [] and t.state.waiting.kind == "window"
    assert t.timers[0].due_at == datetime(2026, 1, 5, 17, 0, tzinfo=UTC)
    t2 = fire(d, t, c)
    assert [e.idempotency_key for e in t2.effects] == ["1:s:1"] and t2.state.visits["s"] == 1


def test_send_window_skips_weekend():
    d = doc('  send_window: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}\n', steps=SEND)
    saturday = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    t = enter(d, now=saturday)
    assert t.timers[0].due_at == datetime(2026, 1, 12, 9, 0, tzinfo=UTC)


def test_quiet_hours_across_midnight():
    d = doc('  quiet_hours: {start: "21:00", end: "08:00"}\n', steps=SEND)
    c = ContactSnapshot(id=1, timezone="Europe/Berlin")
    late = datetime(2026, 1, 5, 22, 30, tzinfo=UTC)  # 23:30 in Berlin
    t = enter(d, c, now=late)
    assert t.timers[0].due_at == datetime(2026, 1, 6, 7, 0, tzinfo=UTC)  # 08:00 Berlin
    assert enter(d, c, now=datetime(2026, 1, 5, 12, 0, tzinfo=UTC)).effects


def test_ignore_window_send_goes_now():
    steps = "  - id: s\n    type: send\n    channel: sms\n    template: t\n    ignore_window: true\n"
    d = doc('  quiet_hours: {start: "00:00", end: "23:59"}\n', steps=steps)
    assert enter(d).effects


# ------------------------------------------------------------------ frequency cap


def test_frequency_cap_delays_until_the_window_frees():
    d = doc("  frequency_cap: {email: {max: 1, per: 1d, action: delay}}\n", steps=SEND)
    sent = SentRecord("email", T0 - timedelta(hours=3))
    ctx = EngineContext(enrollment_id=1, recent_sends=(sent,))
    t = enter(d, ctx=ctx)
    assert t.effects == [] and t.state.waiting.kind == "cap"
    assert t.timers[0].due_at == T0 + timedelta(hours=21)
    t2 = fire(d, t, ctx=EngineContext(enrollment_id=1, recent_sends=(sent,)))
    assert [e.idempotency_key for e in t2.effects] == ["1:s:1"]


def test_frequency_cap_skip_and_transactional_bypass_and_event_fallback():
    d = doc("  frequency_cap: {email: {max: 1, per: 1d, action: skip}}\n", steps=SEND)
    ctx = EngineContext(enrollment_id=1, recent_sends=(SentRecord("email", T0 - timedelta(hours=1)),))
    t = enter(d, ctx=ctx)
    assert t.effects == [] and t.state.end_reason == "completed"
    assert [e.action for e in t.trace if e.step_id == "s"][0] == "send_skipped"
    # other channels and transactional messages are not capped
    sms = ContactSnapshot(id=1)
    assert enter(d, sms, ctx=EngineContext(1, recent_sends=(SentRecord("sms", T0),))).effects
    td = doc(
        "  category: transactional\n  frequency_cap: {email: {max: 1, per: 1d, action: skip}}\n", steps=SEND
    )
    assert enter(td, ctx=ctx).effects
    # without recent_sends the cap reads message.sent events from the snapshot
    ev = EventRecord("message.sent", T0 - timedelta(hours=2), {"channel": "email"})
    assert enter(d, replace(sms, events=(ev,))).effects == []
    old = EventRecord("message.sent", T0 - timedelta(days=2), {"channel": "email"})
    assert enter(d, replace(sms, events=(old,))).effects


def test_cap_counts_sends_within_one_transition():
    steps = SEND + "  - id: s2\n    type: send\n    channel: email\n    template: again\n"
    d = doc("  frequency_cap: {email: {max: 1, per: 1d, action: skip}}\n", steps=steps)
    assert [e.template for e in enter(d).effects] == ["hello"]


# ------------------------------------------------------------------ re-entry


def _prior(status="ended", key="", days_ago=10, ended_days_ago=5):
    ended = status == "ended"
    return PriorEnrollment(
        status,
        "completed" if ended else None,
        T0 - timedelta(days=days_ago),
        T0 - timedelta(days=ended_days_ago) if ended else None,
        key,
    )


@pytest.mark.parametrize(
    ("reentry", "previous", "key", "ok"),
    [
        ("never", [], "", True),
        ("never", [_prior()], "", False),
        ("never", [_prior(key="a")], "b", False),
        ("after_exit", [_prior()], "", True),
        ("after_exit", [_prior(status="waiting")], "", False),
        ("after_exit", [_prior(status="waiting", key="o1")], "o2", True),
        ("per_key", [_prior(key="o1")], "o1", False),
        ("per_key", [_prior(key="o1")], "o2", True),
        ("{after_days: 7}", [_prior(ended_days_ago=5)], "", False),
        ("{after_days: 7}", [_prior(ended_days_ago=8)], "", True),
    ],
)
def test_reentry_policies(reentry, previous, key, ok):
    d = doc(f"  reentry: {reentry}\n")
    allowed, reason = may_enter(d, previous, key, T0)
    assert allowed is ok and reason


def test_may_enter_accepts_plain_tuples():
    d = doc("  reentry: per_key\n")
    assert may_enter(d, [("ended", "completed", T0, T0, "o1")], "o1", T0)[0] is False
    assert may_enter(d, [("ended", "completed", T0, T0, "o1")], "o2", T0)[0] is True
