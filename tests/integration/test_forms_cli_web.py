"""Forms from the CLI and the /forms web page (the same use cases as /api/forms)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.web_support import web_client
from tidings.bootstrap import Container
from tidings.cli.main import app

DOC = {"key": "news", "name": "News", "fields": [{"name": "email", "type": "email", "required": True,
                                                  "maps_to": "email"}],
       "consents": [{"channel": "email", "text": "Email me the news."}]}


def test_cli_add_list_show_submissions(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       container: Container) -> None:
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    run = CliRunner().invoke
    good = tmp_path / "news.json"
    good.write_text(json.dumps(DOC))
    res = run(app, ["forms", "add", str(good)])
    assert res.exit_code == 0 and "/f/news/embed.js" in res.output, res.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(DOC | {"key": "x y", "redirect_url": "https://evil.example/"}))
    res = run(app, ["forms", "add", str(bad)])
    assert res.exit_code == 1 and "key:" in res.output and "redirect_url:" in res.output
    assert run(app, ["forms", "add", str(good)]).exit_code == 1  # the key is taken
    res = run(app, ["forms", "list"])
    assert res.exit_code == 0 and "news" in res.output
    res = run(app, ["forms", "show", "news"])
    assert res.exit_code == 0 and json.loads(res.output)["consents"][0]["text"] == "Email me the news."
    assert run(app, ["forms", "submissions", "news", "--json"]).exit_code == 0
    res = run(app, ["forms", "show", "nope"])
    assert res.exit_code == 1 and "not found" in res.output


def test_forms_page_create_edit_and_roles(container: Container) -> None:
    with web_client(container, "viewer", "v@example.com") as (client, token):
        assert client.get("/forms").status_code == 200
        refused = client.post("/forms", data={"document": json.dumps(DOC), "csrf_token": token})
        assert refused.status_code == 403
    with web_client(container, "marketer") as (client, token):
        assert client.post("/forms", data={"document": json.dumps(DOC)}).status_code == 403  # no CSRF token
        bad = client.post("/forms", data={"document": "{not json", "csrf_token": token})
        assert bad.status_code == 422 and "not JSON" in bad.text
        r = client.post("/forms", data={"document": json.dumps(DOC), "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/forms/news"
        page = client.get("/forms/news")
        assert page.status_code == 200 and "tidings-form-news" in page.text and "/f/news/embed.js" in page.text
        saved = client.post("/forms/news", data={"document": json.dumps(DOC | {"name": "Weekly"}),
                                                 "csrf_token": token}, follow_redirects=False)
        assert saved.status_code == 303
        assert "Weekly" in client.get("/forms").text
        invalid = client.post("/forms/news", data={"document": json.dumps(DOC | {"fields": []}), "csrf_token": token})
        assert invalid.status_code == 422 and "fields: a form needs at least one field" in invalid.text
        assert client.get("/forms/nope").status_code == 404


def test_the_hosted_page_is_localised_and_right_to_left(container: Container) -> None:
    from fastapi.testclient import TestClient

    from tests.web_support import web_app
    from tidings.application.forms.forms import create_form

    create_form(container.uow(), DOC, container.clock.now())
    with TestClient(web_app(container), base_url="http://testserver") as client:
        page = client.get("/f/news", headers={"Accept-Language": "ar"})
        assert page.status_code == 200 and 'dir="rtl"' in page.text and "اشترك" in page.text
        assert "Email me the news." in page.text  # the consent text is the marketer's, word for word
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert client.get("/f/nope").status_code == 404
        assert client.get("/f/confirm/not-a-token").status_code == 400


def test_the_hosted_page_carries_its_utm_and_referrer_into_the_post(container: Container) -> None:
    from fastapi.testclient import TestClient

    from tests.web_support import web_app
    from tidings.application.forms.forms import create_form

    create_form(container.uow(), DOC, container.clock.now())
    with TestClient(web_app(container), base_url="http://testserver") as client:
        page = client.get("/f/news?utm_source=newsletter&utm_medium=email",
                          headers={"Referer": "https://blog.example.com/post"})
        assert 'name="referrer" value="https://blog.example.com/post"' in page.text
        page_url = "http://testserver/f/news?utm_source=newsletter&amp;utm_medium=email"
        assert f'name="page_url" value="{page_url}"' in page.text
        r = client.post("/f/news", data={"email": "u@example.com", "page_url": page_url.replace("&amp;", "&"),
                                         "referrer": "https://blog.example.com/post"})
        assert r.status_code == 200
    with container.uow(read_only=True) as uow:
        [sub] = uow.form_submissions.of_form("news")
    assert sub.data["attributes"] == {"utm_source": "newsletter", "utm_medium": "email",
                                      "referrer": "https://blog.example.com/post"}


def test_a_landing_page_from_a_template_above_the_hosted_form(container: Container) -> None:
    from fastapi.testclient import TestClient

    from tests.integration.channels_helpers import add_template
    from tests.web_support import web_app
    from tidings.application.forms.forms import create_form

    add_template(container.engine, container.clock.now(), key="spring-landing", subject="Spring",
                 body="<html><body><h2>Our spring catalogue</h2><script>alert(1)</script></body></html>")
    create_form(container.uow(), DOC | {"landing_template": "spring-landing"}, container.clock.now())
    create_form(container.uow(), DOC | {"key": "plain"}, container.clock.now())
    with TestClient(web_app(container), base_url="http://testserver") as client:
        page = client.get("/f/news")
        assert '<iframe class="landing" src="/f/news/landing" sandbox' in page.text
        frame = client.get("/f/news/landing")
        assert frame.status_code == 200 and "Our spring catalogue" in frame.text
        assert frame.headers["content-security-policy"].startswith("sandbox")  # no script runs in it
        assert frame.headers["x-frame-options"] == "SAMEORIGIN"
        assert "iframe" not in client.get("/f/plain").text
        assert client.get("/f/plain/landing").status_code == 404
