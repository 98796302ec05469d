"""Contract of the content ports: templates and the contact reads of a preview."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.contract.conftest import NOW, Backend


def _values(channel: str = "email", subject: str | None = "Hi", **more: Any) -> dict[str, Any]:
    return {
        "channel": channel,
        "name": "Welcome",
        "subject": subject,
        "body": "<p>Hello</p>",
        "format": "html",
        "text_body": None,
        "settings": {"from": "shop@shop.test"},
        "updated_at": NOW,
        **more,
    }


def test_templates_are_created_then_replaced_keeping_their_creation_time(backend: Backend) -> None:
    later = NOW + timedelta(hours=2)
    with backend.uow() as uow:
        uow.templates.upsert("welcome", "", _values())
        uow.commit()
    with backend.uow() as uow:
        first = uow.templates.get("welcome", "")
        assert first is not None
        uow.templates.upsert("welcome", "", _values(subject="Hello again", updated_at=later))
        uow.commit()
    with backend.uow() as uow:
        row = uow.templates.get("welcome", "")
        assert row is not None
        assert row["id"] == first["id"]
        assert (row["subject"], row["created_at"], row["updated_at"]) == ("Hello again", NOW, later)
        assert row["settings"] == {"from": "shop@shop.test"}
        assert set(row) >= {"key", "locale", "channel", "name", "body", "format", "text_body"}
        assert uow.templates.get("welcome", "fr") is None


def test_templates_variants_lists_keys_and_deletes(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.templates.upsert("welcome", "", _values())
        uow.templates.upsert("welcome", "fr", _values(subject="Salut"))
        uow.templates.upsert("welcome", "fr-CA", _values(subject="Allo"))
        uow.templates.upsert("code", "", _values(channel="sms", subject=None))
        uow.commit()
    with backend.uow() as uow:
        found = uow.templates.variants("welcome", ["fr-CA", "fr", ""])
        assert sorted(r["locale"] for r in found) == ["", "fr", "fr-CA"]
        assert uow.templates.variants("welcome", ["de"]) == []
        assert [(r["key"], r["locale"]) for r in uow.templates.all()] == [
            ("code", ""), ("welcome", ""), ("welcome", "fr"), ("welcome", "fr-CA")
        ]
        assert [r["key"] for r in uow.templates.all("sms")] == ["code"]
        assert uow.templates.keys() == {"code", "welcome"}
        assert uow.templates.delete("welcome", "fr") == 1
        assert uow.templates.delete("welcome", "de") == 0
        assert uow.templates.delete("welcome") == 2
        uow.commit()
    with backend.uow() as uow:
        assert uow.templates.keys() == {"code"}


def test_template_rows_are_copies(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.templates.upsert("welcome", "", _values())
        row = uow.templates.get("welcome", "")
        assert row is not None
        row["settings"]["from"] = "changed@shop.test"
        again = uow.templates.get("welcome", "")
        assert again is not None and again["settings"] == {"from": "shop@shop.test"}


def test_contact_reader(backend: Backend) -> None:
    cid = backend.add_contact("ann@shop.test", ["vip", "north"], first_name="Ann", locale="fr")
    with backend.uow() as uow:
        contact = uow.contacts.get(cid)
        assert contact is not None
        assert (contact["id"], contact["email"], contact["first_name"], contact["locale"]) == (
            cid, "ann@shop.test", "Ann", "fr"
        )
        assert contact["attributes"] == {} and contact["owner"] is None
        assert sorted(uow.contacts.tags(cid)) == ["north", "vip"]
        assert uow.contacts.get(cid + 100) is None
        assert uow.contacts.tags(cid + 100) == []


def test_contact_reader_answers_the_recipe_checks(backend: Backend) -> None:
    with backend.uow() as uow:
        assert not uow.contacts.any_contact()
        assert not uow.contacts.any_with_attribute("plan")
    backend.add_contact("a@x.test", attributes={"plan": "pro", "a_b": None})
    with backend.uow() as uow:
        assert uow.contacts.any_contact()
        assert uow.contacts.any_with_attribute("plan")
        assert uow.contacts.any_with_attribute("a_b")  # a null value still names the attribute
        assert not uow.contacts.any_with_attribute("aab")  # "_" is a letter, not a wildcard
        assert not uow.contacts.any_with_attribute("pla")


def test_contact_reader_pages_events_newest_first(backend: Backend) -> None:
    cid = backend.add_contact("a@x.test")
    other = backend.add_contact("b@x.test")
    at = [NOW, NOW + timedelta(minutes=1), NOW + timedelta(minutes=1), NOW + timedelta(minutes=2)]
    ids = [backend.add_event(cid, f"e{i % 2}", at[i], {"n": i}) for i in range(4)]
    backend.add_event(other, "e0", NOW, {})
    with backend.uow() as uow:
        page = uow.contacts.events_page(cid, name=None, before=None, limit=10)
        assert [e["id"] for e in page] == [ids[3], ids[2], ids[1], ids[0]]
        assert page[0]["properties"] == {"n": 3} and page[0]["occurred_at"] == at[3]
        fields = {"id", "name", "properties", "occurred_at", "received_at", "message_id", "source", "value"}
        assert set(page[0]) == fields
        assert [e["id"] for e in uow.contacts.events_page(cid, name=None, before=None, limit=2)] == [ids[3], ids[2]]
        after = uow.contacts.events_page(cid, name=None, before=(at[2], ids[2]), limit=10)
        assert [e["id"] for e in after] == [ids[1], ids[0]]
        assert [e["id"] for e in uow.contacts.events_page(cid, name="e0", before=None, limit=10)] == [ids[2], ids[0]]
