"""The funnel per edge: a real run through a journey with a branch counts the contacts who moved
along each edge (and each edge's share of its source's exits), in the API, the journey report,
the CLI and on the journey page's graph."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from tests.integration.journey_support import add_contact, add_event, drain
from tests.web_support import web_client
from tidings.bootstrap import Container
from tidings.cli.main import app as cli
from tidings.clock import ManualClock
from tidings.worker import JourneyWorker

DOC = """
key: fork
triggers:
  - event: signed.up
steps:
  - id: check
    type: branch
    branches:
      - when: attributes.plan == "pro"
        next: pro
    else: basic
  - id: pro
    type: send
    channel: email
    template: welcome
    next: end
  - id: basic
    type: send
    channel: email
    template: welcome
"""


def _run(api: Any, container: Container, clock: ManualClock) -> None:
    r = api.post("/api/journeys?publish=true", content=DOC, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    with container.engine.begin() as conn:
        for i in range(10):
            cid = add_contact(conn, clock.now(), f"f{i}@example.org", attributes={"plan": "pro" if i < 3 else "free"})
            add_event(conn, cid, "signed.up", clock.now())
    drain(JourneyWorker(container))


def test_edges_counted_from_a_real_run(
    api: Any, container: Container, clock: ManualClock, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(api, container, clock)
    data = api.get("/api/analytics/journeys/fork/steps").json()
    edges = {(e["from"], e["to"]): (e["moved"], e["share"]) for e in data["edges"]}
    assert edges == {
        (None, "check"): (10, 1.0),
        ("check", "pro"): (3, 0.3),
        ("check", "basic"): (7, 0.7),
        ("pro", None): (3, 1.0),
        ("basic", None): (7, 1.0),
    }
    flow = {f["step"]: (f["entered"], f["exited"]) for f in data["flow"]}
    assert flow == {"check": (10, 10), "pro": (3, 3), "basic": (7, 7)}
    assert (data["entries"], data["completed"]) == (10, 10)
    assert api.get("/api/analytics/journeys/fork/steps", params={"version": 2}).json()["edges"] == []
    report = api.get("/api/analytics/journeys/fork").json()
    assert report["funnel"]["edges"] == data["edges"]

    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    r = CliRunner().invoke(cli, ["report", "journey", "fork"])
    assert r.exit_code == 0, r.output
    assert "funnel: 10 entries, 10 reached the end" in r.output
    line = next(x for x in r.output.splitlines() if "check" in x and "basic" in x)
    assert "7" in line and "70.0%" in line

    with web_client(container, "viewer") as (client, _):
        page = client.get("/journeys/fork").text
    assert 'data-edge="check>pro">3 · 30%</text>' in page
    assert 'data-edge="check>basic">7 · 70%</text>' in page
    assert 'data-edge="__trigger0>check">10</text>' in page  # the entry edge from the trigger


def test_bad_input_names_the_field(
    api: Any, container: Container, clock: ManualClock, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backwards range and a goal event that never occurs: 422 naming the query field (API),
    exit 2 naming the option (CLI)."""
    _run(api, container, clock)
    bad = api.get("/api/analytics/journeys/fork/steps", params={"from": "2026-03-05", "to": "2026-03-01"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["loc"] == ["query", "from"]
    assert api.get("/api/analytics/journeys/fork/steps", params={"version": 0}).status_code == 422
    assert api.get("/api/analytics/journeys/nope/steps").status_code == 404
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    run = CliRunner().invoke
    r = run(cli, ["report", "journey", "fork", "--from", "2026-03-05", "--to", "2026-03-01"])
    assert r.exit_code == 2 and "--from" in r.output
    r = run(cli, ["report", "journey", "fork", "--goal", "Never Happened", "--value", "revenue"])
    assert r.exit_code == 2 and "--goal" in r.output
    r = run(cli, ["experiments", "evaluate", "--variant", "A:0:0", "--variant", "B:10:1"])
    assert r.exit_code == 1 and "variants[0].exposed" in r.output
