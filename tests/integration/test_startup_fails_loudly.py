"""Startup fails loudly: a database error while reading the stored signing secret stops it with a
clear message; a random secret (which would break every link already sent and every session)
is never used instead."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tidings.bootstrap import StartupError, build
from tidings.cli.main import app
from tidings.settings import Settings
from tidings.store.db import create_engine
from tidings.store.migrate import upgrade


def _sqlite(tmp_path: Path, name: str) -> str:
    return f"sqlite:///{tmp_path / name}"


def test_a_database_without_schema_names_db_upgrade(tmp_path: Path) -> None:
    url = _sqlite(tmp_path, "empty.db")
    with pytest.raises(StartupError, match=r"no Tidings schema yet: run `tidings db upgrade`"):
        build(Settings(database_url=url))


def test_an_unreadable_secret_stops_startup(tmp_path: Path) -> None:
    url = _sqlite(tmp_path, "broken.db")
    engine = create_engine(url)
    with engine.begin() as conn:  # a table of that name, but not ours: reading it fails
        conn.execute(sa.text("CREATE TABLE app_state (key TEXT PRIMARY KEY)"))
    with pytest.raises(StartupError, match=r"could not read the signing secret from the database at sqlite:///"):
        build(Settings(database_url=url), engine=engine)


def test_the_stored_secret_is_kept_across_starts(tmp_path: Path) -> None:
    url = _sqlite(tmp_path, "ok.db")
    engine = create_engine(url)
    upgrade(engine)
    first = build(Settings(database_url=url), engine=engine).secret_key
    assert build(Settings(database_url=url), engine=engine).secret_key == first


def test_the_cli_says_why_and_exits_non_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = _sqlite(tmp_path, "broken-cli.db")
    with create_engine(url).begin() as conn:
        conn.execute(sa.text("CREATE TABLE app_state (key TEXT PRIMARY KEY)"))
    monkeypatch.setenv("TIDINGS_DATABASE_URL", url)
    monkeypatch.delenv("TIDINGS_SECRET_KEY", raising=False)
    r = CliRunner().invoke(app, ["contacts", "list"])
    said = " ".join(r.output.split())  # the console wraps long lines
    assert r.exit_code == 1, r.output
    assert "could not prepare the database at sqlite:///" in said and "Traceback" not in said
