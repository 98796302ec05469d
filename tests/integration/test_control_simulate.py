"""`tidings simulate --all-published`: the published journeys and the stored policy, from the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.integration.journey_support import publish
from tests.integration.test_control_caps import POLICY, TWO_SENDS
from tests.integration.test_control_loops import PING, PONG
from tidings.application.control import policies
from tidings.bootstrap import Container
from tidings.cli.main import app
from tidings.store.control import SqlControl

POPULATION = """
start: 2026-03-02T09:00:00Z
horizon: 6d
scenarios:
  - name: looper
    contact: {tags: [y], timezone: America/New_York}
    events: [{name: tag.added, properties: {tag: y}}]
  - name: newcomer
    contact: {timezone: America/New_York}
    events: [{name: signed_up, at: 1h}]
"""


def test_all_published_journeys_run_together_with_the_stored_policy(
    container: Container, monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path
) -> None:
    with container.engine.begin() as conn:
        policies.save(SqlControl(conn), POLICY, container.clock.now())
    for text in (PING.format(limit="  loop_limit: 2"), PONG.format(limit="  loop_limit: 2")):
        publish(container, text)
    for key in ("news", "promo"):
        publish(container, TWO_SENDS.format(key=key, extra="  category: marketing"))
    f = tmp_path / "population.yaml"
    f.write_text(POPULATION)
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    res = CliRunner().invoke(app, ["simulate", "--all-published", "-s", str(f), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["journeys"] == ["news", "ping", "pong", "promo"]
    looper, newcomer = data["contacts"]
    assert looper["loops_stopped"] == 1 and looper["messages"] == 0
    assert [h["journey"] for h in looper["timeline"] if h["kind"] == "entered"] == ["ping", "pong", "ping", "pong"]
    assert newcomer["messages_per_journey"] == {"promo": 2, "news": 1}
    text = CliRunner().invoke(app, ["simulate", "--all-published", "-s", str(f)])
    assert "loop_stopped" in text.output and "chain=ping -> pong -> ping -> pong -> ping" in text.output
    f.write_text("scenarios: [{name: x, nonsense: 1}]")
    bad = CliRunner().invoke(app, ["simulate", "--all-published", "-s", str(f)])
    assert bad.exit_code == 2 and "unknown field" in bad.output
