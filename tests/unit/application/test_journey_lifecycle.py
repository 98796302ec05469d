"""Journey lifecycle use cases (draft, publish, pause, resume, describe, migrate) on the in-memory adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.journey_support import WELCOME
from tidings.application.journeys import journeys as js
from tidings.domain.journeys.timing import PARKED_AT
from tidings.store.memory import MemoryStore, MemoryUnitOfWork

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
V1 = WELCOME
V2 = V1.replace("duration: 2d", "duration: 3d").replace("name: Welcome", "name: Welcome (longer)")


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def test_publish_makes_immutable_versions_and_a_same_document_is_a_no_op(store: MemoryStore) -> None:
    with MemoryUnitOfWork(store) as uow:
        first = js.publish(uow, NOW, text=V1, by="ann@shop.test")
        again = js.publish(uow, NOW + timedelta(minutes=1), text=V1)
        second = js.publish(uow, NOW + timedelta(hours=1), text=V2)
        uow.commit()
    assert (first.version, first.created, again.version, again.created, second.version) == (1, True, 1, False, 2)
    with MemoryUnitOfWork(store) as uow:
        desc = js.describe(uow, "welcome")
    assert (desc["status"], desc["current_version"], desc["name"], desc["draft"]) == (
        "active",
        2,
        "Welcome (longer)",
        False,
    )
    assert [(v["version"], v["published_by"]) for v in desc["versions"]] == [(1, "ann@shop.test"), (2, None)]


def test_a_draft_is_kept_then_published_by_key(store: MemoryStore) -> None:
    with MemoryUnitOfWork(store) as uow:
        assert js.save_draft(uow, V1, NOW)["draft"] is True
        assert js.describe(uow, "welcome")["draft"] is True
        with pytest.raises(js.Conflict):
            js.publish(uow, NOW, text=V1, key="other")
        published = js.publish(uow, NOW, key="welcome")
        assert published.version == 1
        with pytest.raises(js.Conflict, match="no draft"):
            js.publish(uow, NOW, key="welcome")
        with pytest.raises(js.NotFound):
            js.publish(uow, NOW, key="missing")
        assert [j["key"] for j in js.list_all(uow)] == ["welcome"]


def test_a_document_naming_an_unknown_template_is_refused_once_templates_exist(store: MemoryStore) -> None:
    with MemoryUnitOfWork(store) as uow:
        uow.templates.upsert("other", "", {"channel": "email", "body": "x", "settings": {}, "updated_at": NOW})
        with pytest.raises(js.JourneyError, match="welcome-1"):
            js.validate(uow, V1)


def test_pause_holds_and_resume_releases(store: MemoryStore) -> None:
    with MemoryUnitOfWork(store) as uow:
        jid = js.publish(uow, NOW, text=V1).journey_id
        uow.commit()
    live = store.add_enrollment({"contact_id": 1, "journey_id": jid, "version": 1, "status": "waiting", "state": {}})
    timer = store.add_timer(
        {"contact_id": 1, "enrollment_id": live, "kind": "wait", "due_at": NOW + timedelta(1), "payload": {}}
    )
    with MemoryUnitOfWork(store) as uow:
        paused = js.pause(uow, "welcome", NOW)
        assert (paused["status"], paused["held_timers"], paused["held_messages"]) == ("paused", 1, 0)
        assert store.state.timers[timer]["due_at"] == PARKED_AT
        assert js.publish(uow, NOW, text=V2).version == 2  # a paused journey stays paused
        assert js.describe(uow, "welcome")["status"] == "paused"
        resumed = js.resume(uow, "welcome", NOW + timedelta(hours=1))
        assert resumed == {
            "key": "welcome",
            "status": "active",
            "released_timers": 1,
            "released_messages": 0,
            "skipped_messages": 0,
        }
        assert store.state.timers[timer]["due_at"] == NOW + timedelta(1)


def test_migrate_moves_waiting_enrolments_whose_step_exists(store: MemoryStore) -> None:
    with MemoryUnitOfWork(store) as uow:
        jid = js.publish(uow, NOW, text=V1).journey_id
        uow.commit()
    state = {"journey": "welcome", "step_id": "pause", "status": "waiting", "waiting": None}
    there = store.add_enrollment(
        {"contact_id": 1, "journey_id": jid, "version": 1, "status": "waiting", "step_id": "pause", "state": state}
    )
    gone = store.add_enrollment(
        {
            "contact_id": 2,
            "journey_id": jid,
            "version": 1,
            "status": "waiting",
            "step_id": "old",
            "state": state | {"step_id": "old"},
        }
    )
    with MemoryUnitOfWork(store) as uow:
        js.publish(uow, NOW, text=V2)
        dry = js.migrate(uow, "welcome", NOW)
        assert (dry["would_move"], dry["moved"], [m["enrollment_id"] for m in dry["moves"]]) == (1, 0, [there])
        assert [u["enrollment_id"] for u in dry["unmapped"]] == [gone]
        assert store.state.enrollments[there]["version"] == 1
        done = js.migrate(uow, "welcome", NOW, dry_run=False)
        assert done["moved"] == 1
        uow.commit()
    assert (store.state.enrollments[there]["version"], store.state.enrollments[gone]["version"]) == (2, 1)
    assert [(t["enrollment_id"], t["action"]) for t in store.state.traces] == [(there, "migrated")]
