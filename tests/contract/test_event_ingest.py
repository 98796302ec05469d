"""Contract of the ingest hot path's port (``EventIngest``: events idempotent on message id, the
contact queue, identities in bulk) and of the ingest use case on it
(``application/ingest/ingest.py``), on memory, SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.conftest import NOW, Backend
from tidings.application.contacts.identity import find_by
from tidings.application.ingest.ingest import Incoming, IngestError, ingest


def _event(message_id: str, contact_id: int, name: str = "viewed") -> dict[str, Any]:
    return {
        "contact_id": contact_id,
        "name": name,
        "properties": {"sku": message_id},
        "occurred_at": NOW,
        "received_at": NOW,
        "message_id": message_id,
        "source": "api",
        "value": None,
    }


def test_events_are_stored_once_per_message_id_and_contacts_queued(backend: Backend) -> None:
    ann = backend.add_contact("ann@shop.test")
    bob = backend.add_contact("bob@shop.test")
    with backend.uow() as uow:
        assert uow.event_ingest.insert_events([_event("m1", ann), _event("m2", bob)]) == {"m1", "m2"}
        assert uow.event_ingest.insert_events([_event("m2", ann, "again"), _event("m3", ann)]) == {"m3"}
        assert uow.event_ingest.insert_events([]) == set()
        uow.event_ingest.enqueue([ann, ann], NOW)
        uow.event_ingest.enqueue([], NOW)
        uow.commit()
    assert sorted(backend.events()) == sorted([(ann, "viewed"), (bob, "viewed"), (ann, "viewed")])
    assert (bob, "again") not in backend.events() and (ann, "again") not in backend.events()
    assert ann in backend.queued() and bob not in backend.queued()


def test_identified_contacts_in_bulk(backend: Backend) -> None:
    ann = backend.add_contact("ann@shop.test", external_id="u-ann")
    with backend.uow() as uow:
        bulk = uow.event_ingest
        assert bulk.ids_by("email", ["ann@shop.test", "nobody@shop.test"]) == {"ann@shop.test": ann}
        assert bulk.ids_by("external_id", ["u-ann"]) == {"u-ann": ann} and bulk.ids_by("phone", []) == {}
        with pytest.raises(ValueError):
            bulk.ids_by("first_name", ["Ann"])
        created = bulk.add_identified("email", ["zed@shop.test", "ann@shop.test", "cy@shop.test"], NOW)
        assert set(created) == {"zed@shop.test", "cy@shop.test"}  # ann's address is taken: skipped
        assert ann not in created.values() and len(set(created.values())) == 2
        assert bulk.ids_by("email", list(created)) == created
        users = bulk.add_identified("external_id", ["u-new"], NOW)
        assert bulk.ids_by("external_id", ["u-new", "u-ann"]) == users | {"u-ann": ann}
        assert bulk.add_identified("phone", [], NOW) == {}
        uow.commit()
    with backend.uow() as uow:
        assert find_by(uow, "email", "zed@shop.test") == created["zed@shop.test"]


def test_anonymous_contacts_and_aliases_in_bulk(backend: Backend) -> None:
    ann = backend.add_contact("ann@shop.test")
    with backend.uow() as uow:
        bulk = uow.event_ingest
        bulk.add_aliases("anonymous_id", {"dev-ann": ann}, NOW)
        owners = bulk.add_anonymous(["dev-2", "dev-1", "dev-ann"], NOW)
        assert owners["dev-ann"] == ann  # already owned: its owner stays, no second contact kept
        assert len({owners["dev-1"], owners["dev-2"], ann}) == 3
        assert bulk.alias_owners("anonymous_id", ["dev-1", "dev-2", "dev-ann", "dev-x"]) == owners
        assert bulk.alias_owners("user_id", ["dev-1"]) == {}
        bulk.add_aliases("anonymous_id", {"dev-1": ann, "dev-3": ann}, NOW)  # dev-1 keeps its owner
        assert bulk.alias_owners("anonymous_id", ["dev-1", "dev-3"]) == {"dev-1": owners["dev-1"], "dev-3": ann}
        assert bulk.add_anonymous([], NOW) == {}
        uow.commit()
    with backend.uow() as uow:
        anon = uow.contacts.get(owners["dev-1"])
        assert anon is not None and anon["anonymous"]
        assert find_by(uow, "anonymous_id", "dev-2") == owners["dev-2"]


def _track(mid: str, **who: Any) -> Incoming:
    return Incoming(kind="track", message_id=mid, occurred_at=NOW, name="Order Completed", properties={"n": 1}, **who)


def test_the_ingest_use_case_on_the_port(backend: Backend) -> None:
    ann = backend.add_contact("ann@shop.test", external_id="u-ann")
    items = [
        _track("t1", user_id="u-ann", anonymous_id="dev-ann"),
        _track("t2", user_id="u-new"),
        _track("t3", anonymous_id="dev-x"),
        _track("t4", email="cy@shop.test"),
        _track("t5", contact_id=ann),
        _track("t2", user_id="u-new"),  # a repeat within the request
        Incoming(kind="identify", message_id="i1", occurred_at=NOW, user_id="u-ann", changes={"first_name": "Ann"}),
    ]
    with backend.uow() as uow:
        result = ingest(uow, items, NOW, "api")
        uow.commit()
    assert (result.events, result.identified, result.accepted, result.duplicates) == (5, 1, 6, ["t2"])
    with backend.uow() as uow:
        new = find_by(uow, "external_id", "u-new")
        cy = find_by(uow, "email", "cy@shop.test")
        anon = find_by(uow, "anonymous_id", "dev-x")
        assert find_by(uow, "anonymous_id", "dev-ann") == ann  # the track call linked the device
        got = uow.contacts.get(ann)
        assert got is not None and got["first_name"] == "Ann"
    assert new is not None and cy is not None and anon is not None and len({ann, new, cy, anon}) == 4
    assert result.contact_ids == {ann, new, cy, anon}
    tracked = [cid for cid, name in backend.events() if name == "order.completed"]
    assert sorted(tracked) == sorted([ann, new, anon, cy, ann])
    # the contacts created are recorded as such
    assert {cid for cid, name in backend.events() if name == "contact.updated"} >= {new, cy}
    assert {ann, new, cy, anon} <= backend.queued()
    with backend.uow() as uow:  # the same request again: every event is a duplicate
        again = ingest(uow, items[:5], NOW, "api")
        uow.commit()
    assert (again.events, sorted(again.duplicates)) == (0, ["t1", "t2", "t3", "t4", "t5"])


def test_an_unknown_contact_id_is_an_ingest_error(backend: Backend) -> None:
    with backend.uow() as uow, pytest.raises(IngestError) as err:
        ingest(uow, [_track("t1", contact_id=424242)], NOW, "api")
    assert err.value.field == "contact_id"
