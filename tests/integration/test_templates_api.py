"""Templates over HTTP: save per locale (syntax errors refused with their line), preview, send a test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import free_port
from tests.integration.channels_helpers import add_contact, links_client
from tidings.bootstrap import Container
from tidings.runtime import catcher_service
from tidings.store import schema


@pytest.fixture
def api(container: Container, admin_key: str) -> Iterator[Any]:
    with links_client(container) as client:
        client.headers["Authorization"] = f"Bearer {admin_key}"
        yield client


WELCOME = {
    "subject": "Hi {{ contact.first_name | default('there') }}",
    "body": "<p>Hello {{ contact.first_name | default('there') }}, {{ contact.plan | default('free') }}</p>",
}


def test_save_list_and_locale_fallback_preview(api: Any, container: Container) -> None:
    assert api.put("/api/templates/welcome", json=WELCOME).status_code == 200
    fr = {
        "subject": "Salut {{ contact.first_name | default('toi') }}",
        "body": "<p>Bonjour</p>",
        "locale": "fr",
    }
    assert api.put("/api/templates/welcome", json=fr).status_code == 200
    assert [v["locale"] for v in api.get("/api/templates/welcome").json()["variants"]] == ["", "fr"]
    cid = add_contact(container.engine, container.clock.now(), locale="fr-CA", plan="pro")
    p = api.post("/api/templates/welcome/preview", json={"contact_id": cid}).json()
    assert p["locale"] == "fr" and p["subject"] == "Salut Ann"
    p = api.post("/api/templates/welcome/preview", json={"contact_id": cid, "locale": "de"}).json()
    assert (
        p["locale"] == "" and p["html"] == "<p>Hello Ann, pro</p>" and p["text"].strip() == "Hello Ann, pro"
    )
    anon = api.post("/api/templates/welcome/preview", json={}).json()
    assert anon["subject"] == "Hi there"


def test_syntax_error_is_refused_with_its_line(api: Any) -> None:
    r = api.put("/api/templates/broken", json={"subject": "ok", "body": "<p>one</p>\n<p>{% if %}</p>"})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "template_error"
    assert err["details"][0]["line"] == 2 and err["details"][0]["loc"] == ["body", "body"]
    assert api.get("/api/templates/broken").status_code == 404


@pytest.mark.parametrize(
    "evil",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ contact.__class__.__init__.__globals__ }}",
        "{{ self.__init__.__globals__['os'] }}",
        "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ range(100000000) | list }}",
    ],
)
def test_sandbox_escapes_fail_the_render(api: Any, evil: str) -> None:
    assert (
        api.put("/api/templates/evil", json={"subject": "x", "body": evil}).status_code == 200
    )  # valid syntax
    r = api.post("/api/templates/evil/preview", json={})
    assert r.status_code == 422, r.text
    assert "uid=" not in r.text and "subclasses" not in r.json().get("html", "")


def test_mjml_renders_responsive_html_and_text(api: Any) -> None:
    body = (
        "<mjml><mj-body><mj-section><mj-column><mj-text>Hello {{ contact.first_name | default('you') }}"
        "</mj-text><mj-button href='https://shop.example.com'>Shop</mj-button></mj-column></mj-section>"
        "</mj-body></mjml>"
    )
    assert (
        api.put("/api/templates/m", json={"subject": "s", "body": body, "format": "mjml"}).status_code == 200
    )
    p = api.post("/api/templates/m/preview", json={}).json()
    assert p["html"].startswith("<!doctype html>") and "Hello you" in p["html"]
    assert "Hello you" in p["text"] and "https://shop.example.com" in p["text"]


def test_send_test_lands_in_the_inbox(api: Any, container: Container) -> None:
    container.settings = replace(container.settings, catcher_port=free_port())
    catcher = catcher_service(container)
    catcher.start()
    try:
        api.put("/api/templates/welcome", json=WELCOME)
        r = api.post("/api/templates/welcome/send-test", json={"to": "me@example.org"})
        assert r.status_code == 200, r.text
    finally:
        catcher.stop()
    items = api.get("/api/inbox?channel=email").json()["items"]
    assert [(i["recipient"], i["subject"]) for i in items] == [("me@example.org", "[test] Hi there")]
    one = api.get(f"/api/inbox/{items[0]['id']}").json()
    assert (
        "Hello there" in one["body_html"]
        and one["headers"]["message-id"].strip("<>") == r.json()["message_ref"]
    )


def test_unknown_template_and_contact_are_404(api: Any) -> None:
    assert api.post("/api/templates/nope/preview", json={}).status_code == 404
    api.put("/api/templates/welcome", json=WELCOME)
    assert api.post("/api/templates/welcome/preview", json={"contact_id": 999}).status_code == 404
    with pytest.raises(AssertionError):
        assert api.delete("/api/templates/nope").status_code == 204
    assert api.delete("/api/templates/welcome").status_code == 204


def test_messages_api_shows_status_rendered_and_events(api: Any, container: Container) -> None:
    from tests.integration.channels_helpers import send_one

    oid, _ = send_one(container)
    listed = api.get(f"/api/messages?contact_id={_contact_of(container, oid)}").json()["items"]
    assert [m["id"] for m in listed] == [oid]
    one = api.get(f"/api/messages/{oid}").json()
    assert one["status"] == "sent" and one["rendered"]["links"]
    assert [e["name"] for e in one["events"]] == ["message.sent"]
    assert api.get("/api/messages/424242").status_code == 404


def _contact_of(container: Container, oid: int) -> int:
    with container.engine.connect() as conn:
        return int(
            conn.execute(sa.select(schema.outbox.c.contact_id).where(schema.outbox.c.id == oid)).scalar_one()
        )
