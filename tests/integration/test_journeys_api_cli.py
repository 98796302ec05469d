"""`tidings journeys ...`: validate, publish, list, show, pause, resume, migrate (dry run and apply)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.integration.journey_support import WELCOME, add_contact, add_event, drain
from tidings.bootstrap import Container
from tidings.cli.main import app
from tidings.clock import ManualClock
from tidings.worker import JourneyWorker


def test_journeys_cli(
    container: Container, clock: ManualClock, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    run = CliRunner().invoke
    bad = tmp_path / "bad.yaml"
    bad.write_text(WELCOME.replace("duration: 2d", "duration: soon"))
    res = run(app, ["journeys", "validate", str(bad)])
    assert res.exit_code != 0 and "line 13" in res.output and "pause" in res.output
    good = tmp_path / "welcome.yaml"
    good.write_text(WELCOME)
    assert run(app, ["journeys", "validate", str(good)]).exit_code == 0
    res = run(app, ["journeys", "publish", str(good), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["version"] == 1
    res = run(app, ["journeys", "publish", str(good)])
    assert "unchanged" in res.output
    with container.engine.begin() as conn:
        cid = add_contact(conn, clock.now(), "cli@example.org")
        add_event(conn, cid, "signed_up", clock.now())
    drain(JourneyWorker(container))
    v2 = tmp_path / "welcome2.yaml"
    v2.write_text(WELCOME.replace("id: pause", "id: pause-2"))
    assert run(app, ["journeys", "publish", str(v2)]).exit_code == 0
    res = run(app, ["journeys", "migrate", "welcome", "--map", "pause=pause-2"])
    assert res.exit_code == 0, res.output
    assert "would move 1" in res.output and "v1:pause -> v2:pause-2" in res.output
    res = run(app, ["journeys", "migrate", "welcome", "--map", "pause=pause-2", "--apply", "--json"])
    assert json.loads(res.output)["moved"] == 1
    res = run(app, ["journeys", "show", "welcome", "--json"])
    data = json.loads(res.output)
    assert [v["version"] for v in data["versions"]] == [1, 2]
    assert data["enrollments"] == [{"version": 2, "status": "waiting", "step": "pause-2", "count": 1}]
    assert "paused" in run(app, ["journeys", "pause", "welcome"]).output
    assert json.loads(run(app, ["journeys", "list", "--json"]).output)[0]["status"] == "paused"
    assert "resumed" in run(app, ["journeys", "resume", "welcome"]).output
    res = run(app, ["journeys", "migrate", "nope"])
    assert res.exit_code != 0 and "no journey" in res.output
