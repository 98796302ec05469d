"""The automation audit end to end: a planted fixture with one of every problem, the shipped
recipes (only the documented findings), an empty database; CLI, API and web."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.integration.audit_fixture import SPRAWL, plant
from tests.web_support import web_client
from tidings.application.control import audit
from tidings.application.recipes import recipes as rc
from tidings.bootstrap import Container
from tidings.cli.main import app
from tidings.clock import ManualClock
from tidings.store import audit_sql


def _report(container: Container) -> dict[str, Any]:
    with container.engine.connect() as conn:
        return audit.run(conn, container.clock.now(), audit_sql, scenarios=rc.recipe_scenarios).to_dict()


def _by_kind(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for f in report["findings"]:
        out.setdefault(f["kind"], []).append(f)
    return out


def test_empty_database_is_an_empty_report(container: Container, api: Any) -> None:
    report = _report(container)
    assert report["findings"] == [] and report["journeys"] == []
    assert report["summary"]["findings"] == 0
    r = api.get("/api/audit")
    assert r.status_code == 200 and r.json()["findings"] == []


def test_audit_finds_every_planted_problem(container: Container, clock: ManualClock) -> None:
    plant(container, clock)
    kinds = _by_kind(_report(container))

    sprawl = kinds["tag_sprawl"][0]
    assert sprawl["detail"]["tags"] > SPRAWL and "tag:interest-000" in sprawl["subjects"]

    loop = kinds["journey_loop"]
    assert len(loop) == 1 and set(loop[0]["subjects"]) == {"journey:ping", "journey:pong"}
    assert loop[0]["detail"]["cycle"] in (["ping", "pong", "ping"], ["pong", "ping", "pong"])

    chain = [f for f in kinds["journey_chain"] if f["subjects"][0] == "journey:c1"]
    assert chain and chain[0]["detail"] == {"depth": 4, "chain": ["c1", "c2", "c3", "c4"]}

    dead = kinds["condition_unsatisfiable"]
    assert [f["subjects"] for f in dead] == [["journey:dead", "step:dead/check"]]
    assert "branch 0" in dead[0]["message"] and "never meet" in dead[0]["message"]

    unset = {f["subjects"][0] for f in kinds["tag_unset"]}
    assert "tag:loyal-custmer" in unset

    dup = [f for f in kinds["tag_near_duplicate"] if "tag:vip-customer" in f["subjects"]]
    assert dup and "tag:VIP Customer" in dup[0]["subjects"]

    overlap = kinds["contacts_in_several_journeys"]
    assert overlap[0]["subjects"] == ["journey:promo-a", "journey:promo-b"]
    assert overlap[0]["detail"]["contacts"] == 3
    entry = {tuple(f["subjects"]) for f in kinds["entry_overlap"]}
    assert ("journey:promo-a", "journey:promo-b") in entry

    idle = kinds["journey_idle"]
    assert [f["subjects"] for f in idle] == [["journey:old-offer"]]
    assert "60 days" in idle[0]["message"]

    typo = [f for f in kinds["trigger_unknown_name"] if f["subjects"][0] == "journey:webinar-typo"]
    assert typo and typo[0]["detail"]["did_you_mean"][0] == "webinar.registered"
    assert "did you mean 'webinar.registered'" in typo[0]["suggestion"]

    ranking = {j["key"]: j for j in _report(container)["journeys"]}
    assert ranking["old-offer"]["suggestion"] == "retire"
    assert ranking["promo-a"]["suggestion"] == "merge"
    assert ranking["promo-a"]["value"]["enrolments"] == 3
    assert ranking["c1"]["complexity"]["chain_depth"] == 3


#: what the audit says about the shipped recipes, installed together on a fresh database;
#: docs/control.md ("Audit") lists and explains each one.
DOCUMENTED = {
    ("entry_overlap", ("journey:post-purchase-education", "journey:repeat-purchase")),
    ("journey_value", ("journey:post-purchase-education",)),
    ("journey_value", ("journey:repeat-purchase",)),
    ("tag_unread", ("tag:social-engaged", "journey:social-mention")),
    ("tag_unset", ("tag:timed-offer", "journey:timed-offer")),
}


def test_shipped_recipes_have_only_the_documented_findings(container: Container) -> None:
    assert all(x["installed"] for x in rc.install_all(container))
    report = _report(container)
    assert {(f["kind"], tuple(f["subjects"])) for f in report["findings"]} == DOCUMENTED
    assert len(report["journeys"]) == len(rc.names())


def test_audit_cli_api_and_web(
    container: Container, clock: ManualClock, db_url: str, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    plant(container, clock)
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    run = CliRunner().invoke
    res = run(app, ["audit", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert {"journey_loop", "tag_sprawl", "journey_idle"} <= {f["kind"] for f in data["findings"]}
    assert set(data["findings"][0]) >= {"kind", "severity", "subjects", "message", "suggestion"}
    res = run(app, ["audit"])
    assert res.exit_code == 0 and "journey_loop" in res.output and "complexity against value" in res.output
    res = run(app, ["audit", "--tag-limit", "0"])
    assert res.exit_code != 0 and "tag_limit" in res.output
    # a higher tag limit: no sprawl
    res = run(app, ["audit", "--json", "--tag-limit", "500"])
    assert "tag_sprawl" not in {f["kind"] for f in json.loads(res.output)["findings"]}

    r = api.get("/api/audit", params={"idle_days": 90})
    assert r.status_code == 200
    assert "journey_idle" not in {f["kind"] for f in r.json()["findings"]}
    bad = api.get("/api/audit", params={"chain_depth": 0})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["loc"][-1] == "chain_depth"
    assert "/api/audit" in api.get("/openapi.json").json()["paths"]

    with web_client(container, "viewer") as (client, _):
        home = client.get("/")
        assert 'href="/audit"' in home.text
        page = client.get("/audit")
        assert page.status_code == 200
        assert 'data-kind="journey_loop"' in page.text and 'href="/journeys/ping"' in page.text
        assert 'id="ranking"' in page.text
