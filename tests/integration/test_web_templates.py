"""Web app: templates — editor with field errors, sandboxed preview, test send; viewers read only."""

from __future__ import annotations

import sqlalchemy as sa

from tests.web_support import web_client
from tidings.application.contacts.contacts import create_contact, normalise_input
from tidings.store import schema
from tidings.store.sql_uow import joined

FORM = {
    "key": "welcome",
    "locale": "",
    "channel": "email",
    "name": "Welcome",
    "format": "html",
    "subject": "Hi {{ contact.first_name }}",
    "body": "<p>Hello {{ contact.first_name }}</p>",
    "text_body": "",
    "new": "1",
}


def test_save_with_errors_keeps_input_then_preview_for_a_contact(container):
    now = container.clock.now()
    with container.engine.begin() as conn:
        cid = create_contact(
            joined(conn), normalise_input({"email": "p@example.com", "first_name": "<Pat>"}, now), now
        )
    with web_client(container, "marketer") as (client, token):
        bad = client.post("/templates", data={**FORM, "csrf_token": token, "body": "<p>{% if %}</p>"})
        assert bad.status_code == 422
        assert "line 1" in bad.text and "{% if %}" in bad.text.replace("&lt;", "<").replace("&gt;", ">")
        missing = client.post("/templates", data={**FORM, "csrf_token": token, "key": ""})
        assert missing.status_code == 422 and "a key is required" in missing.text
        r = client.post("/templates", data={**FORM, "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303
        page = client.get("/templates/welcome?locale=").text
        assert 'role="status"' not in page and 'name="key" value="welcome"' in page
        panel = client.get(f"/templates/welcome/preview?contact={cid}", headers={"HX-Request": "true"})
        assert panel.status_code == 200 and "Hi &lt;Pat&gt;" in panel.text
        assert 'sandbox=""' in panel.text
        frame = client.get(f"/templates/welcome/preview.html?contact={cid}")
        assert frame.headers["content-security-policy"].startswith("sandbox")
        assert "Hello &lt;Pat&gt;" in frame.text  # the template's own autoescape
        assert client.get("/templates").text.count("welcome") >= 1


def test_viewer_cannot_save_or_send(container):
    with web_client(container, "marketer", "m@example.com") as (client, token):
        client.post("/templates", data={**FORM, "csrf_token": token})
    with web_client(container, "viewer") as (client, token):
        assert client.post("/templates", data={**FORM, "csrf_token": token, "body": "x"}).status_code == 403
        assert (
            client.post(
                "/templates/welcome/test", data={"csrf_token": token, "to": "a@example.com"}
            ).status_code
            == 403
        )
        assert client.get("/templates/new").status_code == 403
        page = client.get("/templates/welcome").text
        assert "Send a test" not in page and ">Save<" not in page
    with container.engine.connect() as conn:
        body = conn.execute(sa.select(schema.templates.c.body)).scalar_one()
    assert body == FORM["body"]


def test_preview_of_unsaved_changes_renders_in_the_sandbox(container):
    now = container.clock.now()
    with container.engine.begin() as conn:
        cid = create_contact(
            joined(conn), normalise_input({"email": "q@example.com", "first_name": "<Quinn>"}, now), now
        )
    with web_client(container, "viewer") as (client, token):
        r = client.post(
            "/templates/preview-draft", data={**FORM, "csrf_token": token, "preview_contact": str(cid)}
        )
        assert r.headers["content-security-policy"].startswith("sandbox")
        assert "Hello &lt;Quinn&gt;" in r.text and "Subject: Hi &amp;lt;Quinn&amp;gt;" not in r.text
        assert "Subject: Hi &lt;Quinn&gt;" in r.text
        bad = client.post("/templates/preview-draft", data={**FORM, "csrf_token": token, "body": "{% if %}"})
        assert "line 1" in bad.text
        assert client.post("/templates/preview-draft", data=FORM).status_code == 403  # CSRF


def test_a_preview_frame_without_a_session_says_so_inside_the_frame(container):
    """The login page is never framed (frame-ancestors 'none'): a preview frame whose session has
    gone gets a frameable 401 that says what to do, not a redirect the browser would block."""
    from fastapi.testclient import TestClient

    from tests.web_support import web_app

    with TestClient(web_app(container), base_url="http://testserver") as client:
        framed = client.get(
            "/templates/welcome/preview.html", headers={"Sec-Fetch-Dest": "iframe"}, follow_redirects=False
        )
        assert framed.status_code == 401
        assert framed.headers["content-security-policy"].startswith("sandbox")
        assert "frame-ancestors 'self'" in framed.headers["content-security-policy"]
        assert "reload the page to log in again" in framed.text
        ukrainian = client.get(
            "/templates/welcome/preview.html",
            headers={"Sec-Fetch-Dest": "iframe", "Accept-Language": "uk"},
            follow_redirects=False,
        )
        assert "перезавантажте сторінку" in ukrainian.text
        page = client.get("/templates/welcome/preview.html", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
