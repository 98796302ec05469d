"""`tidings templates save | list | preview | send-test` against a real database and the catcher."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.conftest import free_port
from tests.integration.channels_helpers import add_contact
from tidings.bootstrap import Container
from tidings.cli.main import app
from tidings.runtime import catcher_service
from tidings.store import schema


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, db_url: str) -> CliRunner:
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    monkeypatch.setenv("TIDINGS_SECRET_KEY", "cli-secret")
    return CliRunner()


def test_save_list_preview(cli: CliRunner, container: Container, tmp_path: Path) -> None:
    body = tmp_path / "welcome.html"
    body.write_text("<p>Hello {{ contact.first_name | default('there') }}</p>")
    r = cli.invoke(
        app, ["templates", "save", "welcome", str(body), "--subject", "Hi {{ contact.first_name }}"]
    )
    assert r.exit_code == 0, r.output
    assert "welcome" in cli.invoke(app, ["templates", "list"]).output
    cid = add_contact(container.engine, container.clock.now(), first_name="Ann")
    r = cli.invoke(app, ["templates", "preview", "welcome", "--contact", str(cid)])
    assert r.exit_code == 0, r.output
    assert "Subject: Hi Ann" in r.output and "Hello Ann" in r.output
    r = cli.invoke(app, ["templates", "preview", "welcome"])  # no contact: the subject has no default
    assert r.exit_code != 0 and "first_name" in r.output


def test_syntax_error_refused_with_file_and_line(
    cli: CliRunner, container: Container, tmp_path: Path
) -> None:
    body = tmp_path / "bad.html"
    body.write_text("<p>ok</p>\n<p>{% if %}</p>\n")
    r = cli.invoke(app, ["templates", "save", "bad", str(body)])
    assert r.exit_code != 0
    assert "bad.html" in r.output and "line 2" in r.output
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.templates)).scalar() == 0


def test_send_test_reaches_the_catcher(
    cli: CliRunner, container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("TIDINGS_CATCHER_PORT", str(port))
    container.settings = replace(container.settings, catcher_port=port)
    body = tmp_path / "t.mjml"
    body.write_text(
        "<mjml><mj-body><mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section>"
        "</mj-body></mjml>"
    )
    saved = cli.invoke(app, ["templates", "save", "m", str(body), "--subject", "MJML"])
    assert saved.exit_code == 0, saved.output
    catcher = catcher_service(container)
    catcher.start()
    try:
        r = cli.invoke(app, ["templates", "send-test", "m", "--to", "me@example.org"])
    finally:
        catcher.stop()
    assert r.exit_code == 0, r.output
    with container.engine.connect() as conn:
        subjects = conn.execute(sa.select(schema.inbox.c.subject)).scalars().all()
    assert subjects == ["[test] MJML"]


def test_dkim_key_writes_a_key_and_prints_its_record(cli: CliRunner, tmp_path: Path) -> None:
    from tidings.channels.dkim import DkimSigner

    key = tmp_path / "dkim.pem"
    r = cli.invoke(app, ["templates", "dkim-key", "--out", str(key), "--domain", "shop.example.com"])
    assert r.exit_code == 0, r.output
    record = DkimSigner.from_file("shop.example.com", "tidings", key).public_dns_record()
    assert record in r.output and "tidings._domainkey.shop.example.com" in r.output
    assert cli.invoke(app, ["templates", "dkim-key", "--out", str(key), "--domain", "x.org"]).exit_code != 0
