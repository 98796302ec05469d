"""A manual decision on a live experiment (API, CLI, the experiment page's button): the winner goes
to everyone from then on as the automatic rollout does, recorded once with who and why; bad input
names the field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.integration.journey_support import add_contact, add_event, drain, publish
from tests.integration.test_experiments_live import PROMO
from tests.web_support import web_client
from tidings.bootstrap import Container
from tidings.cli.main import app as cli
from tidings.clock import ManualClock
from tidings.store import schema
from tidings.worker import JourneyWorker

MANUAL = PROMO.replace("      rollout: true\n", "")  # no automatic rollout: only a person decides


def _enter(container: Container, clock: ManualClock, first: int, n: int) -> None:
    with container.engine.begin() as conn:
        for i in range(first, first + n):
            add_event(conn, add_contact(conn, clock.now(), f"d{i}@example.com"), "signed_up", clock.now())
    drain(JourneyWorker(container))


def _splits(container: Container, after: int = 0) -> list[dict[str, Any]]:
    t = schema.traces
    with container.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.id, t.c.detail).where(t.c.action == "split", t.c.id > after)).all()
    return [{"id": int(i), **d} for i, d in rows]


def test_decision_by_api_and_cli_rolls_out_the_winner(
    api: Any, container: Container, clock: ManualClock, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(container, MANUAL)
    _enter(container, clock, 0, 20)
    before = _splits(container)
    assert {d["variant"] for d in before} == {"A", "B"}
    bad = api.post("/api/experiments/promo.offer/decision", json={"winner": "C"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["loc"] == ["body", "winner"]
    assert api.post("/api/experiments/nope.x/decision", json={"winner": "A"}).status_code == 404
    r = api.post("/api/experiments/promo.offer/decision", json={"winner": "B", "reason": "bold reads better"})
    assert r.status_code == 200, r.text
    x = r.json()
    assert x["state"] == "rolled_out" and x["decision"]["winner"] == "B"
    assert x["decision"]["decided_by"].startswith("api key ") and "bold reads better" in x["decision"]["verdict"]
    assert api.post("/api/experiments/promo.offer/decision", json={"winner": "A"}).status_code == 409
    clock.advance(timedelta(minutes=1))
    _enter(container, clock, 100, 10)
    later = _splits(container, max(d["id"] for d in before))
    assert len(later) == 10 and all(d["variant"] == "B" and d["rollout"] for d in later)
    with container.engine.connect() as conn:
        row = conn.execute(sa.select(schema.experiment_decisions)).mappings().one()
    assert row["detail"]["manual"] is True and row["detail"]["reason"] == "bold reads better"
    assert sum(row["detail"]["exposed"].values()) == 20

    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    run = CliRunner().invoke
    r = run(cli, ["experiments", "decide", "promo.offer", "--winner", "Z"])
    assert r.exit_code == 2 and "--winner" in r.output
    r = run(cli, ["experiments", "decide", "promo.offer", "--winner", "A"])
    assert r.exit_code == 1 and "was decided" in r.output


def test_the_experiment_page_button_is_role_checked_and_decides(container: Container, clock: ManualClock) -> None:
    publish(container, MANUAL)
    _enter(container, clock, 0, 10)
    with web_client(container, "viewer") as (client, token):
        page = client.get("/experiments/promo.offer").text
        assert 'data-testid="decide"' not in page
        r = client.post("/experiments/promo.offer/decision", data={"csrf_token": token, "winner": "A"})
        assert r.status_code == 403
    with web_client(container, "marketer") as (client, token):
        page = client.get("/experiments/promo.offer").text
        assert 'data-testid="decide"' in page and "Send A to everyone" in page
        r = client.post("/experiments/promo.offer/decision", data={"winner": "A"}, follow_redirects=False)
        assert r.status_code == 403  # no CSRF token
        r = client.post(
            "/experiments/promo.offer/decision",
            data={"csrf_token": token, "winner": "A", "reason": "brand voice"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        page = client.get(r.headers["location"]).text
        assert 'data-testid="decision"' in page and "brand voice" in page and 'data-testid="decide"' not in page
