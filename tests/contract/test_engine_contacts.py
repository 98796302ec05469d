"""Contract of ``EngineContacts`` (``ports/engine.py``): what journey effects change on contacts —
fields, tags, a team's reps and their loads — memory and SQL alike."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.contract.conftest import NOW, Backend


def test_fields_then_update_of_a_contact(backend: Backend) -> None:
    cid = backend.add_contact("ann@example.org", lifecycle_stage="lead", score=5.0, attributes={"plan": "free"})
    other = backend.add_contact("bob@example.org", score=1.0)
    later = NOW + timedelta(hours=1)
    with backend.uow() as uow:
        contacts = backend.engine_contacts(uow)
        assert contacts.fields(cid) == {
            "attributes": {"plan": "free"},
            "lifecycle_stage": "lead",
            "score": 5.0,
            "owner": None,
        }
        assert contacts.fields(cid + other + 100) is None
        contacts.update(cid, {"lifecycle_stage": "customer", "score": 7.5, "owner": "rep@example.org"}, later)
        contacts.update(cid + other + 100, {"score": 1.0}, later)  # no such contact: nothing to change
        uow.commit()
    with backend.uow() as uow:
        contacts = backend.engine_contacts(uow)
        assert contacts.fields(cid) == {
            "attributes": {"plan": "free"}, "lifecycle_stage": "customer", "score": 7.5, "owner": "rep@example.org"
        }  # fmt: skip
        assert contacts.fields(other) == {"attributes": {}, "lifecycle_stage": None, "score": 1.0, "owner": None}
        rows = {r["id"]: r for r in uow.contacts.many([cid, other])}
        assert rows[cid]["updated_at"] == later and rows[other]["updated_at"] == NOW
        assert set(rows) == {cid, other}


def test_an_uncommitted_update_is_not_kept(backend: Backend) -> None:
    cid = backend.add_contact("ann@example.org", score=2.0)
    with backend.uow() as uow:
        backend.engine_contacts(uow).update(cid, {"score": 9.0}, NOW)
    with backend.uow() as uow:
        assert backend.engine_contacts(uow).fields(cid) == {
            "attributes": {},
            "lifecycle_stage": None,
            "score": 2.0,
            "owner": None,
        }


def test_tags_added_and_removed(backend: Backend) -> None:
    cid = backend.add_contact("ann@example.org", tags=["vip"])
    other = backend.add_contact("bob@example.org", tags=["vip", "trial"])
    with backend.uow() as uow:
        contacts = backend.engine_contacts(uow)
        assert contacts.tags(cid) == {"vip"}
        contacts.add_tag(cid, "buyer", NOW)
        assert contacts.tags(cid) == {"vip", "buyer"}
        contacts.remove_tag(cid, "vip")
        contacts.remove_tag(cid, "never-had")  # absent: nothing to remove
        uow.commit()
    with backend.uow() as uow:
        contacts = backend.engine_contacts(uow)
        assert contacts.tags(cid) == {"buyer"}
        assert contacts.tags(other) == {"vip", "trial"}  # another contact's tags are its own
        assert contacts.tags(cid + other + 100) == set()


def test_a_tag_the_contact_has_cannot_be_added_twice(backend: Backend) -> None:
    cid = backend.add_contact("ann@example.org", tags=["vip"])
    with backend.uow() as uow, pytest.raises(Exception):  # noqa: B017 (IntegrityError on SQL, KeyError in memory)
        backend.engine_contacts(uow).add_tag(cid, "vip", NOW)
    with backend.uow() as uow:
        assert backend.engine_contacts(uow).tags(cid) == {"vip"}


def test_team_members_are_the_active_users_earliest_first(backend: Backend) -> None:
    with backend.uow() as uow:
        add = uow.users.add
        add(email="zoe@example.org", name="Zoe", password_hash="x", role="marketer", team="sales", now=NOW)
        add(email="sam@example.org", name="Sam", password_hash="x", role="marketer", team="support", now=NOW)
        gone = add(email="bea@example.org", name="Bea", password_hash="x", role="marketer", team="sales", now=NOW)
        add(email="amy@example.org", name="Amy", password_hash="x", role="admin", team="sales", now=NOW)
        add(email="ned@example.org", name="Ned", password_hash="x", role="admin", team=None, now=NOW)
        uow.users.set_disabled_at(gone, NOW)
        uow.commit()
    with backend.uow() as uow:
        contacts = backend.engine_contacts(uow)
        assert contacts.team_members("sales") == ["zoe@example.org", "amy@example.org"]  # by id, not by email
        assert contacts.team_members("support") == ["sam@example.org"]
        assert contacts.team_members("nobody") == []


def test_owner_loads_count_open_tasks_plus_owned_contacts(backend: Backend) -> None:
    c1 = backend.add_contact("a@example.org", owner="rep1@example.org")
    backend.add_contact("b@example.org", owner="rep3@example.org")
    backend.add_contact("c@example.org", owner="rep3@example.org")
    backend.add_contact("d@example.org", owner="rep9@example.org")  # not asked about
    backend.add_contact("e@example.org")
    with backend.uow() as uow:
        for owner, status in [
            ("rep1@example.org", "open"), ("rep1@example.org", "open"), ("rep1@example.org", "done"),
            ("rep2@example.org", "open"), ("rep2@example.org", "cancelled"), ("rep9@example.org", "open"),
        ]:  # fmt: skip
            uow.tasks.add({"contact_id": c1, "title": "Call", "owner": owner, "status": status, "created_at": NOW})
        uow.commit()
    with backend.uow() as uow:
        loads = backend.engine_contacts(uow).owner_loads(
            ["rep1@example.org", "rep2@example.org", "rep3@example.org", "rep4@example.org"]
        )
        # rep1: two open tasks + one contact; rep2: one open task; rep3: two contacts; rep4: nothing (left out)
        assert loads == {"rep1@example.org": 3, "rep2@example.org": 1, "rep3@example.org": 2}
        assert backend.engine_contacts(uow).owner_loads([]) == {}
