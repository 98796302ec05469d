"""/api/segments: CRUD, preview before saving, members paging, history, structured 422s."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from tidings.store import schema

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def seed(engine: sa.Engine, n: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(schema.contacts),
            [
                {
                    "email": f"c{i}@x.test",
                    "attributes": {"n": i},
                    "score": i,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in range(n)
            ],
        )


def test_segment_lifecycle(api: Any, engine: sa.Engine) -> None:
    seed(engine, 30)
    r = api.post("/api/segments/preview", json={"rule": "attributes.n >= 5 and attributes.ghost not exists"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == 25 and len(body["sample"]) == 20
    assert body["warnings"] == ["no contact has the attribute 'ghost'"]
    assert api.get("/api/segments").json()["items"] == []

    r = api.post(
        "/api/segments",
        json={"key": "big", "name": "Big", "rule": {"field": "score", "op": "gte", "value": 10}},
    )
    assert r.status_code == 201, r.text
    assert r.json()["members"] == 20 and r.json()["rule_text"] == "score >= 10"
    assert api.post("/api/segments", json={"key": "big", "name": "x", "rule": "score > 1"}).status_code == 409

    page1 = api.get("/api/segments/big/members", params={"limit": 15}).json()
    assert len(page1["items"]) == 15 and page1["total"] == 20
    page2 = api.get("/api/segments/big/members", params={"limit": 15, "after": page1["next_after"]}).json()
    assert len(page2["items"]) == 5 and page2["next_after"] is None
    assert {x["id"] for x in page1["items"]} | {x["id"] for x in page2["items"]} == set(range(11, 31))

    r = api.patch("/api/segments/big", json={"rule": "score >= 25"})
    assert r.status_code == 200 and r.json()["members"] == 5
    hist = api.get("/api/segments/big/history", params={"contact_id": 11}).json()["items"]
    assert len(hist) == 1 and hist[0]["exited_at"] is not None

    assert api.get("/api/segments/big").json()["key"] == "big"
    assert [s["key"] for s in api.get("/api/segments").json()["items"]] == ["big"]
    assert api.delete("/api/segments/big").status_code == 204
    assert api.get("/api/segments/big").status_code == 404


def test_invalid_rules_are_422_with_path_and_column(api: Any) -> None:
    r = api.post("/api/segments", json={"key": "k", "name": "K", "rule": 'tag("a") and score >> 3'})
    assert r.status_code == 422
    detail = r.json()["error"]["details"][0]
    assert detail["loc"] == ["body", "rule"] and detail["column"] == 21
    r = api.post(
        "/api/segments",
        json={
            "key": "k",
            "name": "K",
            "rule": {"any": [{"tag": "a"}, {"event": "buy", "agg": "avg", "op": "gt"}]},
        },
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["loc"] == ["body", "rule", "any", 1, "agg"]
    r = api.post("/api/segments/preview", json={"rule": 'purchase.count(30d) >= "two"'})
    assert r.status_code == 422 and "expected a number" in r.json()["error"]["message"]
    assert api.get("/api/segments").json()["items"] == []
