"""Contract of the journey-runs port: enrolment counts, migration moves, pause and resume."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.contract.conftest import NOW, Backend
from tidings.domain.journeys.timing import PARKED_AT, PARKED_KEY


def test_counts_and_waiting_enrolments(backend: Backend) -> None:
    a = backend.add_enrollment(version=1, step_id="wait")
    backend.add_enrollment(version=1, step_id="wait")
    c = backend.add_enrollment(version=2, step_id="wait", state={"step_id": "wait"})
    backend.add_enrollment(version=1, status="ended", step_id=None)
    backend.add_enrollment(journey_id=2, version=1)
    with backend.uow() as uow:
        assert uow.journey_runs.enrollment_counts(1) == [
            (1, "ended", None, 1),
            (1, "waiting", "wait", 2),
            (2, "waiting", "wait", 1),
        ]
        assert [r["id"] for r in uow.journey_runs.waiting(1, not_version=3)] == [a, a + 1, c]
        assert [r["id"] for r in uow.journey_runs.waiting(1, not_version=2)] == [a, a + 1]
        assert [r["id"] for r in uow.journey_runs.waiting(1, not_version=3, version=2)] == [c]
        got = uow.journey_runs.waiting(1, not_version=1)[0]
        assert (got["contact_id"], got["version"], got["step_id"], got["state"]) == (1, 2, "wait", {"step_id": "wait"})


def test_moves_change_version_step_and_state_and_are_traced(backend: Backend) -> None:
    eid = backend.add_enrollment(version=1, step_id="wait")
    move = {
        "enrollment_id": eid,
        "contact_id": 1,
        "from_version": 1,
        "from_step": "wait",
        "to_version": 2,
        "to_step": "pause",
        "state": {"step_id": "pause"},
    }
    with backend.uow() as uow:
        uow.journey_runs.move(1, [], NOW)
        uow.journey_runs.move(1, [move], NOW + timedelta(hours=1))
        uow.commit()
    with backend.uow() as uow:
        assert uow.journey_runs.enrollment_counts(1) == [(2, "waiting", "pause", 1)]
        assert uow.journey_runs.waiting(1, not_version=3)[0]["state"] == {"step_id": "pause"}
    assert backend.traces() == [(eid, "migrated", "pause")]


def _effect(key: str, enrollment_id: int | None, journey_id: int = 1) -> dict[str, Any]:
    return {
        "kind": "message",
        "channel": "email",
        "category": "marketing",
        "template": "t",
        "idempotency_key": key,
        "payload": {},
        "journey_id": journey_id,
        "enrollment_id": enrollment_id,
    }


def test_hold_and_release(backend: Backend) -> None:
    due = NOW + timedelta(days=2)
    live = backend.add_enrollment()
    ended = backend.add_enrollment(status="ended", end_reason="exited", step_id=None)
    done = backend.add_enrollment(status="ended", end_reason="completed", step_id=None)
    mine = backend.add_timer(enrollment_id=live, due_at=due, payload={"x": 1})
    dated = backend.add_timer(kind="date_trigger", due_at=due, payload={"journey_id": 1})
    other = backend.add_timer(kind="date_trigger", due_at=due, payload={"journey_id": 2})
    with backend.uow() as uow:
        uow.outbox.enqueue(
            1, [_effect("m1", live), _effect("m2", ended), _effect("m3", done), _effect("o", None, 2)], NOW
        )
        assert uow.journey_runs.hold(1) == (2, 3)
        assert uow.journey_runs.hold(1) == (0, 0)  # held already
        uow.commit()
    timers = backend.timers()
    assert timers[mine] == (PARKED_AT, {"x": 1, PARKED_KEY: due.isoformat()})
    assert timers[dated][0] == PARKED_AT and timers[other] == (due, {"journey_id": 2})
    later = NOW + timedelta(days=1)
    with backend.uow() as uow:
        assert uow.outbox.by_idempotency_key("m1")["next_attempt_at"] == PARKED_AT  # type: ignore[index]
        assert uow.outbox.by_idempotency_key("o")["next_attempt_at"] == NOW  # type: ignore[index]
        released = uow.journey_runs.release(1, later, skip_ended_by=("exited",))
        assert released == {"released_timers": 2, "released_messages": 2, "skipped_messages": 1}
        m1, m2, m3 = (uow.outbox.by_idempotency_key(k) for k in ("m1", "m2", "m3"))
        assert m1 is not None and (m1["status"], m1["next_attempt_at"]) == ("pending", later)
        assert m2 is not None and (m2["status"], m2["next_attempt_at"]) == ("skipped", later)
        assert m2["error"] == "enrolment ended while the journey was paused"
        assert m3 is not None and m3["status"] == "pending"
        uow.commit()
    assert backend.timers()[mine] == (due, {"x": 1})


def test_date_trigger_timers_are_dropped_and_planned_over_contacts_in_chunks(backend: Backend) -> None:
    a = backend.add_contact("a@shop.test", ["vip"], first_name="Ann")
    b = backend.add_contact("b@shop.test")
    c = backend.add_contact("c@shop.test")
    mine = backend.add_timer(kind="date_trigger", payload={"journey_id": 1})
    other = backend.add_timer(kind="date_trigger", payload={"journey_id": 2})
    live = backend.add_timer(kind="wait", enrollment_id=backend.add_enrollment(), payload={"journey_id": 1})
    with backend.uow() as uow:
        uow.journey_runs.drop_date_triggers(1)
        first = uow.journey_runs.contact_snapshots(0, 2, events=False)
        assert [(s.id, s.email, s.first_name, sorted(s.tags)) for s in first] == [
            (a, "a@shop.test", "Ann", ["vip"]),
            (b, "b@shop.test", None, []),
        ]
        assert [s.id for s in uow.journey_runs.contact_snapshots(b, 2, events=False)] == [c]
        assert uow.journey_runs.contact_snapshots(c, 2, events=False) == []
        due = NOW + timedelta(days=30)
        timer = {
            "contact_id": a,
            "enrollment_id": None,
            "kind": "date_trigger",
            "due_at": due,
            "payload": {"journey_id": 1},
        }
        uow.journey_runs.add_timers([timer])
        uow.commit()
    timers = backend.timers()
    assert mine not in timers and other in timers and live in timers
    assert sorted(v for v in timers.values() if v[1] == {"journey_id": 1} and v[0] == due) == [(due, {"journey_id": 1})]


def test_segment_rules_by_key(backend: Backend) -> None:
    with backend.uow() as uow:
        assert uow.journey_runs.segment_rules() == {}
    backend.add_segment("vip", {"tag": "vip"})
    backend.add_segment("buyers", {"all": [{"event": "purchase"}]})
    with backend.uow() as uow:
        assert uow.journey_runs.segment_rules() == {"vip": {"tag": "vip"}, "buyers": {"all": [{"event": "purchase"}]}}


def test_one_contacts_date_trigger_timers_are_dropped_by_trigger(backend: Backend) -> None:
    a = backend.add_contact("a@shop.test")
    b = backend.add_contact("b@shop.test")
    backend.add_timer(contact_id=a, kind="date_trigger", payload={"journey_id": 1, "trigger": 0})
    a1 = backend.add_timer(contact_id=a, kind="date_trigger", payload={"journey_id": 1, "trigger": 1})
    b0 = backend.add_timer(contact_id=b, kind="date_trigger", payload={"journey_id": 1, "trigger": 0})
    a0_other = backend.add_timer(contact_id=a, kind="date_trigger", payload={"journey_id": 2, "trigger": 0})
    with backend.uow() as uow:
        uow.journey_runs.drop_date_triggers(1, contact_id=a, trigger=0)
        uow.commit()
    assert set(backend.timers()) == {a1, b0, a0_other}
    with backend.uow() as uow:
        uow.journey_runs.drop_date_triggers(1, contact_id=a)
        uow.commit()
    assert set(backend.timers()) == {b0, a0_other}


def test_an_enrolments_timers_and_their_payloads(backend: Backend) -> None:
    eid = backend.add_enrollment()
    later = NOW + timedelta(hours=1)
    wait = backend.add_timer(enrollment_id=eid, kind="wait", due_at=later, payload={"step": "w"})
    held = backend.add_timer(enrollment_id=eid, kind="held", due_at=PARKED_AT, payload={PARKED_KEY: NOW.isoformat()})
    backend.add_timer(enrollment_id=backend.add_enrollment(), kind="wait")
    with backend.uow() as uow:
        got = uow.journey_runs.enrollment_timers(eid)
        assert got == [
            {"id": wait, "kind": "wait", "due_at": later, "payload": {"step": "w"}},
            {"id": held, "kind": "held", "due_at": PARKED_AT, "payload": {PARKED_KEY: NOW.isoformat()}},
        ]
        uow.journey_runs.set_timer_payload(held, {"held": [{"event": "x"}]})
        uow.commit()
    assert backend.timers()[held] == (PARKED_AT, {"held": [{"event": "x"}]})
    with backend.uow() as uow:
        assert uow.journey_runs.enrollment_timers(eid + 100) == []


def test_journey_status_is_read_back(backend: Backend) -> None:
    with backend.uow() as uow:
        jid = uow.journeys.add("welcome", "Welcome", None, NOW)
        uow.commit()
    with backend.uow() as uow:
        assert uow.journey_runs.journey_status(jid) == "draft"
        uow.journeys.update(jid, NOW, status="paused")
        assert uow.journey_runs.journey_status(jid) == "paused"
        assert uow.journey_runs.journey_status(jid + 100) is None
