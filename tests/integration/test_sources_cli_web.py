"""Vendor sources from the CLI and the admin web page (the same use cases as /api/sources)."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from tests.web_support import web_client
from tidings.bootstrap import Container
from tidings.cli.main import app


def test_cli_add_list_remove(container: Container, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    run = CliRunner().invoke
    res = run(app, ["sources", "add", "shopify", "--secret", "shpss_cli_secret", "--name", "eu shop",
                    "--abandon-after", "45m"])
    assert res.exit_code == 0, res.output
    assert "/webhooks/shopify/1" in res.output and "shpss_cli_secret" not in res.output
    res = run(app, ["sources", "add", "stripe"])
    assert res.exit_code == 0, res.output
    generated = re.search(r"shown once.*?(whsec_\S+)", res.output, re.DOTALL)
    assert generated, res.output
    res = run(app, ["sources", "list"])
    assert res.exit_code == 0 and "eu shop" in res.output and "45 min" in res.output
    assert "shpss_cli_secret" not in res.output and generated.group(1) not in res.output
    with container.uow(read_only=True) as uow:
        assert uow.sources.list()[1].secret == generated.group(1)
    res = run(app, ["sources", "add", "paypal", "--secret", "abcdefgh1"])
    assert res.exit_code != 0 and "unknown vendor" in res.output
    res = run(app, ["sources", "add", "shopify", "--secret", "short"])
    assert res.exit_code != 0 and "secret" in res.output
    assert run(app, ["sources", "remove", "1"]).exit_code == 0
    res = run(app, ["sources", "remove", "1"])
    assert res.exit_code != 0 and "no source 1" in res.output


def test_sources_page_is_admin_only_and_shows_a_generated_secret_once(container: Container) -> None:
    with web_client(container, "marketer") as (client, _):
        assert client.get("/sources").status_code == 403
    with web_client(container, "admin", "boss@example.com") as (client, token):
        page = client.get("/sources")
        assert page.status_code == 200 and "No source yet." in page.text
        refused = client.post("/sources", data={"vendor": "shopify", "secret": ""})
        assert refused.status_code == 403  # no CSRF token
        made = client.post("/sources", data={"vendor": "zoom", "name": "webinars", "secret": "",
                                             "abandon_after_minutes": "60", "csrf_token": token})
        assert made.status_code == 200, made.text
        secret = re.search(r'id="created-secret">([^<]+)<', made.text)
        assert secret and secret.group(1).startswith("whsec_")
        assert "/webhooks/zoom/1" in made.text
        again = client.get("/sources")
        assert secret.group(1) not in again.text and "webinars" in again.text
        dup = client.post("/sources", data={"vendor": "zoom", "name": "webinars", "secret": "another-secret",
                                            "csrf_token": token})
        assert dup.status_code == 409 and "exists" in dup.text
        gone = client.post("/sources/1/remove", data={"csrf_token": token}, follow_redirects=False)
        assert gone.status_code == 303
        assert "webinars" not in client.get("/sources").text
