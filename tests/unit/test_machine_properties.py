"""Property tests over random journeys and random stimulus orders (hypothesis), with the real
rule language evaluating the conditions.

Invariants: no message (no effect) is emitted twice for one visit (idempotency keys are unique
over an enrolment's whole life); after every transition the enrolment is waiting or ended with a
reason (never stuck active); every effect has a trace entry; the state survives JSON.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tidings.domain.journeys.document import build_journey
from tidings.domain.journeys.effects import SendMessage
from tidings.domain.journeys.machine import advance
from tidings.domain.journeys.model import (
    END_REASONS,
    ContactChanged,
    EngineContext,
    EnrollmentState,
    Entry,
    EventStimulus,
    JourneyError,
    SentRecord,
    Signal,
    Stimulus,
    TimerDue,
)
from tidings.domain.journeys.simulate import simulate
from tidings.domain.snapshot import ContactSnapshot, EventRecord

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
KINDS = ["send", "send", "wait", "wait_event", "branch", "behaviour", "split", "update_contact", "wait_time",
         "wait_until", "goal", "exit", "webhook"]  # fmt: skip


@st.composite
def journeys(draw):
    n = draw(st.integers(2, 7))
    ids = [f"s{i}" for i in range(n)]
    targets = st.sampled_from([*ids, "end"])
    steps = []
    sends = []
    for i, sid in enumerate(ids):
        kind = draw(st.sampled_from(KINDS))
        following = ids[i + 1] if i + 1 < n else "end"
        s: dict = {"id": sid, "type": kind}
        if kind == "send":
            s |= {"channel": draw(st.sampled_from(["email", "sms"])), "template": f"t{i}"}
            sends.append(sid)
            if draw(st.booleans()):
                s["next"] = draw(targets)
        elif kind == "wait":
            s |= {"duration": draw(st.sampled_from(["1h", "1d", "3d"]))}
            if draw(st.booleans()):
                s["next"] = draw(targets)
        elif kind == "wait_event":
            s |= {
                "event": "order.completed",
                "timeout": "2d",
                "on_event": draw(targets),
                "on_timeout": following,
            }
        elif kind == "branch":
            s |= {"branches": [{"when": 'tag("vip")', "next": draw(targets)}], "else": following}
        elif kind == "behaviour":
            if not sends:
                s = {"id": sid, "type": "wait", "duration": "1h"}
            else:
                action = draw(st.sampled_from(["opened", "clicked"]))
                s |= {"message": draw(st.sampled_from(sends)), "action": action}
                s |= {"within": "1d", "then": draw(targets), "else": following}
        elif kind == "split":
            s |= {"variants": [{"name": "a", "weight": 1, "next": following},
                               {"name": "b", "weight": 2, "next": draw(targets)}]}  # fmt: skip
        elif kind == "update_contact":
            s |= {"add_tags": ["vip"]} if draw(st.booleans()) else {"remove_tags": ["vip"]}
        elif kind == "wait_time":
            s |= {"at": "10:00", "days": ["mon", "thu"]}
        elif kind == "wait_until":
            s |= {"date": {"variable": "start", "before": "1d"}}
        elif kind == "webhook":
            s |= {"url": "https://example.com/h"}
        steps.append(s)
    settings_ = {
        "signals": ["reschedule"],
        "exit": [{"event": "message.complained"}],
        "goal": {"event": "buy"},
    }
    if draw(st.booleans()):
        settings_["quiet_hours"] = {"start": "21:00", "end": "08:00"}
    if draw(st.booleans()):
        settings_["frequency_cap"] = {
            "email": {"max": 1, "per": "1d", "action": draw(st.sampled_from(["delay", "skip"]))}
        }
    data = {"key": "prop", "triggers": [{"manual": True}], "settings": settings_, "steps": steps}
    try:
        return build_journey(data)
    except JourneyError:
        assume(False)


stimuli = st.lists(
    st.one_of(
        st.tuples(st.just("timer"), st.integers(0, 3)),
        st.tuples(
            st.just("event"),
            st.sampled_from(
                ["order.completed", "message.opened", "message.clicked", "message.complained", "buy", "noise"]
            ),
        ),  # fmt: skip
        st.tuples(st.just("signal"), st.sampled_from(["reschedule", "stop", "unknown"])),
        st.tuples(st.just("contact"), st.booleans()),
        st.tuples(st.just("entry"), st.just(0)),
    ),
    max_size=25,
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow]
)
@given(doc=journeys(), ops=stimuli, minutes=st.lists(st.integers(0, 3000), min_size=25, max_size=25))
def test_invariants_hold_for_random_journeys_and_stimulus_orders(doc, ops, minutes):
    _run(doc, ops, minutes)


def _check(t, keys: set[str], before: EnrollmentState | None = None) -> None:
    assert t.state.status in ("waiting", "ended")
    if t.state.status == "ended":
        assert t.state.end_reason in END_REASONS
        assert t.state.waiting is None
    else:
        assert t.state.waiting is not None and t.state.end_reason is None
    traced = {e.effect_index for e in t.trace if e.effect_index is not None}
    assert traced == set(range(len(t.effects)))
    for effect in t.effects:
        assert effect.idempotency_key not in keys, f"effect repeated: {effect.idempotency_key}"
        keys.add(effect.idempotency_key)
    if t.effects or t.timers or t.changed:
        assert t.trace, "a state change without a trace entry"
    assert EnrollmentState.from_json(t.state.to_json()) == t.state
    # what the runtime stores as JSON must be JSON
    json.dumps([dict(e.detail) for e in t.trace])
    json.dumps([e.payload() for e in t.effects])
    json.dumps([dict(tm.payload) for tm in t.timers])
    waiting = t.state.waiting
    new_wait = waiting is not None and (
        before is None or before.waiting is None or before.waiting.token != waiting.token
    )
    if waiting is not None and new_wait and waiting.until:
        assert t.cancel_timers
        assert any(tm.payload["token"] == waiting.token for tm in t.timers)


def _run(doc, ops, minutes) -> None:
    contact = ContactSnapshot(id=3, timezone="Europe/Paris")
    ctx_sends: list[SentRecord] = []
    now = T0
    keys: set[str] = set()
    timers = []
    t = advance(doc, None, Entry(0, EventRecord("go", T0, {"start": "2026-01-20"})), contact, now,
                context=EngineContext(1, recent_sends=()))  # fmt: skip
    _check(t, keys)
    state = t.state
    timers = list(t.timers)
    sent_steps = [e.step_id for e in t.effects if isinstance(e, SendMessage)]
    ctx_sends += [SentRecord(e.channel, now, e.category) for e in t.effects if isinstance(e, SendMessage)]
    for (op, arg), step in zip(ops, minutes, strict=False):
        now = now + timedelta(minutes=step)
        stim: Stimulus
        if op == "timer":
            if not timers:
                continue
            timer = timers[min(arg, len(timers) - 1)]
            now = max(now, timer.due_at)
            stim = TimerDue(1, timer.kind, timer.payload)
        elif op == "event":
            props = {"journey": "prop", "step": sent_steps[-1] if sent_steps else "x", "machine": False}
            ev = EventRecord(arg, now, props)
            contact = replace(contact, events=(*contact.events, ev))
            stim = EventStimulus(ev)
        elif op == "signal":
            stim = Signal(arg, {"start": "2026-02-01"})
        elif op == "contact":
            contact = replace(contact, tags=frozenset({"vip"}) if arg else frozenset())
            stim = ContactChanged()
        else:
            stim = Entry(0)
        ctx = EngineContext(1, recent_sends=tuple(ctx_sends))
        t = advance(doc, state, stim, contact, now, context=ctx)
        # deterministic: a worker that crashed before committing recomputes the very same transition
        again = advance(doc, state, stim, contact, now, context=ctx)
        assert again.effects == t.effects and again.state == t.state and again.timers == t.timers
        _check(t, keys, state)
        if state.status == "ended":
            assert not t.changed and not t.effects
        if t.cancel_timers:
            timers = []
        timers = timers + list(t.timers)  # stale timers stay around on purpose: they must be ignored
        sent = [e for e in t.effects if isinstance(e, SendMessage)]
        sent_steps += [e.step_id for e in sent]
        ctx_sends += [SentRecord(e.channel, now, e.category) for e in sent]
        state = t.state


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow]
)
@given(
    doc=journeys(),
    opens=st.booleans(),
    clicks=st.booleans(),
    buys=st.one_of(st.none(), st.sampled_from(["1h", "30h", "5d"])),
    vip=st.booleans(),
)
def test_simulation_terminates_and_reports_consistently(doc, opens, clicks, buys, vip):
    scenario = {
        "name": "random",
        "contact": {"tags": ["vip"] if vip else [], "timezone": "America/New_York"},
        "behaviour": {"opens": opens, "clicks": clicks},
        "events": [{"name": "buy", "at": buys}] if buys else [],
        "signals": [{"name": "reschedule", "at": "2d", "data": {"start": "2026-02-01"}}],
    }
    result = simulate(doc, [scenario], horizon=timedelta(days=30))
    sc = result.scenarios[0]
    assert sc.outcome in ("converted", "exited", "waiting", "completed")
    assert all(t.step in doc.steps and doc.steps[t.step].type == "send" for t in sc.timeline)
    assert [t.at for t in sc.timeline] == sorted(t.at for t in sc.timeline)
    assert set(result.unreached_steps) <= set(doc.steps)
    keys = [p["idempotency_key"] for _, _, p in _keys(sc)]
    assert len(keys) == len(set(keys))
    json.dumps(result.to_dict())


def _keys(sc):
    return [(at, eid, e.detail) for at, eid, e in sc.trace if e.effect_index is not None]
