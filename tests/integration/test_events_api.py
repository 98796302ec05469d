"""Events API: one and batch, idempotency, all-or-nothing batches, timeline."""

from __future__ import annotations

import gzip
from datetime import timedelta
from typing import Any

import orjson
import sqlalchemy as sa

from tidings.store import schema


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_one_event_creates_contact_and_value(api: Any, engine: sa.Engine) -> None:
    r = api.post(
        "/api/events",
        json={
            "external_id": "u1",
            "name": "order.completed",
            "properties": {"revenue": 42.5, "sku": "A"},
            "message_id": "m-1",
            "timestamp": "2026-03-01T08:00:00+01:00",
        },
    )
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 1, "duplicates": [], "message_id": "m-1"}
    e = schema.events
    with engine.connect() as conn:
        row = conn.execute(sa.select(e).where(e.c.message_id == "m-1")).mappings().one()
        contact = (
            conn.execute(sa.select(schema.contacts).where(schema.contacts.c.id == row["contact_id"]))
            .mappings()
            .one()
        )
    assert row["value"] == 42.5
    assert row["occurred_at"].isoformat() == "2026-03-01T07:00:00+00:00"
    assert contact["external_id"] == "u1" and contact["anonymous"] is False
    # a retry is idempotent and reported as a duplicate
    r = api.post("/api/events", json={"external_id": "u1", "name": "order.completed", "message_id": "m-1"})
    assert r.json()["accepted"] == 0 and r.json()["duplicates"] == ["m-1"]
    assert count(engine, e) == 2  # the event + contact.updated (created)


def test_event_by_email_and_phone(api: Any) -> None:
    r = api.post("/api/events", json={"email": "Dee@Example.com", "name": "signup"})
    assert r.status_code == 202
    r = api.post("/api/events", json={"email": "dee@example.com", "name": "login"})
    got = api.get("/api/contacts", params={"q": "dee@example.com"}).json()["items"]
    assert len(got) == 1
    r = api.post("/api/events", json={"email": "bad@", "name": "x"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["body", "email"]
    r = api.post("/api/events", json={"phone": "+1 415 555 0132", "name": "called"})
    assert r.status_code == 202
    r = api.post("/api/events", json={"name": "orphan"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["body", "contact_id"]
    r = api.post("/api/events", json={"contact_id": 987654, "name": "x"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["body", "contact_id"]


def test_batch_is_idempotent(api: Any, engine: sa.Engine) -> None:
    batch = [{"external_id": f"u{i % 5}", "name": "viewed", "message_id": f"b-{i}"} for i in range(50)]
    r = api.post("/api/events/batch", json={"batch": batch})
    assert r.status_code == 202 and r.json() == {"accepted": 50, "duplicates": []}
    before = count(engine, schema.events)
    r = api.post(
        "/api/events/batch",
        json={"batch": batch + [{"external_id": "u9", "name": "new", "message_id": "b-new"}]},
    )
    assert r.json()["accepted"] == 1
    assert sorted(r.json()["duplicates"]) == sorted(f"b-{i}" for i in range(50))
    assert count(engine, schema.events) == before + 2  # b-new + u9's creation
    # the same message id twice in one batch is stored once
    r = api.post(
        "/api/events/batch", json={"batch": [{"external_id": "u1", "name": "x", "message_id": "dup"}] * 2}
    )
    assert r.json() == {"accepted": 1, "duplicates": ["dup"]}


def test_batch_with_bad_items_rejects_all(api: Any, engine: sa.Engine) -> None:
    """README, 'What a batch with bad items does': 422 naming every bad item, nothing stored."""
    before = count(engine, schema.events)
    batch: list[dict[str, Any]] = [
        {"external_id": "ok", "name": "fine", "message_id": f"g{i}"} for i in range(5)
    ]
    batch[3]["properties"] = "not an object"
    batch[4]["email"] = "nope"
    batch.append({"name": ""})
    r = api.post("/api/events/batch", json={"batch": batch})
    assert r.status_code == 422, r.text
    locs = [d["loc"] for d in r.json()["error"]["details"]]
    assert ["body", "batch", 3, "properties"] in locs
    assert ["body", "batch", 5, "name"] in locs
    assert count(engine, schema.events) == before
    assert count(engine, schema.contacts) == 0
    # after fixing, the second pass finds 4 missing... (second-stage check: email)
    batch[3]["properties"] = {}
    batch.pop()
    r = api.post("/api/events/batch", json={"batch": batch})
    assert r.status_code == 422
    assert [d["loc"] for d in r.json()["error"]["details"]] == [["body", "batch", 4, "email"]]
    assert count(engine, schema.events) == before


def test_bad_bodies(api: Any) -> None:
    r = api.post("/api/events/batch", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    r = api.post("/api/events/batch", content=b"", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = api.post("/api/events/batch", json={"batch": "x"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["body", "batch"]
    r = api.post("/api/events/batch", json=[1, 2])
    assert r.status_code == 422
    r = api.post("/api/events", json={"external_id": "u", "name": "x", "timestamp": "yesterday"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["body", "timestamp"]
    r = api.post("/api/events", json={"external_id": "u", "name": "x", "colour": "red"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["body", "colour"]
    big = {"batch": [{"external_id": "u", "name": "x"}] * 2001}
    r = api.post("/api/events/batch", json=big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "batch_too_large"
    r = api.post(
        "/api/events", content=b"x" * (5 * 1024 * 1024), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    r = api.post(
        "/api/events/batch",
        content=gzip.compress(orjson.dumps({"batch": [{"external_id": "gz", "name": "zipped"}]})),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 202 and r.json()["accepted"] == 1
    r = api.post("/api/events/batch", content=b"not gzip", headers={"Content-Encoding": "gzip"})
    assert r.status_code == 400
    r = api.post("/api/events/batch", content=b"{}", headers={"Content-Encoding": "br"})
    assert r.status_code == 415


def test_timeline_newest_first_paginated(api: Any, clock: Any) -> None:
    cid = api.post("/api/contacts", json={"external_id": "t1"}).json()["id"]
    for i in range(5):
        api.post("/api/events", json={"contact_id": cid, "name": f"e{i}"})
        clock.advance(timedelta(minutes=1))
    got: list[str] = []
    cursor = None
    while True:
        page = api.get(
            f"/api/contacts/{cid}/events", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200
        got += [e["name"] for e in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert got == ["e4", "e3", "e2", "e1", "e0", "contact.updated"]
    only = api.get(f"/api/contacts/{cid}/events", params={"name": "e2"}).json()["items"]
    assert [e["name"] for e in only] == ["e2"]
    assert api.get("/api/contacts/424242/events").status_code == 404
