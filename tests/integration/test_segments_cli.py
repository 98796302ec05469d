"""`tidings segments ...` against a real database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tidings.cli.main import app
from tidings.store import schema

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def run(db_url: str, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(schema.contacts),
            [
                {
                    "email": f"c{i}@x.test",
                    "attributes": {"plan": "pro" if i % 2 else "free"},
                    "score": i,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in range(10)
            ],
        )
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["segments", *args])


def test_segments_cli(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run("preview", "--rule", 'attributes.plan == "pro" and attributes.ghost exists')
    assert r.exit_code == 0, r.output
    assert "0 contacts match" in r.output and "no contact has the attribute 'ghost'" in r.output
    r = run("create", "--key", "pro", "--name", "Pro", "--rule", 'attributes.plan == "pro"')
    assert r.exit_code == 0 and "5 members" in r.output, r.output
    f = tmp_path / "rule.yaml"
    f.write_text("all:\n  - {field: score, op: gte, value: 5}\n  - {in_segment: pro}\n")
    r = run("create", "--key", "pro5", "--name", "Pro 5+", "--rule-file", str(f))
    assert r.exit_code == 0 and "3 members" in r.output, r.output
    r = run("list")
    assert r.exit_code == 0 and "pro5" in r.output
    r = run("show", "pro5")
    assert r.exit_code == 0 and 'score >= 5 and in_segment("pro")' in r.output
    r = run("refresh")
    assert r.exit_code == 0 and "pro: 0 entered, 0 exited" in r.output
    r = run("create", "--key", "bad", "--name", "Bad", "--rule", "score >= ")
    assert r.exit_code != 0 and "column 10" in r.output
    r = run("delete", "pro")
    assert r.exit_code != 0 and "used by" in r.output
    assert run("delete", "pro5").exit_code == 0
    assert run("delete", "pro").exit_code == 0
    assert run("show", "pro").exit_code != 0
