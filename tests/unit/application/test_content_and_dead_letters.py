"""Template and dead-letter use cases on the in-memory storage adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tidings.application.delivery import dead_letters, templates
from tidings.domain.templates import TemplateSource
from tidings.store.memory import MemoryStore, MemoryUnitOfWork

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def test_templates_are_saved_found_per_locale_and_deleted(store: MemoryStore) -> None:
    with MemoryUnitOfWork(store) as uow:
        hello = TemplateSource("welcome", subject="Hello", body="<p>Hi {{ contact.first_name }}</p>")
        templates.save_template(uow, hello, NOW)
        templates.save_template(uow, TemplateSource("welcome", locale="fr", subject="Bonjour", body="<p>x</p>"), NOW)
        uow.commit()
    with MemoryUnitOfWork(store) as uow:
        assert templates.find_template(uow, "welcome", "fr-CA").subject == "Bonjour"  # type: ignore[union-attr]
        assert templates.find_template(uow, "welcome", "de").subject == "Hello"  # type: ignore[union-attr]
        assert templates.find_template(uow, "nope", None) is None
        assert [(r["key"], r["locale"]) for r in templates.list_templates(uow)] == [("welcome", ""), ("welcome", "fr")]
        assert templates.delete_template(uow, "welcome", "fr") == 1
        assert [r["locale"] for r in templates.list_templates(uow, "email")] == [""]


def test_a_template_with_a_syntax_error_is_refused_and_nothing_is_saved(store: MemoryStore) -> None:
    with MemoryUnitOfWork(store) as uow:
        with pytest.raises(templates.TemplateInvalid) as exc:
            broken = TemplateSource("broken", subject="Hi", body="<p>{{ contact.first_name </p>")
            templates.save_template(uow, broken, NOW)
        assert exc.value.problems
        assert templates.get_row(uow, "broken") is None


def test_preview_renders_for_a_contact_in_their_locale(store: MemoryStore) -> None:
    ann = {"email": "ann@shop.test", "first_name": "Ann", "locale": "fr", "attributes": {}}
    cid = store.add_contact(ann, ["vip"])
    with MemoryUnitOfWork(store) as uow:
        templates.save_template(uow, TemplateSource("welcome", subject="Hello", body="<p>Hi</p>"), NOW)
        french = TemplateSource("welcome", locale="fr", subject="Bonjour {{ contact.first_name }}", body="<p>x</p>")
        templates.save_template(uow, french, NOW)
        out = templates.preview(uow, "welcome", contact_id=cid, locale=None, public_url="http://t")
        assert (out["locale"], out["subject"]) == ("fr", "Bonjour Ann")
        with pytest.raises(LookupError, match="contact"):
            templates.preview(uow, "welcome", contact_id=cid + 1, locale=None, public_url="http://t")
        with pytest.raises(LookupError, match="template"):
            templates.preview(uow, "nope", contact_id=None, locale=None, public_url="http://t")


def _dead_row(uow: MemoryUnitOfWork, key: str) -> dict[str, Any]:
    effect = {"kind": "webhook", "channel": "webhook", "category": "transactional", "template": None,
              "idempotency_key": key, "payload": {"url": "https://crm.test"}}
    uow.outbox.enqueue(7, [effect], NOW)
    row = uow.outbox.by_idempotency_key(key)
    assert row is not None
    return row


def test_bury_retry_and_discard(store: MemoryStore) -> None:
    later = NOW + timedelta(hours=1)
    with MemoryUnitOfWork(store) as uow:
        first, second = _dead_row(uow, "a"), _dead_row(uow, "b")
        dead_letters.bury(uow, first, "HTTP 503", NOW)
        dead_letters.bury(uow, first, "HTTP 503", NOW)  # once per outbox row
        dead_letters.bury(uow, second, "HTTP 410", NOW)
        uow.commit()
    with MemoryUnitOfWork(store) as uow:
        listed = dead_letters.list_dead_letters(uow)
        assert [(r["outbox_id"], r["reason"], r["status"]) for r in listed] == [
            (second["id"], "HTTP 410", "dead"), (first["id"], "HTTP 503", "dead")
        ]
        retried = dead_letters.retry(uow, int(listed[1]["id"]), later)
        assert retried["status"] == "pending"
        outbox = uow.outbox.get(int(first["id"]))
        assert outbox is not None and (outbox["status"], outbox["attempts"], outbox["next_attempt_at"]) == (
            "pending", 0, later
        )
        assert dead_letters.discard(uow, int(listed[0]["id"]), later)["status"] == "discarded"
        assert dead_letters.list_dead_letters(uow) == []
        assert len(dead_letters.list_dead_letters(uow, include_retried=True)) == 2
        with pytest.raises(dead_letters.DeadLetterError, match="already retried"):
            dead_letters.retry(uow, int(listed[1]["id"]), later)
        with pytest.raises(dead_letters.DeadLetterError, match="already discarded"):
            dead_letters.discard(uow, int(listed[0]["id"]), later)
        with pytest.raises(dead_letters.DeadLetterError, match="no dead letter"):
            dead_letters.retry(uow, 999, later)
