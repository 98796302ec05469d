"""The content plan over HTTP and from the CLI: statuses computed from real templates and journeys,
the gap report, the calendar as JSON, CSV and a signed iCalendar feed parsed back."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest
from typer.testing import CliRunner

from tidings.bootstrap import Container
from tidings.cli.main import app
from tidings.clock import ManualClock

YAML = {"Content-Type": "application/yaml"}
JOURNEY = """
key: welcome
name: Welcome
triggers:
  - event: signed_up
steps:
  - id: hello
    type: send
    channel: email
    template: welcome-1
"""
DRAFT = JOURNEY.replace("key: welcome", "key: later").replace("welcome-1", "promo-sms")


def _seed(api: Any) -> None:
    assert api.put("/api/templates/welcome-1", json={"subject": "Hi", "body": "<p>Hi</p>"}).status_code == 200
    assert api.put("/api/templates/promo-mjml", json={"subject": "Sale", "format": "mjml",
                                                      "body": "<mjml><mj-body></mj-body></mjml>"}).status_code == 200
    assert api.put("/api/templates/promo-sms", json={"channel": "sms", "format": "text",
                                                     "body": "Sale today"}).status_code == 200
    assert api.put("/api/templates/unused", json={"subject": "Hi", "body": "<p>x</p>"}).status_code == 200
    assert api.post("/api/journeys?publish=true", content=JOURNEY, headers=YAML).status_code in (200, 201)
    assert api.post("/api/journeys", content=DRAFT, headers=YAML).status_code in (200, 201)


def _cell(persona: str, stage: str, question: str, **values: Any) -> dict[str, Any]:
    return {"persona": persona, "stage": stage, "question": question, **values}


def test_api_plan_cells_gaps_and_calendar(api: Any, container: Container, clock: ManualClock) -> None:
    _seed(api)
    plan = api.get("/api/content-plan").json()
    assert len(plan["personas"]) == len(plan["stages"]) == len(plan["questions"]) == 5 and plan["cells"] == []
    today = clock.now().date()
    cells = [
        _cell("founder", "awareness", "why", templates=["welcome-1"], channel="email", owner="ana@example.com",
              publish_on=str(today - timedelta(days=1)), review_on=str(today + timedelta(days=90))),
        _cell("founder", "awareness", "how", templates=["promo-mjml"], channel="sms"),
        _cell("founder", "decision", "cost", templates=["promo-sms"], channel="sms"),
        _cell("founder", "decision", "next", templates=["unused"], channel="email"),
        _cell("buyer", "decision", "proof", templates=["ghost"]),
    ]
    statuses = [api.put("/api/content-plan/cells", json=c).json()["status"] for c in cells]
    assert statuses == ["live", "wrong_format", "draft", "unused", "missing"]
    first = api.put("/api/content-plan/cells", json=cells[0]).json()
    assert first["journeys"] == [{"journey": "welcome", "step": "hello", "template": "welcome-1", "published": True}]
    bad = api.put("/api/content-plan/cells", json=_cell("nobody", "awareness", "why", channel="fax"))
    assert bad.status_code == 422
    assert {tuple(d["loc"]) for d in bad.json()["error"]["details"]} == {("body", "persona"), ("body", "channel")}

    report = api.get("/api/content-plan/gaps").json()
    assert report["size"] == 125 and sum(report["counts"].values()) == 125
    assert report["counts"]["live"] == 1 and report["counts"]["missing"] == 121
    assert len(report["gaps"]) == 124
    only = api.get("/api/content-plan/gaps?status=unused&status=draft").json()["gaps"]
    assert sorted(g["status"] for g in only) == ["draft", "unused"]
    assert api.get("/api/content-plan/gaps?status=nope").status_code == 422

    # a smaller plan: cells outside it leave the report; a bad one is refused with paths
    small = {"personas": [{"key": "founder", "name": "Founder"}], "stages": [{"key": "awareness", "name": "A"}],
             "questions": [{"key": "why", "name": "Why?"}, {"key": "how", "name": "How?"}]}
    assert api.put("/api/content-plan", json=small).status_code == 200
    assert api.get("/api/content-plan/gaps").json()["counts"] == {
        "missing": 0, "wrong_format": 1, "needs_update": 0, "draft": 0, "unused": 0, "live": 1}
    wrong = api.put("/api/content-plan", json={**small, "stages": [{"key": "Bad Key", "name": "x"}]})
    assert wrong.status_code == 422 and wrong.json()["error"]["details"][0]["loc"] == ["body", "stages", "0", "key"]

    items = api.get("/api/content-plan/calendar").json()["items"]
    assert [(i["kind"], i["owner"]) for i in items] == [("publish", "ana@example.com"), ("review", "ana@example.com")]
    csv_text = api.get("/api/content-plan/calendar.csv").text
    assert csv_text.splitlines()[0].startswith("date,kind,persona") and "welcome-1" in csv_text

    url = api.get("/api/content-plan/feed").json()["url"]
    assert url.startswith("http://testserver/api/content-plan/calendar.ics?feed=")
    path = url.removeprefix("http://testserver")
    anonymous = {"Authorization": ""}
    assert api.get("/api/content-plan/calendar.ics", headers=anonymous).status_code == 401
    ics = api.get(path, headers=anonymous)
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    events = list(icalendar.Calendar.from_ical(ics.content).walk("VEVENT"))
    assert [e.decoded("dtstart") for e in events] == [today - timedelta(days=1), today + timedelta(days=90)]
    assert str(events[0]["summary"]).startswith("Publish: Founder / A / Why?")
    assert api.get(path[:-3] + "abc", headers=anonymous).status_code == 401
    new_url = api.post("/api/content-plan/feed/rotate").json()["url"]
    assert new_url != url
    assert api.get(path, headers=anonymous).status_code == 401  # the old URL is revoked
    assert api.get(new_url.removeprefix("http://testserver"), headers=anonymous).status_code == 200

    clock.advance(timedelta(days=200))
    stale = api.get("/api/content-plan/stale?months=6").json()["items"]
    assert {t["key"] for t in stale} == {"welcome-1", "promo-mjml", "promo-sms", "unused"}
    assert api.post("/api/content-plan/reviews/welcome-1").status_code == 200
    assert api.post("/api/content-plan/reviews/ghost").status_code == 404
    assert "welcome-1" not in {t["key"] for t in api.get("/api/content-plan/stale?months=6").json()["items"]}


def test_cli_plan_cell_gaps_calendar_stale(api: Any, container: Container, db_url: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _seed(api)
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    run = CliRunner().invoke
    shown = run(app, ["content", "plan", "show"])
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.output)
    doc["review_months"] = 120  # the CLI reads the system clock, the seeding the test clock
    doc["cells"] = [_cell("founder", "awareness", "why", templates=["welcome-1"], channel="email",
                          owner="ana@example.com", publish_on="2030-01-15")]
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(json.dumps(doc))
    res = run(app, ["content", "plan", "set", str(plan_file)])
    assert res.exit_code == 0 and "125 cells" in res.output, res.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**doc, "review_months": 0}))
    res = run(app, ["content", "plan", "set", str(bad)])
    assert res.exit_code == 1 and "review_months" in res.output
    cell = tmp_path / "cell.yaml"
    cell.write_text("persona: buyer\nstage: decision\nquestion: cost\ntemplates: [unused]\nchannel: email\n")
    assert run(app, ["content", "cell", str(cell)]).exit_code == 0
    res = run(app, ["content", "gaps", "--json"])
    assert res.exit_code == 0
    report = json.loads(res.output)
    assert (report["counts"]["draft"], report["counts"]["unused"], report["counts"]["missing"]) == (1, 1, 123), report
    res = run(app, ["content", "gaps"])
    assert res.exit_code == 0 and "no journey sends 'unused'" in res.output
    res = run(app, ["content", "gaps", "--json", "--status", "unused", "--status", "draft"])
    assert sorted(g["status"] for g in json.loads(res.output)["gaps"]) == ["draft", "unused"]
    res = run(app, ["content", "gaps", "--status", "unused"])
    assert "no journey sends 'unused'" in res.output and "no content is linked" not in res.output
    assert run(app, ["content", "gaps", "--status", "nope"]).exit_code == 1
    ics = run(app, ["content", "calendar", "--ics"])
    assert ics.exit_code == 0
    events = list(icalendar.Calendar.from_ical(ics.stdout_bytes).walk("VEVENT"))
    assert [str(e["summary"]) for e in events] == [
        "Publish: Small-business founder / Awareness / Why should I care?"]
    res = run(app, ["content", "calendar", "--csv"])
    assert res.exit_code == 0 and "2030-01-15,publish,founder" in res.output
    assert run(app, ["content", "calendar", "--ics", "--csv"]).exit_code == 1
    assert run(app, ["content", "calendar", "--from", "soon"]).exit_code == 1
    res = run(app, ["content", "stale", "--months", "120"])
    assert res.exit_code == 0 and "every template was reviewed" in res.output
    res = run(app, ["content", "stale", "--months", "1", "--json"])
    assert res.exit_code == 0 and "welcome-1" in {t["key"] for t in json.loads(res.output)}
    assert run(app, ["content", "review", "ghost"]).exit_code == 1
    assert run(app, ["content", "review", "unused", "--by", "ana"]).exit_code == 0
    res = run(app, ["content", "feed-url"])
    assert res.exit_code == 0 and "/api/content-plan/calendar.ics?feed=" in res.output
