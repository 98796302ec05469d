"""Contract of the worker's enrolment repository (``EnrolmentRepository``, ``ports/engine.py``):
the contact queue, events, enrolment rows, timers, traces and outbox rows — memory and SQL alike."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.contract.conftest import NOW, Backend
from tidings.domain.journeys.timing import PARKED_AT, PARKED_KEY

LEASE = timedelta(seconds=60)


def _outbox(oid: int, key: str, contact_id: int, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": oid, "contact_id": contact_id, "idempotency_key": key, "kind": "message", "channel": "email",
        "category": "marketing", "template": "t", "journey_id": 1, "journey_version": 1, "enrollment_id": None,
        "step_id": "send", "trace_id": None, "payload": {"a": 1}, "status": "pending", "attempts": 0,
        "next_attempt_at": NOW, "recipient": "a@example.org", "created_at": NOW,
    }  # fmt: skip
    return row | values


def _trace(tid: int, enrollment_id: int, action: str, outbox_id: int | None = None) -> dict[str, Any]:
    return {
        "id": tid, "contact_id": 1, "enrollment_id": enrollment_id, "journey_id": 1, "journey_version": 1,
        "step_id": "send", "stimulus": "event", "action": action, "detail": {"n": tid}, "outbox_id": outbox_id,
        "at": NOW,
    }  # fmt: skip


def test_queue_leases_claims_and_finishes_contacts(backend: Backend) -> None:
    a, b, c = (backend.add_contact(f"{n}@example.org") for n in "abc")
    with backend.uow() as uow:
        repo = uow.enrolments
        assert not repo.has_claimable_contacts(NOW)
        repo.enqueue([b], NOW)
        repo.enqueue([a, c], NOW + timedelta(seconds=1))
        repo.enqueue([b], NOW + timedelta(seconds=5))  # already queued: keeps its place
        uow.commit()
    assert backend.queued() == {a, b, c}
    with backend.uow() as uow:
        repo = uow.enrolments
        assert repo.has_claimable_contacts(NOW)
        assert repo.claim_contacts("w1", NOW, LEASE, 2, exclude=[a]) == [b, c]
        assert repo.claim_contacts("w2", NOW, LEASE, 5) == [a]
        assert not repo.has_claimable_contacts(NOW + timedelta(seconds=30))
        assert repo.claim_contacts("w2", NOW + LEASE + timedelta(seconds=1), LEASE, 1) == [b]  # lease ran out
        repo.release_contact(c)
        assert repo.claim_contacts("w3", NOW, LEASE, 5) == [c]
        uow.commit()
    backend.add_event(a, "late", NOW, {})
    with backend.uow() as uow:
        assert uow.enrolments.finish_contacts([a, b], NOW) == [a]  # a has an unprocessed event: queued again
        uow.commit()
    assert backend.queued() == {a, c}


def test_unprocessed_events_in_id_order_up_to_a_limit_then_marked(backend: Backend) -> None:
    a, b = backend.add_contact("a@example.org"), backend.add_contact("b@example.org")
    e1 = backend.add_event(a, "one", NOW, {"x": 1}, value=2.5)
    e2 = backend.add_event(b, "two", NOW, {})
    e3 = backend.add_event(a, "three", NOW - timedelta(hours=1), {})
    with backend.uow() as uow:
        repo = uow.enrolments
        got = repo.unprocessed_events([a, b], 10)
        assert {cid: [e["id"] for e in evs] for cid, evs in got.items()} == {a: [e1, e3], b: [e2]}
        first = got[a][0]
        assert (first["name"], first["properties"], first["occurred_at"]) == ("one", {"x": 1}, NOW)
        assert first["value"] == 2.5
        assert got[b][0]["value"] is None
        assert [e["id"] for e in repo.unprocessed_events([a], 1)[a]] == [e1]
        repo.mark_processed([e1, e2], NOW)
        assert {cid: [e["id"] for e in evs] for cid, evs in repo.unprocessed_events([a, b], 10).items()} == {a: [e3]}
        uow.commit()


def test_appended_events_are_idempotent_on_message_id_and_queue_their_contact(backend: Backend) -> None:
    a = backend.add_contact("a@example.org")
    row = {"contact_id": a, "name": "tag.added", "properties": {"tag": "vip"}, "message_id": "tag+:vip:1"}
    with backend.uow() as uow:
        uow.enrolments.append_events([row], NOW)
        uow.enrolments.append_events([row, {**row, "message_id": "tag+:vip:2"}], NOW)
        got = uow.enrolments.unprocessed_events([a], 10)[a]
        assert [(e["name"], e["properties"], e["occurred_at"]) for e in got] == [("tag.added", {"tag": "vip"}, NOW)] * 2
        uow.commit()
    assert backend.events() == [(a, "tag.added"), (a, "tag.added")]
    assert backend.queued() == {a}


def test_enrolments_inserted_read_and_updated(backend: Backend) -> None:
    a, b = backend.add_contact("a@example.org"), backend.add_contact("b@example.org")
    base = {"journey_id": 1, "version": 1, "status": "active", "step_id": None, "entered_at": NOW, "updated_at": NOW}
    with backend.uow() as uow:
        repo = uow.enrolments
        x, y, z = repo.insert_enrollments(
            [
                {**base, "contact_id": a, "enroll_key": "", "state": {"key": ""}},
                {**base, "contact_id": a, "journey_id": 2, "enroll_key": "k", "state": {}},
                {**base, "contact_id": b, "enroll_key": "", "state": {}},
            ]
        )
        assert x < y < z
        repo.update_enrollments(
            [
                {"_id": y, "status": "ended", "end_reason": "done", "step_id": "end", "state": {"step_id": "end"},
                 "updated_at": NOW + timedelta(hours=1), "ended_at": NOW + timedelta(hours=1), "version": 2},
            ]
        )  # fmt: skip
        uow.commit()
    with backend.uow() as uow:
        repo = uow.enrolments
        assert [e["id"] for e in repo.enrollments(contact_ids=[a])] == [x]
        assert [e["id"] for e in repo.enrollments(contact_ids=[a], live_only=False)] == [x, y]
        assert [e["id"] for e in repo.enrollments(ids=[z], contact_ids=[a], for_update=True)] == [x, z]
        assert repo.enrollments() == []
        ended = repo.enrollments(ids=[y], live_only=False)[0]
        assert (ended["status"], ended["end_reason"], ended["step_id"], ended["version"]) == ("ended", "done", "end", 2)
        assert (ended["state"], ended["ended_at"]) == ({"step_id": "end"}, NOW + timedelta(hours=1))
        assert ended["enroll_key"] == "k"
        states = sorted(repo.states([x, y]), key=lambda s: s["id"])
        assert [(s["id"], s["contact_id"], s["journey_id"], s["version"], s["state"]) for s in states] == [
            (x, a, 1, 1, {"key": ""}),
            (y, a, 2, 2, {"step_id": "end"}),
        ]
        assert repo.contact_of(z) == b and repo.contact_of(z + 100) is None
        priors = repo.prior_enrollments([a, b], [2])
        assert [(p["id"], p["enroll_key"], p["status"], p["end_reason"], p["entered_at"]) for p in priors] == [
            (y, "k", "ended", "done", NOW)
        ]
        assert repo.prior_enrollments([], [1]) == []


def test_timers_due_in_order_deleted_and_parked(backend: Backend) -> None:
    a = backend.add_contact("a@example.org")
    e1 = backend.add_enrollment(contact_id=a, journey_id=1)
    e2 = backend.add_enrollment(contact_id=a, journey_id=2)
    later = backend.add_timer(contact_id=a, enrollment_id=e1, due_at=NOW + timedelta(hours=2))
    with backend.uow() as uow:
        repo = uow.enrolments
        assert repo.next_due() == NOW + timedelta(hours=2)
        repo.insert_timers(
            [
                {"contact_id": a, "enrollment_id": e2, "kind": "wait", "due_at": NOW, "payload": {"n": 1}},
                {"contact_id": a, "enrollment_id": e1, "kind": "wait", "due_at": NOW - timedelta(hours=1),
                 "payload": {}},
                {"contact_id": a, "enrollment_id": None, "kind": "date_trigger", "due_at": NOW + timedelta(days=1),
                 "payload": {"journey_id": 1, "trigger": 0}},
            ]
        )  # fmt: skip
        uow.commit()
    with backend.uow() as uow:
        repo = uow.enrolments
        assert repo.next_due() == NOW - timedelta(hours=1)
        due = repo.due_timers(NOW, 10)
        got = [(t["enrollment_id"], t["kind"], t["due_at"]) for t in due]
        assert got == [(e1, "wait", NOW - timedelta(hours=1)), (e2, "wait", NOW)]
        assert due[1]["payload"] == {"n": 1} and due[1]["contact_id"] == a
        assert len(repo.due_timers(NOW, 1)) == 1
        assert repo.park_journey_timers(1) == 3  # e1's two timers and the journey's date trigger
        uow.commit()
    timers = backend.timers()
    assert timers[later] == (PARKED_AT, {PARKED_KEY: (NOW + timedelta(hours=2)).isoformat()})
    assert sorted(due for due, _ in timers.values()) == [NOW, PARKED_AT, PARKED_AT, PARKED_AT]
    with backend.uow() as uow:
        repo = uow.enrolments
        assert repo.park_journey_timers(1) == 0  # parked already
        repo.delete_timers([int(due[1]["id"])], [e1])
        uow.commit()
    assert backend.timers() and all(p.get("journey_id") == 1 for _, p in backend.timers().values())
    left = list(backend.timers())
    with backend.uow() as uow:
        uow.enrolments.delete_timers([])
        uow.enrolments.delete_timers(left)
        uow.commit()
    assert backend.timers() == {}


def test_outbox_rows_once_per_key_traces_linked_and_recent_sends(backend: Backend) -> None:
    a, b = backend.add_contact("a@example.org"), backend.add_contact("b@example.org")
    eid = backend.add_enrollment(contact_id=a)
    sent = {"channel": "email", "status": "sent", "created_at": NOW - timedelta(days=40)}
    old = backend.add_outbox(contact_id=a, idempotency_key="old", **sent)
    with backend.uow() as uow:
        repo = uow.enrolments
        ids = repo.allocate_ids({"traces": 2, "outbox": 2})
        (t1, t2), (o1, o2) = ids["traces"], ids["outbox"]
        assert t1 < t2 and o1 < o2 and old < o1
        assert repo.insert_outbox([_outbox(o1, "k1", a, trace_id=t1), _outbox(o2, "old", a)]) == 1
        assert repo.existing_outbox(["k1", "old", "none"]) == {"k1": o1, "old": old}
        assert repo.existing_outbox([]) == {}
        repo.insert_traces([_trace(t1, eid, "send", o1), _trace(t2, eid, "waited")])
        assert repo.insert_outbox([]) == 0
        uow.commit()
    assert backend.traces() == [(eid, "send", "send"), (eid, "waited", "send")]
    with backend.uow() as uow:
        repo = uow.enrolments
        assert repo.allocate_ids({"traces": 1})["traces"][0] > t2
        sends = repo.recent_sends([a, b], NOW - timedelta(days=31))
        assert [(s["contact_id"], s["channel"], s["category"], s["created_at"], s["sent_at"]) for s in sends] == [
            (a, "email", "marketing", NOW, None)
        ]
        assert repo.recent_sends([], NOW) == []
