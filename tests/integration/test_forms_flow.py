"""Forms on SQLite and PostgreSQL: submit, the forms pass (a failed send is retried, never doubled),
confirmation by the use cases, single opt-in, a granted consent kept, and the /api/forms edge."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tidings.application.forms.confirmations import run_pass
from tidings.application.forms.forms import create_form
from tidings.application.forms.submit import BadLink, Visitor, confirm, submit
from tidings.application.ports.senders import DeliveryResult, OutgoingMessage
from tidings.bootstrap import Container
from tidings.clock import ManualClock
from tidings.domain.forms.pending import Outcome, PendingStatus
from tidings.store import schema

DOC: dict[str, Any] = {
    "key": "news", "name": "News",
    "fields": [{"name": "email", "type": "email", "required": True, "maps_to": "email"},
               {"name": "interest", "label": "Interest"}],
    "consents": [{"channel": "email", "text": "Email me the news."}, {"channel": "sms", "text": "Text me."}],
}
VISITOR = Visitor(ip="203.0.113.7", user_agent="UA/1", page_url="https://shop.example.com/p?utm_medium=mail")


class FakeProvider:
    channel = "email"
    name = "fake"

    def __init__(self, fail: int = 0) -> None:
        self.sent: list[OutgoingMessage] = []
        self.fail = fail

    async def send(self, msg: OutgoingMessage) -> DeliveryResult:
        if self.fail:
            self.fail -= 1
            return DeliveryResult.temporary("connection refused")
        self.sent.append(msg)
        return DeliveryResult.accepted()

    async def confirm(self, msg: OutgoingMessage) -> bool | None:
        return None

    async def aclose(self) -> None:
        return None


def consent(c: Container, contact_id: int, channel: str) -> dict[str, Any] | None:
    k = schema.consents
    with c.engine.connect() as conn:
        row = conn.execute(sa.select(k).where(k.c.contact_id == contact_id, k.c.channel == channel)).mappings().first()
    return dict(row) if row else None


def test_submit_pass_confirm(container: Container, clock: ManualClock) -> None:
    c = container
    create_form(c.uow(), DOC, clock.now())
    result = submit(c.forms_intake, "news", {"email": "a@example.com", "interest": "bikes",
                                             "consent_email": "on"}, VISITOR, clock.now())
    assert result.status is PendingStatus.PENDING and result.contact_id is not None
    assert consent(c, result.contact_id, "email")["status"] == "pending"  # type: ignore[index]
    assert consent(c, result.contact_id, "sms") is None  # not ticked: nothing recorded

    provider = FakeProvider(fail=1)
    pass_ = lambda: run_pass(c.uow, lambda: provider, c.form_links, clock.now(), public_url="http://testserver")  # noqa: E731
    assert pass_().failed == 1 and provider.sent == []  # the claim is released
    assert pass_().sent == 1 and pass_().sent == 0  # retried once, never twice
    [mail] = provider.sent
    assert mail.recipient == "a@example.com" and mail.category == "transactional"
    token = mail.text.split("/f/confirm/")[1].split()[0]  # type: ignore[union-attr]
    tok = c.form_links.read(token, clock.now())
    assert tok.a == result.submission_id

    with pytest.raises(BadLink):
        confirm(c.uow, tok.a, tok.b + 1, VISITOR, clock.now())
    assert consent(c, result.contact_id, "email")["status"] == "pending"  # type: ignore[index]
    clock.advance(timedelta(hours=2))
    done = confirm(c.uow, tok.a, tok.b, Visitor(ip="198.51.100.1", user_agent="UA/2"), clock.now())
    assert done.outcome is Outcome.CONFIRMED
    granted = consent(c, result.contact_id, "email")
    assert granted is not None and granted["status"] == "granted"
    assert granted["proof"]["ip"] == "203.0.113.7" and granted["proof"]["confirmed_ip"] == "198.51.100.1"
    assert confirm(c.uow, tok.a, tok.b, VISITOR, clock.now()).outcome is Outcome.ALREADY
    with c.engine.connect() as conn:
        q = sa.select(schema.contacts).where(schema.contacts.c.id == result.contact_id)
        contact = conn.execute(q).mappings().one()
    assert contact["attributes"] == {"interest": "bikes", "utm_medium": "mail"}

    # a second submission by the same person does not take the granted consent back to pending
    again = submit(c.forms_intake, "news", {"email": "A@example.com", "consent_email": "on"}, VISITOR, clock.now())
    assert again.contact_id == result.contact_id
    assert consent(c, result.contact_id, "email")["status"] == "granted"  # type: ignore[index]


def test_expired_confirmation_changes_nothing(container: Container, clock: ManualClock) -> None:
    c = container
    create_form(c.uow(), DOC, clock.now())
    result = submit(c.forms_intake, "news", {"email": "b@example.com", "consent_email": "on"}, VISITOR, clock.now())
    assert result.submission_id is not None
    with c.uow(read_only=True) as uow:
        rec = uow.form_submissions.get(result.submission_id)
    assert rec is not None
    clock.advance(timedelta(days=8))
    assert confirm(c.uow, rec.id, rec.nonce, VISITOR, clock.now()).outcome is Outcome.EXPIRED
    assert consent(c, rec.contact_id, "email")["status"] == "pending"  # type: ignore[index]
    assert run_pass(c.uow, FakeProvider, c.form_links, clock.now(), public_url="http://x").expired == 1


def test_single_opt_in_grants_at_once(container: Container, clock: ManualClock) -> None:
    c = container
    create_form(c.uow(), DOC | {"key": "direct", "double_opt_in": False}, clock.now())
    result = submit(c.forms_intake, "direct", {"email": "d@example.com", "consent_sms": "on"}, VISITOR, clock.now())
    assert result.status is PendingStatus.DIRECT and result.contact_id is not None
    sms = consent(c, result.contact_id, "sms")
    assert sms is not None and sms["status"] == "granted" and sms["proof"]["text"] == "Text me."
    provider = FakeProvider()
    run_pass(c.uow, lambda: provider, c.form_links, clock.now(), public_url="http://x")
    assert provider.sent == []  # nothing to confirm


def test_forms_api_validates_with_paths(api: Any) -> None:
    bad = api.post("/api/forms", json=DOC | {"fields": [{"name": "email", "maps_to": "nope"}]})
    assert bad.status_code == 422
    locs = [d["loc"] for d in bad.json()["error"]["details"]]
    assert ["body", "fields", "0", "maps_to"] in locs
    assert api.post("/api/forms", json=DOC).status_code == 201
    assert api.post("/api/forms", json=DOC).status_code == 409
    edited = api.put("/api/forms/news", json=DOC | {"name": "Weekly"})
    assert edited.status_code == 200 and edited.json()["name"] == "Weekly"
    assert api.put("/api/forms/news", json=DOC | {"key": "other"}).status_code == 422
    assert [f["key"] for f in api.get("/api/forms").json()["items"]] == ["news"]
    assert api.get("/api/forms/nope/submissions").status_code == 404


def test_the_confirmation_email_from_a_template(container: Container, clock: ManualClock) -> None:
    from tests.integration.channels_helpers import add_template

    c = container
    add_template(c.engine, clock.now(), key="confirm-news", subject="Please confirm, {{ contact.email }}",
                 body='<html><body><a href="{{ data.confirm_url }}">Yes, subscribe me</a></body></html>')
    create_form(c.uow(), DOC | {"key": "templated", "confirmation_template": "confirm-news"}, clock.now())
    submit(c.forms_intake, "templated", {"email": "t@example.com", "consent_email": "on"}, VISITOR, clock.now())
    provider = FakeProvider()
    assert run_pass(c.uow, lambda: provider, c.form_links, clock.now(), public_url="http://testserver").sent == 1
    [mail] = provider.sent
    assert mail.subject == "Please confirm, t@example.com" and mail.template == "confirm-news"
    assert 'href="http://testserver/f/confirm/' in (mail.html or "")


def test_erasing_the_contact_erases_its_submissions(container: Container, clock: ManualClock) -> None:
    from tidings.application.contacts.identity import delete_contacts
    from tidings.store.sql_uow import joined

    c = container
    create_form(c.uow(), DOC, clock.now())
    result = submit(c.forms_intake, "news", {"email": "e@example.com", "consent_email": "on"}, VISITOR, clock.now())
    assert result.contact_id is not None
    with c.engine.begin() as conn:
        assert delete_contacts(joined(conn), [result.contact_id]) == 1
    with c.uow(read_only=True) as uow:
        assert uow.form_submissions.of_form("news") == []  # the proof (email, IP) goes with the person


def test_a_public_form_is_matched_by_its_email_never_by_the_phone_beside_it(
    container: Container, clock: ManualClock
) -> None:
    """Knowing someone's phone number must not let a visitor attach their own email to that contact."""
    from tidings.application.contacts import contacts as svc
    from tidings.store.sql_uow import joined

    c = container
    with c.engine.begin() as conn:
        ann = svc.create_contact(joined(conn), svc.normalise_input(
            {"email": "ann@shop.example.com", "phone": "+14155550100"}, clock.now()), clock.now())
    doc = DOC | {"key": "callback", "double_opt_in": False,
                 "fields": [*DOC["fields"], {"name": "phone", "type": "phone", "maps_to": "phone"}]}
    create_form(c.uow(), doc, clock.now())
    result = submit(c.forms_intake, "callback", {"email": "mallory@example.net", "phone": "+1 415 555 0100"},
                    VISITOR, clock.now())
    assert result.contact_id is not None and result.contact_id != ann  # a new contact, not Ann
    with c.engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(schema.contacts)).all()}
    assert rows[ann].email == "ann@shop.example.com" and rows[ann].phone == "+14155550100"
    assert rows[result.contact_id].email == "mallory@example.net"
    assert rows[result.contact_id].phone is None  # Ann's number stays hers alone
    # the same visitor's own number, unknown so far, is kept on their contact
    again = submit(c.forms_intake, "callback", {"email": "mallory@example.net", "phone": "+1 415 555 0199"},
                   VISITOR, clock.now())
    assert again.contact_id == result.contact_id
    with c.engine.connect() as conn:
        phone = conn.execute(sa.select(schema.contacts.c.phone).where(schema.contacts.c.id == again.contact_id))
        assert phone.scalar_one() == "+14155550199"
