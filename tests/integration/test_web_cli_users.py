"""`tidings users create / list / set-password`."""

from __future__ import annotations

from typer.testing import CliRunner

from tidings.application.access.users import authenticate
from tidings.cli.main import app
from tidings.store.sql_uow import SqlUnitOfWork


def test_users_cli(db_url, engine, monkeypatch):
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    runner = CliRunner()
    r = runner.invoke(
        app,
        ["users", "create", "--email", "Ann@Example.com", "--role", "admin", "--password", "a long password"],
    )
    assert r.exit_code == 0, r.output
    assert "ann@example.com" in r.output
    assert authenticate(SqlUnitOfWork(engine), "ann@example.com", "a long password") is not None
    r = runner.invoke(
        app,
        ["users", "create", "--email", "bob@example.com", "--role", "boss", "--password", "a long password"],
    )
    assert r.exit_code != 0 and "unknown role" in r.output
    r = runner.invoke(app, ["users", "create", "--email", "bob@example.com", "--password", "short"])
    assert r.exit_code != 0 and "at least 10" in r.output
    r = runner.invoke(app, ["users", "create", "--email", "ann@example.com", "--password", "a long password"])
    assert r.exit_code != 0 and "already exists" in r.output
    r = runner.invoke(
        app,
        ["users", "create", "--email", "vic@example.com", "--role", "viewer"],
        input="prompted password\nprompted password\n",
    )
    assert r.exit_code == 0, r.output
    assert authenticate(SqlUnitOfWork(engine), "vic@example.com", "prompted password") is not None
    r = runner.invoke(app, ["users", "list"])
    assert r.exit_code == 0 and "ann@example.com" in r.output and "viewer" in r.output
    r = runner.invoke(
        app, ["users", "set-password", "--email", "ann@example.com", "--password", "another long one"]
    )
    assert r.exit_code == 0, r.output
    assert authenticate(SqlUnitOfWork(engine), "ann@example.com", "a long password") is None
    assert authenticate(SqlUnitOfWork(engine), "ann@example.com", "another long one") is not None
    r = runner.invoke(
        app, ["users", "set-password", "--email", "nobody@example.com", "--password", "whatever123"]
    )
    assert r.exit_code != 0
