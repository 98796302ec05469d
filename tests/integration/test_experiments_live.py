"""Live experiments from a journey's split step: counts from the recorded data, the verdict, the
automatic rollout (recorded in the decision table and in each later contact's split trace), and
bad input refused with the field named (API and CLI)."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.integration.journey_support import add_contact, add_event, drain, publish
from tidings.bootstrap import Container
from tidings.cli.main import app as cli
from tidings.clock import ManualClock
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.model import JourneyError
from tidings.store import schema
from tidings.worker import JourneyWorker

PROMO = """
key: promo
name: Promo test
triggers:
  - event: signed_up
steps:
  - id: offer
    type: split
    name: Offer wording
    variants:
      - {name: A, next: plain}
      - {name: B, next: bold}
    experiment:
      metric: conversion
      event: Order Completed
      where: properties.revenue > 0
      window: 7d
      baseline: 0.1
      mde: 0.3
      rollout: true
  - id: plain
    type: update_contact
    add_tags: [plain]
    next: end
  - id: bold
    type: update_contact
    add_tags: [bold]
    next: end
"""


def variants_of(conn: sa.Connection) -> dict[int, str]:
    t = schema.traces
    rows = conn.execute(sa.select(t.c.contact_id, t.c.detail).where(t.c.action == "split")).all()
    return {int(cid): str(d["variant"]) for cid, d in rows}


def run_promo(container: Container, clock: ManualClock, n: int = 100) -> dict[int, str]:
    publish(container, PROMO)
    now = clock.now()
    with container.engine.begin() as conn:
        for i in range(n):
            cid = add_contact(conn, now, f"p{i}@example.com")
            add_event(conn, cid, "signed_up", now)
    drain(JourneyWorker(container))
    clock.advance(timedelta(hours=2))
    with container.engine.begin() as conn:
        arms = variants_of(conn)
        for cid, v in arms.items():
            if v == "B":
                add_event(conn, cid, "order.completed", clock.now(), revenue=10)
            elif cid % 3 == 0:  # A buys nothing worth counting: the filter drops revenue 0
                add_event(conn, cid, "order.completed", clock.now(), revenue=0)
    return arms


def test_counts_verdict_and_rollout(container: Container, clock: ManualClock, api: Any) -> None:
    arms = run_promo(container, clock)
    n_a = sum(1 for v in arms.values() if v == "A")
    n_b = len(arms) - n_a
    assert min(n_a, n_b) >= 30  # the planned sample (per_variant 30) is reached

    r = api.get("/api/experiments")
    assert r.status_code == 200
    [item] = r.json()["items"]
    assert item["key"] == "promo.offer"
    assert item["exposed"] == {"A": n_a, "B": n_b}
    assert item["converted"] == {"A": 0, "B": n_b}
    assert item["plan"]["per_variant"] == 30
    assert item["state"] == "winner" and item["result"]["winner"] == "B"
    assert item["review_date"] == clock.now().date().isoformat()
    assert item["verdict"].startswith("B wins on Order Completed: +")

    r = api.post("/api/experiments/review")
    assert r.status_code == 200
    assert [d["winner"] for d in r.json()["rolled_out"]] == ["B"]
    assert api.post("/api/experiments/review").json()["rolled_out"] == []  # decided once

    # from now on everyone goes to B, and the split trace says it was the rollout
    with container.engine.begin() as conn:
        late = [add_contact(conn, clock.now(), f"late{i}@example.com") for i in range(8)]
        for cid in late:
            add_event(conn, cid, "signed_up", clock.now())
    drain(JourneyWorker(container))
    t = schema.traces
    with container.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.detail).where(t.c.action == "split", t.c.contact_id.in_(late))).all()
    assert [(d["variant"], d.get("rollout")) for (d,) in rows] == [("B", True)] * 8
    shown = api.get("/api/experiments/promo.offer").json()
    assert shown["state"] == "rolled_out" and shown["decision"]["winner"] == "B"
    assert shown["exposed"] == {"A": n_a, "B": n_b}  # rollout traffic is not part of the test


def test_cli_list_and_show(
    container: Container, clock: ManualClock, db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run_promo(container, clock, n=40)
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    run = CliRunner().invoke
    r = run(cli, ["experiments", "list", "--json"])
    assert r.exit_code == 0, r.output
    assert [x["key"] for x in json.loads(r.stdout)] == ["promo.offer"]
    r = run(cli, ["experiments", "show", "promo.offer"])
    assert r.exit_code == 0, r.output
    assert "promo.offer" in r.output and "chance to be best" in r.output
    r = run(cli, ["experiments", "show", "promo.nope"])
    assert r.exit_code == 1 and "no experiment 'promo.nope'" in r.output


def test_an_experiment_waiting_for_exposures_says_so(container: Container, api: Any) -> None:
    publish(container, PROMO)
    item = api.get("/api/experiments/promo.offer").json()
    assert item["state"] == "collecting" and item["result"] is None
    assert "no exposures yet" in item["verdict"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"variants": [{"name": "A", "exposed": 10, "converted": 1}]}, ["body", "variants"]),
        (
            {"variants": [{"name": "A", "exposed": 10, "converted": 1}, {"name": "B", "exposed": 0, "converted": 0}]},
            ["body", "variants", "1", "exposed"],
        ),
    ],
)
def test_api_evaluate_bad_input_names_the_field(api: Any, body: dict[str, Any], loc: list[str]) -> None:
    r = api.post("/api/experiments/evaluate", json=body)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["loc"] == loc


def test_api_plan_and_evaluate(api: Any) -> None:
    r = api.post("/api/experiments/plan", json={"baseline": 0.1, "mde": 0.02})
    assert r.status_code == 200 and r.json()["per_variant"] == 3835
    r = api.post("/api/experiments/plan", json={"baseline": 0.1, "mde": -1})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["body", "mde"]
    body = {
        "variants": [{"name": "A", "exposed": 1000, "converted": 100}, {"name": "B", "exposed": 1000, "converted": 130}]
    }
    out = api.post("/api/experiments/evaluate", json=body).json()
    assert out["winner"] == "B" and out["srm"] is False
    assert api.get("/api/experiments/nope.step").status_code == 404


def test_a_conversion_experiment_without_its_event_is_refused_at_publish() -> None:
    bad = PROMO.replace("      event: Order Completed\n", "")
    with pytest.raises(JourneyError) as exc:
        parse_journey(bad)
    paths = [d["loc"] for d in exc.value.details()]
    assert any("experiment" in loc and "event" in loc for loc in paths), paths


def test_the_background_reviewer_rolls_out_once(container: Container, clock: ManualClock) -> None:
    from tidings.application.analytics.reviewer import ExperimentReviewer
    from tidings.store.measurement import SqlAnalyticsStore

    run_promo(container, clock)
    reviewer = ExperimentReviewer(partial(SqlAnalyticsStore.writing, container.engine), clock)
    assert reviewer.run_once() == 1
    assert reviewer.run_once() == 0
    with container.engine.connect() as conn:
        [row] = conn.execute(sa.select(schema.experiment_decisions)).mappings().all()
    assert (row["key"], row["winner"], row["decided_by"]) == ("promo.offer", "B", None)
    assert row["verdict"].startswith("B wins on Order Completed")
