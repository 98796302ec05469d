"""Contract of ``DeliveryReads`` (``ports/delivery.py``): what a claimed batch is checked and
rendered against in ``channels/prepare.py`` — contacts, consents, tags, suppressions, templates,
paused sending domains — memory and SQL alike."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.contract.conftest import NOW, Backend
from tidings.domain.templates import TemplateSource

CONTACT_KEYS = {
    "id", "external_id", "email", "phone", "first_name", "last_name", "timezone", "locale", "attributes",
    "lifecycle_stage", "owner", "score",
}  # fmt: skip


def test_contacts_of_the_batch_with_the_columns_a_message_renders(backend: Backend) -> None:
    ann = backend.add_contact(
        "ann@example.org", phone="+15550100", first_name="Ann", locale="fr-CA", attributes={"city": "Lyon"},
        external_id="crm-1", lifecycle_stage="lead", owner="rep@example.org", score=4.5, timezone="Europe/Paris",
    )  # fmt: skip
    bob = backend.add_contact("bob@example.org")
    backend.add_contact("cat@example.org")  # not in the batch
    with backend.uow() as uow:
        found = backend.delivery_reads(uow).contacts([ann, bob, ann + bob + 100])
    assert set(found) == {ann, bob}  # a missing id is left out
    assert set(found[ann]) == CONTACT_KEYS and set(found[bob]) == CONTACT_KEYS
    assert found[ann] == {
        "id": ann, "external_id": "crm-1", "email": "ann@example.org", "phone": "+15550100", "first_name": "Ann",
        "last_name": None, "timezone": "Europe/Paris", "locale": "fr-CA", "attributes": {"city": "Lyon"},
        "lifecycle_stage": "lead", "owner": "rep@example.org", "score": 4.5,
    }  # fmt: skip
    assert found[bob]["email"] == "bob@example.org" and found[bob]["phone"] is None


def test_consents_by_contact_and_channel(backend: Backend) -> None:
    ann = backend.add_contact("ann@example.org")
    bob = backend.add_contact("bob@example.org")
    cat = backend.add_contact("cat@example.org")
    paused = NOW + timedelta(days=3)

    def consent(status: str, **more: Any) -> dict[str, Any]:
        return {"status": status, "source": "form", "recorded_at": NOW, "proof": {"ip": "x"}} | more

    with backend.uow() as uow:
        uow.consents.add(ann, "email", consent("granted", paused_until=paused))
        uow.consents.update(ann, "email", {"topics": {"news": False}})  # the preference centre's
        uow.consents.add(ann, "sms", consent("denied"))
        uow.consents.add(bob, "email", consent("unsubscribed"))
        uow.consents.add(cat, "email", consent("granted"))  # not in the batch
        uow.commit()
    with backend.uow() as uow:
        found = backend.delivery_reads(uow).consents([ann, bob])
    assert found == {
        (ann, "email"): {
            "contact_id": ann, "channel": "email", "status": "granted", "topics": {"news": False},
            "paused_until": paused,
        },
        (ann, "sms"): {"contact_id": ann, "channel": "sms", "status": "denied", "topics": {}, "paused_until": None},
        (bob, "email"): {
            "contact_id": bob, "channel": "email", "status": "unsubscribed", "topics": {}, "paused_until": None
        },
    }  # fmt: skip


def test_tags_of_the_batch(backend: Backend) -> None:
    ann = backend.add_contact("ann@example.org", tags=["vip", "buyer"])
    bob = backend.add_contact("bob@example.org")
    cat = backend.add_contact("cat@example.org", tags=["trial"])
    with backend.uow() as uow:
        found = backend.delivery_reads(uow).tags([ann, bob])
    assert {cid: sorted(tags) for cid, tags in found.items()} == {ann: ["buyer", "vip"]}  # bob has none
    assert cat not in found


def test_suppression_is_by_channel_and_ignores_the_stored_case(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.suppressions.add("email", "Ann@Example.org", "hard_bounce", {}, NOW)
        uow.suppressions.add("sms", "+15550100", "manual", {}, NOW)
        uow.commit()
    with backend.uow() as uow:
        reads = backend.delivery_reads(uow)
        asked = {
            ("email", "ann@example.org"), ("sms", "ann@example.org"), ("email", "bob@example.org"),
            ("sms", "+15550100"), ("voice", "+15550100"),
        }  # fmt: skip
        assert reads.suppressed(asked) == {("email", "ann@example.org"), ("sms", "+15550100")}
        assert reads.suppressed({("email", "Ann@Example.org")}) == set()  # the pairs asked are lower case
        assert reads.suppressed(set()) == set()


def _variant(locale: str, subject: str) -> dict[str, Any]:
    return {
        "channel": "email", "name": "Welcome", "subject": subject, "body": f"<p>{subject}</p>", "format": "html",
        "text_body": None, "settings": {"from": "news@mail.example", "topic": "news"}, "updated_at": NOW,
    }  # fmt: skip


def test_the_best_template_variant_for_a_locale(backend: Backend) -> None:
    with backend.uow() as uow:
        for locale, subject in [("", "Welcome"), ("fr", "Bienvenue"), ("fr-CA", "Bienvenue au Canada")]:
            uow.templates.upsert("welcome", locale, _variant(locale, subject))
        uow.templates.upsert("promo", "de", _variant("de", "Angebot"))  # no default variant
        uow.commit()
    with backend.uow() as uow:
        reads = backend.delivery_reads(uow)
        assert reads.template("welcome", "fr-CA") == TemplateSource(
            key="welcome", channel="email", locale="fr-CA", subject="Bienvenue au Canada",
            body="<p>Bienvenue au Canada</p>", format="html", text_body=None,
            settings={"from": "news@mail.example", "topic": "news"},
        )  # fmt: skip
        assert reads.template("welcome", "fr-BE").locale == "fr"  # type: ignore[union-attr]  # the language
        assert reads.template("welcome", "fr_BE").locale == "fr"  # type: ignore[union-attr]
        assert reads.template("welcome", "de").locale == ""  # type: ignore[union-attr]  # the default
        assert reads.template("welcome", "").subject == "Welcome"  # type: ignore[union-attr]
        assert reads.template("promo", "de-AT").subject == "Angebot"  # type: ignore[union-attr]
        assert reads.template("promo", "fr") is None
        assert reads.template("missing", "fr") is None


def test_a_paused_sending_domain_is_seen_in_the_same_transaction(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.feedback.save_domain("a.example", {"status": "active", "reason": None, "detail": {}, "updated_at": NOW})
        uow.commit()
    with backend.uow() as uow:
        reads = backend.delivery_reads(uow)
        assert reads.feedback.paused_domains() == set()
        uow.feedback.save_domain("b.example", {"status": "paused", "reason": "r", "detail": {}, "updated_at": NOW})
        assert reads.feedback.paused_domains() == {"b.example"}
        uow.commit()
    with backend.uow() as uow:
        assert backend.delivery_reads(uow).feedback.paused_domains() == {"b.example"}
