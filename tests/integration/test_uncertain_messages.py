"""Uncertain messages: listed (API, CLI, web) with provider and age; marked sent or resent, in bulk,
atomically and once — a message that was sent is never queued again."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner

from tests.integration.channels_helpers import add_contact, add_outbox, events, outbox_row
from tests.web_support import web_client
from tidings.bootstrap import Container
from tidings.cli.main import app
from tidings.store import schema


def uncertain(container: Container, n: int) -> list[int]:
    now = container.clock.now()
    cid = add_contact(container.engine, now, email="maybe@example.org")
    ids = [
        add_outbox(container.engine, now, cid, status="uncertain", handed_off_at=now - timedelta(minutes=5),
                   error="uncertain: the sender stopped while handing it to the provider")
        for _ in range(n)
    ]
    with container.engine.begin() as conn:
        conn.execute(sa.insert(schema.traces), [
            {"contact_id": cid, "stimulus": "delivery", "action": "message.uncertain", "outbox_id": i,
             "detail": {"provider": "smtp"}, "at": now} for i in ids
        ])
    return ids


def test_api_lists_and_resolves_in_bulk(container: Container, api: Any) -> None:
    a, b, c = uncertain(container, 3)
    sent = add_outbox(container.engine, container.clock.now(), outbox_row(container.engine, a)["contact_id"],
                      status="sent", key="already-sent")
    listed = api.get("/api/messages/uncertain").json()
    assert listed["total"] == 3 and [i["id"] for i in listed["items"]] == [a, b, c]
    first = listed["items"][0]
    assert (first["channel"], first["provider"], first["contact"], first["age_s"]) == (
        "email", "smtp", "maybe@example.org", 300)
    assert first["error"].startswith("uncertain")
    assert "twice" in listed["warnings"]["resend"]

    r = api.post("/api/messages/uncertain/resolve", json={"ids": [a, sent, 999], "action": "mark_sent"})
    assert r.status_code == 200, r.text
    assert r.json()["done"] == [a] and r.json()["skipped"] == {str(sent): "sent", "999": "missing"}
    assert outbox_row(container.engine, a)["status"] == "sent"
    assert [e["properties"]["message_id"] for e in events(container.engine, "message.sent")] == [a]

    r = api.post("/api/messages/uncertain/resolve", json={"all": True, "action": "resend"})
    assert r.json()["done"] == [b, c] and "twice" in r.json()["warning"]
    assert {outbox_row(container.engine, i)["status"] for i in (b, c)} == {"pending"}
    # the same decision again changes nothing: each row was taken once
    again = api.post("/api/messages/uncertain/resolve", json={"ids": [b], "action": "resend"}).json()
    assert again["done"] == [] and again["skipped"] == {str(b): "pending"}
    assert outbox_row(container.engine, sent)["status"] == "sent"
    with container.engine.connect() as conn:
        actions = conn.execute(sa.select(schema.traces.c.action).where(schema.traces.c.outbox_id == b)).scalars()
        assert list(actions) == ["message.uncertain", "message.resent"]

    for bad in ({"action": "resend"}, {"ids": [b], "all": True, "action": "resend"},
                {"ids": [b], "action": "delete"}, {"ids": [], "action": "resend"}):
        assert api.post("/api/messages/uncertain/resolve", json=bad).status_code == 422, bad


def test_one_message_resend_is_atomic_and_refuses_sent_ones(container: Container, api: Any) -> None:
    (a,) = uncertain(container, 1)
    sent = add_outbox(container.engine, container.clock.now(), outbox_row(container.engine, a)["contact_id"],
                      status="sent", key="sent-one")
    assert api.post(f"/api/messages/{a}/resend").json() == {"id": a, "status": "pending"}
    second = api.post(f"/api/messages/{a}/resend")  # a double click: pending now, not queued twice
    assert second.status_code == 409 and "pending" in second.json()["error"]["message"]
    assert api.post(f"/api/messages/{sent}/resend").status_code == 409
    assert api.post("/api/messages/99999/resend").status_code == 404
    assert outbox_row(container.engine, a)["handed_off_at"] is None


def test_cli_lists_warns_and_asks_before_deciding(container: Container, db_url: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    a, b = uncertain(container, 2)
    runner = CliRunner()
    listed = runner.invoke(app, ["messages", "uncertain", "--json"])
    assert listed.exit_code == 0, listed.output
    items = json.loads(listed.stdout)["items"]
    assert [(i["id"], i["channel"], i["provider"], i["contact"]) for i in items] == [
        (a, "email", "smtp", "maybe@example.org"), (b, "email", "smtp", "maybe@example.org")]
    table = runner.invoke(app, ["messages", "uncertain"])
    assert "email/smtp" in table.output and "maybe@example.org" in table.output

    no = runner.invoke(app, ["messages", "resend", "--all"], input="n\n")
    assert no.exit_code == 1 and "twice" in no.output
    assert outbox_row(container.engine, a)["status"] == "uncertain"
    assert runner.invoke(app, ["messages", "resend"]).exit_code == 1  # neither ids nor --all
    done = runner.invoke(app, ["messages", "mark-sent", str(a), "--yes"])
    assert done.exit_code == 0, done.output
    assert outbox_row(container.engine, a)["status"] == "sent"
    rest = runner.invoke(app, ["messages", "resend", "--all", "--yes"])
    assert rest.exit_code == 0 and outbox_row(container.engine, b)["status"] == "pending"
    left = runner.invoke(app, ["messages", "resend", str(a), "--yes"])
    assert left.exit_code == 1 and f"{a} (sent)" in left.output


def test_web_page_lists_and_admins_decide(container: Container) -> None:
    a, b, c = uncertain(container, 3)
    with web_client(container, "viewer") as (client, token):
        html = client.get("/messages/uncertain").text
        assert f"uncertain-{a}" in html and "Only an admin can decide" in html and 'name="ids"' not in html
        r = client.post("/messages/uncertain", data={"csrf_token": token, "ids": [a], "action": "resend"})
        assert r.status_code == 403
    with web_client(container, "admin") as (client, token):
        html = client.get("/messages/uncertain").text
        assert 'data-nav="uncertain"' in html and "maybe@example.org" in html and "smtp" in html
        assert "twice" in html and 'name="ids"' in html
        no_csrf = client.post("/messages/uncertain", data={"ids": [a], "action": "resend"})
        assert no_csrf.status_code == 403
        r = client.post("/messages/uncertain", data={"csrf_token": token, "ids": [a, b], "action": "mark_sent"})
        assert "2 message(s) marked as sent" in r.text
        r = client.post("/messages/uncertain", data={"csrf_token": token, "scope": "all", "action": "resend"})
        assert "1 message(s) queued to be sent again" in r.text and "Nothing uncertain" in r.text
    assert [outbox_row(container.engine, i)["status"] for i in (a, b, c)] == ["sent", "sent", "pending"]
