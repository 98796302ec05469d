"""Sales task use cases (routing, round robin, notification, completion) on the in-memory adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tidings.application.sales import tasks
from tidings.store.memory import MemoryStore, MemoryUnitOfWork

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ROUTING = {
    "teams": {"north": ["ann@shop.test", "bob@shop.test"]},
    "rules": [
        {"attribute": "region", "equals": "north", "team": "north"},
        {"attribute": "country", "equals": "DE", "owner": "dieter@shop.test"},
    ],
    "notify": {"north": {"webhook": "https://crm.test/hooks/tasks"}},
}


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def _contact(store: MemoryStore, email: str, **attributes: object) -> int:
    owner = attributes.pop("owner", None)
    return store.add_contact({"email": email, "owner": owner, "attributes": dict(attributes)})


def test_routing_is_validated_and_kept(store: MemoryStore) -> None:
    with MemoryUnitOfWork(store) as uow:
        with pytest.raises(tasks.TaskError) as exc:
            tasks.set_routing(uow, {"rules": [{"attribute": "region", "equals": "x"}]}, NOW)
        assert exc.value.field == "rules.0.owner"
        tasks.set_routing(uow, ROUTING, NOW)
        uow.commit()
    with MemoryUnitOfWork(store) as uow:
        stored = tasks.get_routing(uow)
    assert stored == ROUTING | {"notify": {"north": {"webhook": "https://crm.test/hooks/tasks", "email": True}},
                                "assignment": {}, "sla": {}}


def test_rules_then_round_robin_within_the_team(store: MemoryStore) -> None:
    north = [_contact(store, f"c{i}@x.test", region="north") for i in range(3)]
    german = _contact(store, "de@x.test", country="DE")
    with MemoryUnitOfWork(store) as uow:
        tasks.set_routing(uow, ROUTING, NOW)
        picked = [tasks.create_task(uow, contact_id=c, title="Call", now=NOW) for c in north]
        fixed = tasks.create_task(uow, contact_id=german, title="Call", now=NOW)
        uow.commit()
    assert [(t["owner"], t["team"], t["assigned_by"]) for t in picked] == [
        ("ann@shop.test", "north", "round_robin"),
        ("bob@shop.test", "north", "round_robin"),
        ("ann@shop.test", "north", "round_robin"),
    ]
    assert (fixed["owner"], fixed["assigned_by"]) == ("dieter@shop.test", "rule:country")


def test_team_users_replace_the_configured_reps_and_the_contact_owner_wins(store: MemoryStore) -> None:
    mine = _contact(store, "mine@x.test", region="north", owner="cat@shop.test")
    with MemoryUnitOfWork(store) as uow:
        tasks.set_routing(uow, ROUTING, NOW)
        uow.users.add(email="cat@shop.test", name="Cat", password_hash="x", role="marketer", team="north", now=NOW)
        assert tasks.team_reps(uow, "north") == ["cat@shop.test"]
        task = tasks.create_task(uow, contact_id=mine, title="Call", now=NOW)
    assert (task["owner"], task["assigned_by"]) == ("cat@shop.test", "contact_owner")


def test_a_task_is_created_once_per_outbox_row_and_its_owner_notified(store: MemoryStore) -> None:
    cid = _contact(store, "lena@x.test", region="north")
    with MemoryUnitOfWork(store) as uow:
        tasks.set_routing(uow, ROUTING, NOW)
        first = tasks.create_task(uow, contact_id=cid, title="  Send   quote ", now=NOW, outbox_id=42)
        again = tasks.create_task(uow, contact_id=cid, title="Send quote", now=NOW, outbox_id=42)
        assert (first["title"], again["id"], again["assigned_by"]) == ("Send quote", first["id"], "existing")
        email = uow.outbox.by_idempotency_key(f"task-notify:{first['id']}:ann@shop.test:{NOW.isoformat()}")
        hook = uow.outbox.by_idempotency_key(f"task-webhook:{first['id']}:ann@shop.test:{NOW.isoformat()}")
        assert email is not None and email["payload"]["to"] == "ann@shop.test"
        assert hook is not None and hook["payload"]["url"] == "https://crm.test/hooks/tasks"
        assert uow.templates.get(tasks.NOTIFY_TEMPLATE, "") is not None  # created on first use
        with pytest.raises(tasks.TaskError) as exc:
            tasks.create_task(uow, contact_id=cid + 100, title="x", now=NOW)
        assert (exc.value.field, exc.value.status) == ("contact_id", 404)


def test_completing_a_task_appends_an_event_and_queues_the_contact(store: MemoryStore) -> None:
    cid = _contact(store, "lena@x.test")
    later = NOW + timedelta(hours=3)
    with MemoryUnitOfWork(store) as uow:
        task = tasks.create_task(uow, contact_id=cid, title="Call", now=NOW, owner="ann@shop.test", notify=False)
        done = tasks.update_task(uow, int(task["id"]), {"status": "done"}, later)
        uow.commit()
    assert (done["status"], done["completed_at"]) == ("done", later)
    events = store.state.events
    assert [(e["contact_id"], e["name"], e["properties"]["task_id"]) for e in events] == [
        (cid, "task.completed", task["id"])
    ]
    assert store.state.queued_contacts == {cid}
    with MemoryUnitOfWork(store) as uow:
        assert [t["id"] for t in tasks.list_tasks(uow, status="done")] == [task["id"]]
        with pytest.raises(tasks.TaskError):
            tasks.update_task(uow, int(task["id"]), {"status": "lost"}, later)
