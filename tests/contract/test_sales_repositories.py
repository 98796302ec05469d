"""Contract of the sales ports: tasks, settings documents, change events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.contract.conftest import NOW, Backend


def _task(contact_id: int, title: str, **more: Any) -> dict[str, Any]:
    return {
        "contact_id": contact_id,
        "title": title,
        "body": "",
        "owner": None,
        "team": None,
        "status": "open",
        "due_at": None,
        "outbox_id": None,
        "created_at": NOW,
        **more,
    }


def test_tasks_add_get_update_and_by_outbox(backend: Backend) -> None:
    with backend.uow() as uow:
        tid = uow.tasks.add(_task(7, "Call Ann", owner="rep@shop.test", outbox_id=42))
        uow.commit()
    with backend.uow() as uow:
        task = uow.tasks.get(tid)
        assert task is not None
        assert (task["id"], task["title"], task["owner"], task["status"], task["completed_at"]) == (
            tid, "Call Ann", "rep@shop.test", "open", None
        )
        assert uow.tasks.by_outbox(42) == task
        assert uow.tasks.by_outbox(43) is None and uow.tasks.get(tid + 1) is None
        uow.tasks.update(tid, {"status": "done", "completed_at": NOW})
        uow.commit()
    with backend.uow() as uow:
        done = uow.tasks.get(tid)
        assert done is not None and (done["status"], done["completed_at"]) == ("done", NOW)


def test_tasks_search_filters_and_orders_by_due_time_then_id(backend: Backend) -> None:
    soon, later = NOW + timedelta(hours=1), NOW + timedelta(days=1)
    with backend.uow() as uow:
        a = uow.tasks.add(_task(1, "a", owner="ann@shop.test"))
        b = uow.tasks.add(_task(2, "b", owner="ann@shop.test", due_at=later))
        c = uow.tasks.add(_task(1, "c", owner="bob@shop.test", due_at=soon, team="north"))
        d = uow.tasks.add(_task(3, "d", owner="ann@shop.test", status="done"))
        uow.commit()
    with backend.uow() as uow:
        assert [t["id"] for t in uow.tasks.search()] == [c, b, a, d]
        assert [t["id"] for t in uow.tasks.search(owner="ann@shop.test")] == [b, a, d]
        assert [t["id"] for t in uow.tasks.search(owner="ann@shop.test", status="open")] == [b, a]
        assert [t["id"] for t in uow.tasks.search(team="north")] == [c]
        assert [t["id"] for t in uow.tasks.search(contact_id=1)] == [c, a]
        assert [t["id"] for t in uow.tasks.search(limit=2)] == [c, b]


def test_settings_get_put_and_lock(backend: Backend) -> None:
    with backend.uow() as uow:
        assert uow.settings.get("task_routing") is None
        uow.settings.put("task_routing", {"teams": {"north": ["a@shop.test"]}}, NOW)
        uow.settings.put("task_routing", {"teams": {}}, NOW)
        assert uow.settings.lock("task_rr:north", {"n": 0}, NOW) == {"n": 0}
        uow.commit()
    with backend.uow() as uow:
        assert uow.settings.get("task_routing") == {"teams": {}}
        uow.settings.put("task_rr:north", {"n": 1, "last": "a@shop.test"}, NOW)
        assert uow.settings.lock("task_rr:north", {"n": 0}, NOW) == {"n": 1, "last": "a@shop.test"}
        uow.commit()


def test_change_events_are_appended_and_their_contacts_queued(backend: Backend) -> None:
    cid = backend.add_contact("ann@shop.test")
    event = {
        "contact_id": cid,
        "name": "task.completed",
        "properties": {"task_id": 1},
        "occurred_at": NOW,
        "received_at": NOW,
        "message_id": f"task.completed:1:{backend.name}",
        "source": "tasks",
        "value": None,
    }
    with backend.uow() as uow:
        uow.events.append_changes([], NOW)
        uow.events.append_changes([event], NOW)
        uow.commit()
    assert backend.events() == [(cid, "task.completed")]
    assert backend.queued() == {cid}


def test_tasks_open_counts_per_owner(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.tasks.add(_task(1, "a", owner="ann@shop.test"))
        uow.tasks.add(_task(1, "b", owner="ann@shop.test", team="north"))
        uow.tasks.add(_task(1, "c", owner="ann@shop.test", status="done"))
        uow.tasks.add(_task(1, "d", owner="bob@shop.test"))
        uow.tasks.add(_task(1, "e", owner="zed@shop.test"))
        uow.commit()
    with backend.uow() as uow:
        assert uow.tasks.open_counts(["ann@shop.test", "bob@shop.test", "cy@shop.test"]) == {
            "ann@shop.test": 2, "bob@shop.test": 1, "cy@shop.test": 0
        }
        assert uow.tasks.open_counts([]) == {}


def test_tasks_escalation_candidates_and_marking_once(backend: Backend) -> None:
    with backend.uow() as uow:
        early = uow.tasks.add(_task(1, "early", team="north", owner="ann@shop.test", due_at=NOW - timedelta(hours=2)))
        late = uow.tasks.add(_task(1, "late", team="north", due_at=NOW - timedelta(minutes=1)))
        uow.tasks.add(_task(1, "future", team="north", due_at=NOW + timedelta(hours=1)))
        uow.tasks.add(_task(1, "no due", team="north"))
        uow.tasks.add(_task(1, "done", team="north", status="done", due_at=NOW - timedelta(hours=3)))
        uow.tasks.add(_task(1, "south", team="south", due_at=NOW - timedelta(hours=3)))
        uow.commit()
    with backend.uow() as uow:
        assert [t["id"] for t in uow.tasks.escalation_candidates("north", NOW)] == [early, late]
        assert [t["id"] for t in uow.tasks.escalation_candidates("north", NOW - timedelta(hours=1))] == [early]
        assert [t["id"] for t in uow.tasks.escalation_candidates("north", NOW, limit=1)] == [early]
        assert uow.tasks.mark_escalated(early, NOW, "lead@shop.test", owner="lead@shop.test") is True
        assert uow.tasks.mark_escalated(early, NOW, "other@shop.test") is False  # once
        assert uow.tasks.mark_escalated(late, NOW, None) is True  # no target, the owner stays
        uow.commit()
    with backend.uow() as uow:
        task = uow.tasks.get(early)
        assert task is not None
        assert (task["escalated_at"], task["escalated_to"], task["owner"]) == (NOW, "lead@shop.test", "lead@shop.test")
        kept = uow.tasks.get(late)
        assert kept is not None and (kept["escalated_at"], kept["owner"]) == (NOW, None)
        assert [t["id"] for t in uow.tasks.escalation_candidates("north", NOW)] == []
        uow.tasks.update(late, {"status": "done"})
        fresh = uow.tasks.add(_task(1, "fresh", team="north", due_at=NOW - timedelta(minutes=5)))
        uow.tasks.update(fresh, {"status": "cancelled"})
        assert uow.tasks.mark_escalated(fresh, NOW, "lead@shop.test") is False  # not open
        uow.commit()
