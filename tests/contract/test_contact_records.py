"""Contract of the contact aggregate's port (``ContactRecords``) and of the use cases on it —
creating, updating, resolving, merging, listing and erasing contacts
(``application/contacts/contacts.py``, ``identity.py``) — on memory, SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta

from tests.contract.conftest import NOW, Backend
from tidings.application.contacts import contacts as svc
from tidings.application.contacts.identity import delete_contacts, find_by, merge_contacts, resolve_contact
from tidings.domain.contacts import ContactFilter

LATER = NOW + timedelta(hours=1)


def _new(backend: Backend, data: dict[str, object]) -> int:
    with backend.uow() as uow:
        cid = svc.create_contact(uow, svc.normalise_input(data, NOW), NOW)
        uow.commit()
    return cid


def test_rows_identifiers_and_aliases(backend: Backend) -> None:
    with backend.uow() as uow:
        row = {"email": "ann@shop.test", "attributes": {}, "anonymous": False, "created_at": NOW, "updated_at": NOW}
        ann = uow.contacts.insert(row)
        assert ann is not None
        assert uow.contacts.insert(row | {"first_name": "Other"}) is None  # the email is taken
        assert uow.contacts.id_by("email", "ann@shop.test") == ann and uow.contacts.id_by("id", ann) == ann
        assert uow.contacts.id_by("id", ann + 100) is None
        uow.contacts.update(ann, {"first_name": "Ann", "external_id": "u-1"})
        got = uow.contacts.get(ann)
        assert got is not None and (got["first_name"], got["external_id"]) == ("Ann", "u-1")
        uow.contacts.add_alias("anonymous_id", "dev-1", ann, NOW)
        uow.contacts.add_alias("anonymous_id", "dev-1", ann + 1, NOW)  # the first owner stays
        assert uow.contacts.alias_owner("anonymous_id", "dev-1") == ann
        assert uow.contacts.alias_owner("user_id", "dev-1") is None
        uow.commit()


def test_tags_reads_and_pages(backend: Backend) -> None:
    ann = backend.add_contact("ann@shop.test", first_name="Ann", lifecycle_stage="lead")
    bob = backend.add_contact("bob@mail.test", last_name="Annable", anonymous=True)
    cy = backend.add_contact("cy@shop.test", external_id="crm-7")
    with backend.uow() as uow:
        uow.contacts.add_tags(ann, ["vip", "north"], NOW)
        uow.contacts.add_tags(cy, ["north"], NOW)
        uow.contacts.remove_tags(ann, ["north"])
        uow.consents.add(ann, "email", {"status": "granted", "source": "form", "recorded_at": NOW, "proof": {}})
        rows = uow.contacts.many([cy, ann + 1000, ann])
        assert [r["id"] for r in rows] == [cy, ann]  # the order asked, unknown ids left out
        assert rows[0]["tags"] == ["north"] and rows[1]["tags"] == ["vip"]
        assert rows[1]["consent"]["email"]["status"] == "granted" and rows[0]["consent"] == {}
        assert rows[1]["consent"]["email"]["topics"] == {}
        page = uow.contacts.page_ids
        assert page(ContactFilter(), after=0, limit=10) == [ann, bob, cy]
        assert page(ContactFilter(), after=ann, limit=1) == [bob]
        assert page(ContactFilter(tag="north"), after=0, limit=10) == [cy]
        assert page(ContactFilter(stage="lead"), after=0, limit=10) == [ann]
        assert page(ContactFilter(q="ANN"), after=0, limit=10) == [ann, bob]  # email, names, any case
        assert page(ContactFilter(q=" crm-7 "), after=0, limit=10) == [cy]  # the external id, exactly
        assert page(ContactFilter(q="crm"), after=0, limit=10) == []
        assert page(ContactFilter(include_anonymous=False), after=0, limit=10) == [ann, cy]
        assert page(ContactFilter(created_after=LATER), after=0, limit=10) == []
        matching = uow.contacts.matching  # the search's narrowing of a chunk of hits
        assert matching([cy, bob, ann, ann + 1000], ContactFilter(tag="north")) == {cy}
        assert matching([bob, cy], ContactFilter(include_anonymous=False)) == {cy}
        assert matching([ann, bob, cy], ContactFilter()) == {ann, bob, cy}
        assert matching([], ContactFilter(stage="lead")) == set()


def test_create_update_upsert_list_and_look_up(backend: Backend) -> None:
    ann = _new(
        backend, {"email": "Ann@Shop.test", "first_name": "Ann", "tags": ["vip"], "attributes": {"city": "Oslo"}}
    )
    with backend.uow() as uow:
        try:
            svc.create_contact(uow, svc.normalise_input({"email": "ann@shop.test"}, NOW), NOW)
            raise AssertionError("a second contact with the same email")
        except svc.ContactExists as exc:
            assert exc.contact_id == ann and exc.field == "email"
        changed = svc.update_contact(
            uow,
            ann,
            svc.normalise_input(
                {"last_name": "Lee", "attributes": {"city": None}, "tags_remove": ["vip"], "tags_add": ["north"]}, NOW
            ),
            LATER,
        )
        assert changed is not None and set(changed) == {"last_name", "attributes.city"}
        assert svc.update_contact(uow, ann + 1000, {"last_name": "X"}, LATER) is None
        cid, created = svc.upsert_contact(
            uow, svc.normalise_input({"email": "ann@shop.test", "phone": "+14155550132"}, NOW), LATER
        )
        assert (cid, created) == (ann, False)
        bob, created = svc.upsert_contact(uow, svc.normalise_input({"email": "bob@mail.test"}, NOW), LATER)
        assert created and bob != ann
        uow.commit()
    with backend.uow() as uow:
        got = svc.get_contact(uow, ann)
        assert got is not None
        assert (got["email"], got["last_name"], got["phone"], got["attributes"]) == (
            "ann@shop.test",
            "Lee",
            "+14155550132",
            {},
        )
        assert got["tags"] == ["north"] and got["anonymous"] is False
        assert svc.lookup(uow, str(ann)) == ann and svc.lookup(uow, "ANN@shop.test ") == ann
        assert svc.lookup(uow, "+14155550132") == ann and svc.lookup(uow, "nobody@x.test") is None
        first, cursor = svc.list_contacts(uow, ContactFilter(), limit=1)
        assert [c["id"] for c in first] == [ann] and cursor is not None
        rest, cursor = svc.list_contacts(uow, ContactFilter(), cursor=cursor, limit=1)
        assert [c["id"] for c in rest] == [bob] and cursor is None
        assert [c["id"] for c in svc.iter_contacts(uow, chunk=1)] == [ann, bob]
    names = [n for c, n in backend.events() if c == ann]
    assert names.count("contact.updated") == 3 and "tag.added" in names and "tag.removed" in names
    assert {ann, bob} <= backend.queued()


def test_resolving_merges_an_anonymous_profile_into_the_known_contact(backend: Backend) -> None:
    with backend.uow() as uow:
        anon = resolve_contact(uow, anonymous_id="dev-1", now=NOW)
        known = resolve_contact(uow, external_id="u-1", email="ann@shop.test", now=NOW)
        assert anon is not None and known is not None and anon != known
        uow.contacts.add_tags(anon, ["vip", "north"], NOW)
        uow.contacts.add_tags(known, ["north"], NOW)
        uow.consents.add(anon, "email", {"status": "unsubscribed", "source": "link", "recorded_at": LATER, "proof": {}})
        uow.consents.add(known, "email", {"status": "granted", "source": "form", "recorded_at": NOW, "proof": {}})
        uow.consents.add(anon, "sms", {"status": "granted", "source": "form", "recorded_at": NOW, "proof": {}})
        uow.commit()
    backend.add_event(anon, "page.viewed", NOW, {"url": "/pricing"})
    with backend.uow() as uow:
        # one call names both: the anonymous history joins the known contact
        assert resolve_contact(uow, external_id="u-1", anonymous_id="dev-1", now=LATER) == known
        uow.commit()
    with backend.uow() as uow:
        assert uow.contacts.get(anon) is None
        assert find_by(uow, "id", anon) == known  # the merged id still finds its contact
        assert find_by(uow, "anonymous_id", "dev-1") == known
        merged = svc.get_contact(uow, known)
        assert merged is not None and sorted(merged["tags"]) == ["north", "vip"]
        assert merged["consent"]["email"]["status"] == "unsubscribed"  # the newer decision wins
        assert merged["consent"]["sms"]["status"] == "granted"
        assert merged["email"] == "ann@shop.test" and merged["anonymous"] is False
    mine = [n for c, n in backend.events() if c == known]
    assert "page.viewed" in mine and "contact.merged" in mine
    assert not [n for c, n in backend.events() if c == anon]


def test_two_known_people_are_not_merged_by_resolving_but_are_by_an_explicit_merge(backend: Backend) -> None:
    with backend.uow() as uow:
        a = resolve_contact(uow, external_id="u-1", now=NOW)
        b = resolve_contact(uow, external_id="u-2", email="b@shop.test", now=NOW)
        assert a is not None and b is not None
        assert resolve_contact(uow, external_id="u-1", email="b@shop.test", now=NOW) == a  # no merge
        assert uow.contacts.get(b) is not None
        merge_contacts(uow, a, b, LATER)
        assert find_by(uow, "external_id", "u-1") == b  # the old user id keeps resolving
        assert find_by(uow, "external_id", "u-2") == b
        uow.commit()


def test_erasing_removes_the_contact_and_its_rows(backend: Backend) -> None:
    ann = _new(backend, {"email": "ann@shop.test", "tags": ["vip"], "consent": {"email": "granted"}})
    bob = _new(backend, {"email": "bob@shop.test"})
    backend.add_event(ann, "page.viewed", NOW, {})
    with backend.uow() as uow:
        assert delete_contacts(uow, [ann, ann + 1000]) == 1
        assert delete_contacts(uow, []) == 0
        assert svc.delete_contact(uow, bob) and not svc.delete_contact(uow, bob)
        uow.commit()
    with backend.uow() as uow:
        assert uow.contacts.get(ann) is None and uow.consents.get(ann, "email") is None
        assert uow.contacts.tags(ann) == [] and uow.contacts.id_by("email", "ann@shop.test") is None
    assert backend.events() == [] and backend.queued() == set()
