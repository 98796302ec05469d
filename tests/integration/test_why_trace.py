"""`tidings why` and GET /api/contacts/{id}/why answer from the trace."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from tests.integration.journey_support import add_contact, add_event, drain, outbox
from tidings.bootstrap import Container
from tidings.clock import ManualClock
from tidings.worker import JourneyWorker

VIP = """
key: vip-welcome
triggers:
  - event: signed_up
steps:
  - id: vip-check
    type: branch
    branches:
      - when: {tag: vip}
        next: vip-mail
    else: plain-mail
  - id: vip-mail
    type: send
    channel: email
    template: vip-hello
    next: tag-it
  - id: plain-mail
    type: send
    channel: email
    template: plain-hello
  - id: tag-it
    type: update_contact
    add_tags: [welcomed]
"""


def _setup(api: Any, container: Container, clock: ManualClock) -> tuple[int, int]:
    assert (
        api.post(
            "/api/journeys?publish=true", content=VIP, headers={"Content-Type": "application/yaml"}
        ).status_code
        == 201
    )
    from tidings.store import schema

    with container.engine.begin() as conn:
        cid = add_contact(conn, clock.now(), "vip@example.org")
        conn.execute(schema.contact_tags.insert().values(contact_id=cid, tag="vip", created_at=clock.now()))
        add_event(conn, cid, "signed_up", clock.now(), plan="gold")
    drain(JourneyWorker(container))
    with container.engine.connect() as conn:
        [msg] = outbox(conn, cid)
    return cid, int(msg["id"])


def test_why_api_explains_each_message_and_change(api: Any, container: Container, clock: ManualClock) -> None:
    cid, mid = _setup(api, container, clock)
    r = api.get(f"/api/contacts/{cid}/why")
    assert r.status_code == 200, r.text
    body = r.json()
    [m] = body["messages"]
    assert (m["message_id"], m["journey"], m["version"], m["step"], m["template"], m["stimulus"]) == (
        mid,
        "vip-welcome",
        1,
        "vip-mail",
        "vip-hello",
        "entry",
    )
    actions = [c["action"] for c in body["changes"]]
    assert "entered" in actions and "update_contact" in actions and "ended" in actions
    assert body["enrollments"][0]["end_reason"] == "completed"
    one = api.get(f"/api/contacts/{cid}/why", params={"message_id": mid}).json()["message"]
    path = one["path"]
    entered = next(p for p in path if p["action"] == "entered")
    assert entered["detail"]["event"]["name"] == "signed_up"
    branch = next(p for p in path if p["step"] == "vip-check")
    assert "True" in str(branch["detail"]) or "true" in str(branch["detail"]).lower()
    assert path[-1]["message_id"] == mid and "vip-welcome" in one["explanation"]
    assert api.get(f"/api/contacts/{cid}/why", params={"message_id": 999}).status_code == 404
    assert api.get("/api/contacts/999/why").status_code == 404


def test_why_cli(
    api: Any, container: Container, clock: ManualClock, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid, mid = _setup(api, container, clock)
    from tidings.cli.main import app

    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    runner = CliRunner()
    res = runner.invoke(app, ["why", str(cid)])
    assert res.exit_code == 0, res.output
    assert "vip-welcome" in res.output and "vip-hello" in res.output and "update_contact" in res.output
    res = runner.invoke(app, ["why", str(cid), "--message", str(mid)])
    assert res.exit_code == 0, res.output
    assert "vip-check" in res.output and "signed_up" in res.output
    res = runner.invoke(app, ["why", str(cid), "--message", "4242"])
    assert res.exit_code != 0 and "no message" in res.output
