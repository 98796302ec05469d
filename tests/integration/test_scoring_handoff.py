"""Lead scoring end to end: events through the API move a score, crossing the MQL threshold
starts a hand-off journey (task for sales), decay on the test clock lowers the score, and bad
documents are refused with line and rule id (API and CLI)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner

from tests.integration.journey_support import drain
from tidings.bootstrap import Container
from tidings.cli.main import app as cli
from tidings.store import schema
from tidings.worker import JourneyWorker

YAML = {"Content-Type": "application/yaml"}
MODEL = """\
key: b2b
name: B2B leads
behaviour:
  - id: pricing
    label: pricing page views
    event: Page Viewed
    where: properties.path == "/pricing"
    points: 10
    cap: {points: 30, per: 7d}
  - id: webinar
    event: webinar.attended
    points: 25
profile:
  - id: size
    label: company size 50+
    when: attributes.company_size >= 50
    points: 20
decay: {half_life: 14d}
thresholds:
  - {stage: mql, at: 60}
  - {stage: sql, at: 90}
writes_contact: true
"""
HANDOFF = """\
key: mql-handoff
name: MQL hand-off
triggers:
  - event: score.threshold_crossed
    where: properties.stage == "mql"
settings:
  allow_owned: true
steps:
  - id: call
    type: task
    title: Call a new MQL
    team: sales
    due_in: 5m
"""


def _events(api: Any, email: str, *names: tuple[str, dict[str, Any]]) -> None:
    for name, props in names:
        r = api.post(
            "/api/events",
            json={"email": email, "name": name, "properties": props, "message_id": f"{email}-{uuid.uuid4()}"},
        )
        assert r.status_code == 202, r.text


def test_events_move_the_score_and_crossing_mql_starts_the_handoff(api: Any, container: Container) -> None:
    r = api.post("/api/scoring/models", content=MODEL, headers=YAML)
    assert r.status_code == 201, r.text
    assert (r.json()["key"], r.json()["version"]) == ("b2b", 1)
    assert api.post("/api/journeys?publish=true", content=HANDOFF, headers=YAML).status_code in (200, 201)
    r = api.post("/api/contacts", json={"email": "lead@corp.test", "attributes": {"company_size": 200}})
    assert r.status_code in (200, 201), r.text
    cid = r.json()["id"]
    pricing = ("Page Viewed", {"path": "/pricing"})
    _events(api, "lead@corp.test", pricing, pricing, pricing, pricing, ("Page Viewed", {"path": "/blog"}))
    worker = JourneyWorker(container)
    drain(worker)
    s = api.get(f"/api/contacts/{cid}/score").json()["models"][0]
    assert s["score"] == 50 and s["stage"] is None  # 3 x 10 (capped at 30) + 20 profile
    assert s["sentence"] == "50 = +30 pricing page views (3×), +20 company size 50+"
    _events(api, "lead@corp.test", ("webinar.attended", {}))
    drain(worker)
    s = api.get(f"/api/contacts/{cid}/score").json()["models"][0]
    assert s["score"] == 75 and s["stage"] == "mql"
    assert [h["delta"] for h in s["history"]] == [25, 50]
    with container.engine.connect() as conn:
        c = conn.execute(sa.select(schema.contacts).where(schema.contacts.c.id == cid)).mappings().one()
        crossed = (
            conn.execute(sa.select(schema.events.c.properties).where(schema.events.c.name == "score.threshold_crossed"))
            .scalars()
            .all()
        )
        tasks = conn.execute(sa.select(schema.outbox).where(schema.outbox.c.channel == "task")).mappings().all()
    assert (c["score"], c["lifecycle_stage"]) == (75, "mql")
    assert crossed == [
        {"model": "b2b", "stage": "mql", "previous_stage": None, "score": 75, "threshold": 60, "direction": "up"}
    ]
    assert [t["contact_id"] for t in tasks] == [cid]  # the hand-off journey made the sales task
    # time passes: the behaviour points halve in 14 days, the stage stays (no demotion rule)
    container.clock.advance(timedelta(days=14))  # type: ignore[attr-defined]
    r = api.post("/api/scoring/decay")
    assert r.json()["changed"] == 1 and r.json()["crossings"] == []
    s = api.get(f"/api/contacts/{cid}/score").json()["models"][0]
    assert s["score"] == 47.5 and s["stage"] == "mql" and s["decay"] == -27.5
    f = api.get("/api/scoring/models/b2b/funnel").json()
    assert [(x["stage"], x["contacts"]) for x in f["stages"]] == [("lead", 0), ("mql", 1), ("sql", 0)]
    # the funnel over time: the week the contact crossed into mql, then twelve weeks of history
    crossed_on = (container.clock.now() - timedelta(days=14)).date()
    r = api.get("/api/scoring/models/b2b/funnel/over-time", params={"over": "week"})
    assert r.status_code == 200, r.text
    weeks = r.json()["periods"]
    assert len(weeks) in (12, 13) and r.json()["entered"] == {"lead": 0, "mql": 1, "sql": 0}
    [week] = [w for w in weeks if any(x["entered"] for x in w["stages"])]
    assert week["start"] == (crossed_on - timedelta(days=crossed_on.weekday())).isoformat()
    assert [(x["stage"], x["entered"], x["to_next"]) for x in week["stages"]] == [
        ("lead", 0, None), ("mql", 1, 0.0), ("sql", 0, None)
    ]
    bad = api.get("/api/scoring/models/b2b/funnel/over-time", params={"from": "2026-03-02", "to": "2026-03-01"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["loc"] == ["query", "to"]
    assert api.get("/api/scoring/models/nope/funnel/over-time").status_code == 404
    env = {"TIDINGS_DATABASE_URL": container.engine.url.render_as_string(hide_password=False)}
    day = ["--from", crossed_on.isoformat(), "--to", crossed_on.isoformat()]
    res = CliRunner().invoke(cli, ["scoring", "funnel-over-time", "b2b", "--over", "day", *day, "--json"], env=env)
    assert res.exit_code == 0, res.output
    assert [x["entered"] for x in json.loads(res.output)["periods"][0]["stages"]] == [0, 1, 0]
    res = CliRunner().invoke(cli, ["scoring", "funnel-over-time", "b2b", "--from", "March"], env=env)
    assert res.exit_code == 1 and "--from" in res.output
    assert api.post("/api/scoring/funnel/rebuild").json() == {"counted": {"b2b": 1}}
    assert api.get("/api/scoring/models/b2b/funnel/over-time").json()["periods"] == weeks


def test_bad_documents_are_refused_with_line_and_rule(api: Any, container: Container, tmp_path: Path) -> None:
    bad = MODEL.replace("points: 25", "points: 0").replace("at: 90", "at: 50")
    r = api.post("/api/scoring/models", content=bad, headers=YAML)
    assert r.status_code == 422
    details = r.json()["error"]["details"] if "error" in r.json() else r.json()["details"]
    assert {(d["line"], d["rule"], tuple(d["loc"])) for d in details} == {
        (12, "webinar", ("body", "behaviour", "1", "points")),
        (19, None, ("body", "thresholds")),
    }
    assert api.get("/api/scoring/models").json()["items"] == []
    f = tmp_path / "bad.yaml"
    f.write_text(bad)
    res = CliRunner().invoke(
        cli, ["scoring", "validate", str(f)], env={"TIDINGS_DATABASE_URL": str(container.engine.url)}
    )
    assert res.exit_code == 1
    assert "line 12" in res.output and "webinar" in res.output


def test_pause_and_resume_over_the_api(api: Any, container: Container) -> None:
    assert api.post("/api/scoring/models", content=MODEL, headers=YAML).status_code == 201
    assert api.post("/api/scoring/models/b2b/pause").json()["active"] is False
    assert api.post("/api/scoring/models/b2b/resume").json()["active"] is True
    assert api.post("/api/scoring/models/nope/pause").status_code == 404
