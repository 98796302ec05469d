"""Secrets are printed masked: URLs with passwords, secret settings (issue 12: the CLI printed
TIDINGS_DATABASE_URL with its password)."""

from __future__ import annotations

from dataclasses import fields

import pytest
from typer.testing import CliRunner

from tidings.bootstrap import Container
from tidings.masking import masked_url, redact
from tidings.settings import Settings


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://app:s3cret@db.example.com:5432/tidings", "postgresql://app:***@db.example.com:5432/tidings"),
        ("postgresql+psycopg://app:p%40ss%3Aword@db/t?sslmode=require", "postgresql+psycopg://app:***@db/t?sslmode=require"),
        ("smtp://mailer:hunter2@smtp.example.com:587?pool=4", "smtp://mailer:***@smtp.example.com:587?pool=4"),
        ("smtps://:onlypass@smtp.example.com", "smtps://:***@smtp.example.com"),
        ("https://api.example.com/x?api_key=abc&page=2", "https://api.example.com/x?api_key=***&page=2"),
        ("postgresql://db/t?password=s3cret", "postgresql://db/t?password=***"),
        ("sqlite:////var/lib/tidings.db", "sqlite:////var/lib/tidings.db"),
        ("smtp://user@relay:25", "smtp://user@relay:25"),
        ("", ""),
    ],
)
def test_masked_url(url: str, shown: str) -> None:
    assert masked_url(url) == shown


def test_redact_removes_the_password_from_any_text() -> None:
    url = "postgresql://app:p%40ss@db/t"
    text = f"cannot connect to {url}: password p@ss rejected (raw p%40ss)"
    out = redact(text, url)
    assert "p@ss" not in out and "p%40ss" not in out and "postgresql://app:***@db/t" in out


def test_settings_and_container_reprs_hide_secrets() -> None:
    s = Settings(
        database_url="postgresql://app:dbpass@db/t",
        secret_key="instance-secret",
        smtp_url="smtp://u:smtppass@relay:587",
        twilio_auth_token="twiliotoken",
        lob_api_key="lobkey",
        webhook_secret="whsecret",
        bounce_webhook_secret="bouncesecret",
    )
    for secret in ("dbpass", "instance-secret", "smtppass", "twiliotoken", "lobkey", "whsecret", "bouncesecret"):
        assert secret not in repr(s)
    assert "postgresql://app:***@db/t" in repr(s) and "public_url='http://127.0.0.1:8000'" in repr(s)
    # the container (in tracebacks) leaves the instance secret out of its repr
    assert [f.repr for f in fields(Container) if f.name == "secret_key"] == [False]


def test_cli_db_upgrade_never_prints_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    from tidings.cli.main import app

    url = "postgresql://tidings:Sup3rS3cret@127.0.0.1:1/nowhere?connect_timeout=2"
    r = CliRunner().invoke(app, ["db", "upgrade", "--database-url", url])
    assert r.exit_code != 0
    assert "Sup3rS3cret" not in r.output
    assert "tidings:***@127.0.0.1:1" in r.output


def test_startup_errors_never_show_the_password() -> None:
    from tidings.bootstrap import StartupError, open_container

    url = "postgresql://tidings:Sup3rS3cret@127.0.0.1:1/nowhere?connect_timeout=2"
    with pytest.raises(StartupError) as err:
        open_container(url)
    assert "Sup3rS3cret" not in str(err.value) and "tidings:***@127.0.0.1:1" in str(err.value)
