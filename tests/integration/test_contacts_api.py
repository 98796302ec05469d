"""Contacts REST API on the test backend: create, upsert, get, patch, list, delete, consent, events."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tidings.application.access.keys import create_key
from tidings.store import schema


def names(engine: sa.Engine, contact_id: int) -> list[str]:
    e = schema.events
    with engine.connect() as conn:
        return list(
            conn.execute(sa.select(e.c.name).where(e.c.contact_id == contact_id).order_by(e.c.id)).scalars()
        )


def test_create_get_and_normalise(api: Any, engine: sa.Engine) -> None:
    r = api.post(
        "/api/contacts",
        json={
            "email": " Ann.Lee@Example.COM ",
            "phone": "+44 20 7946 0958",
            "first_name": "Ann",
            "timezone": "europe/london",
            "locale": "en_gb",
            "attributes": {"plan": "pro"},
            "tags": ["vip", "vip"],
            "lifecycle_stage": "lead",
            "owner": "sam@shop.test",
            "score": 12,
            "consent": {
                "email": {
                    "status": "granted",
                    "source": "form",
                    "proof": {
                        "form": "newsletter",
                        "text": "Send me news",
                        "ip": "203.0.113.9",
                        "user_agent": "UA",
                    },
                }
            },
        },
    )
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["email"] == "ann.lee@example.com"
    assert c["phone"] == "+442079460958"
    assert c["timezone"] == "Europe/London" and c["locale"] == "en-GB"
    assert c["tags"] == ["vip"]
    assert c["consent"]["email"]["status"] == "granted"
    assert c["consent"]["email"]["proof"]["ip"] == "203.0.113.9"
    assert api.get(f"/api/contacts/{c['id']}").json()["attributes"] == {"plan": "pro"}
    assert names(engine, c["id"]) == ["contact.updated", "tag.added", "consent.changed"]
    with engine.connect() as conn:
        queued = conn.execute(sa.select(schema.contact_queue.c.contact_id)).scalars().all()
    assert queued == [c["id"]]


def test_invalid_email_and_phone_name_the_field(api: Any) -> None:
    r = api.post("/api/contacts", json={"email": "not-an-email"})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["loc"] == ["body", "email"]
    r = api.post("/api/contacts", json={"phone": "12"})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["loc"] == ["body", "phone"]
    r = api.post("/api/contacts", json={"email": "a@b.co", "consent": {"email": {"status": "maybe"}}})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["loc"][:4] == ["body", "consent", "email", "status"]
    r = api.post("/api/contacts", json={"email": "a@b.co", "score": "high"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["body", "score"]
    r = api.post("/api/contacts", json={"email": "a@b.co", "shoe_size": 9})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["body", "shoe_size"]


def test_duplicate_create_is_409_and_upsert_updates(api: Any, engine: sa.Engine) -> None:
    cid = api.post("/api/contacts", json={"email": "bo@x.io"}).json()["id"]
    r = api.post("/api/contacts", json={"email": "BO@x.io"})
    assert r.status_code == 409
    r = api.post(
        "/api/contacts/upsert", json={"email": "bo@x.io", "first_name": "Bo", "attributes": {"a": 1}}
    )
    assert r.status_code == 200 and r.json()["id"] == cid and r.json()["created"] is False
    r = api.post("/api/contacts/upsert", json={"external_id": "u-9", "first_name": "Cy"})
    assert r.status_code == 201 and r.json()["created"] is True
    r = api.post("/api/contacts/upsert", json={"first_name": "nobody"})
    assert r.status_code == 422
    updated = [e for e in names(engine, cid) if e == "contact.updated"]
    assert len(updated) == 2


def test_patch_merges_attributes_tags_and_consent(api: Any, engine: sa.Engine) -> None:
    cid = api.post(
        "/api/contacts",
        json={"email": "cy@x.io", "attributes": {"a": 1, "b": {"x": 1}}, "tags": ["t1", "t2"]},
    ).json()["id"]
    r = api.patch(
        f"/api/contacts/{cid}",
        json={
            "attributes": {"a": None, "b": {"y": 2}, "c": "new"},
            "tags_add": ["t3"],
            "tags_remove": ["t1"],
            "lifecycle_stage": "customer",
            "consent": {"sms": {"status": "denied"}},
        },
    )
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["attributes"] == {"b": {"x": 1, "y": 2}, "c": "new"}
    assert c["tags"] == ["t2", "t3"]
    assert c["lifecycle_stage"] == "customer"
    assert c["consent"]["sms"]["status"] == "denied"
    e = schema.events
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(e.c.name, e.c.properties).where(e.c.contact_id == cid).order_by(e.c.id)
        ).all()
    last = [r for r in rows if r.name == "contact.updated"][-1].properties
    assert last["changed"]["lifecycle_stage"] == {"from": None, "to": "customer"}
    assert last["changed"]["attributes.a"] == {"from": 1, "to": None}
    assert {"tag.removed", "consent.changed"} <= {r.name for r in rows}
    # a PATCH that changes nothing records nothing
    before = len(rows)
    api.patch(f"/api/contacts/{cid}", json={"lifecycle_stage": "customer", "tags_add": ["t3"]})
    assert len(names(engine, cid)) == before
    assert api.patch("/api/contacts/999999", json={"first_name": "x"}).status_code == 404


def test_patch_email_taken_is_conflict(api: Any) -> None:
    api.post("/api/contacts", json={"email": "one@x.io"})
    two = api.post("/api/contacts", json={"email": "two@x.io"}).json()["id"]
    r = api.patch(f"/api/contacts/{two}", json={"email": "one@x.io"})
    assert r.status_code == 409
    assert r.json()["error"]["details"][0]["loc"] == ["body", "email"]


def test_list_filters_and_cursor(api: Any, clock: Any) -> None:
    from datetime import timedelta

    for i in range(7):
        api.post(
            "/api/contacts",
            json={
                "email": f"p{i}@x.io",
                "first_name": f"Name{i}",
                "tags": ["even"] if i % 2 == 0 else [],
                "lifecycle_stage": "lead" if i < 3 else "customer",
                "owner": "amy" if i == 5 else None,
            },
        )
        clock.advance(timedelta(hours=1))
    seen = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/contacts", params=params).json()
        seen += [c["email"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"p{i}@x.io" for i in range(7)]
    assert len(api.get("/api/contacts", params={"tag": "even"}).json()["items"]) == 4
    assert len(api.get("/api/contacts", params={"stage": "lead"}).json()["items"]) == 3
    assert [c["email"] for c in api.get("/api/contacts", params={"owner": "amy"}).json()["items"]] == [
        "p5@x.io"
    ]
    assert [c["email"] for c in api.get("/api/contacts", params={"q": "name4"}).json()["items"]] == [
        "p4@x.io"
    ]
    start = "2026-03-02T10:30:00Z"
    got = api.get("/api/contacts", params={"created_after": start}).json()["items"]
    assert [c["email"] for c in got] == [f"p{i}@x.io" for i in range(2, 7)]
    assert api.get("/api/contacts", params={"cursor": "garbage!"}).status_code == 422


def test_delete_removes_every_row(api: Any, engine: sa.Engine) -> None:
    cid = api.post(
        "/api/contacts",
        json={"email": "del@x.io", "tags": ["a"], "consent": {"email": {"status": "granted"}}},
    ).json()["id"]
    assert api.post("/api/events", json={"contact_id": cid, "name": "x"}).status_code == 202
    assert api.delete(f"/api/contacts/{cid}").status_code == 204
    assert api.get(f"/api/contacts/{cid}").status_code == 404
    assert api.delete(f"/api/contacts/{cid}").status_code == 404
    with engine.connect() as conn:
        for t in (schema.events, schema.contact_tags, schema.consents, schema.contact_queue):
            assert (
                conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.contact_id == cid)).scalar()
                == 0
            )


def test_track_key_cannot_read_contacts(api: Any, container: Any) -> None:
    _, track = create_key(container.uow(), "site", ["track"], container.clock.now())
    r = api.get("/api/contacts", headers={"Authorization": f"Bearer {track}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = api.post("/api/contacts", json={"email": "z@x.io"}, headers={"Authorization": f"Bearer {track}"})
    assert r.status_code == 403
    r = api.get("/api/contacts", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    _, reader = create_key(container.uow(), "bi", ["read"], container.clock.now())
    assert api.get("/api/contacts", headers={"Authorization": f"Bearer {reader}"}).status_code == 200
    assert (
        api.post(
            "/api/contacts", json={"email": "z@x.io"}, headers={"Authorization": f"Bearer {reader}"}
        ).status_code
        == 403
    )


def test_search_escapes_wildcards_and_plain_contacts_are_not_anonymous(api: Any) -> None:
    c = api.post("/api/contacts", json={"first_name": "Nameless"}).json()
    assert c["anonymous"] is False and c["email"] is None
    api.post("/api/contacts", json={"email": "pct@example.com"})
    assert api.get("/api/contacts", params={"q": "%"}).json()["items"] == []
    assert [x["email"] for x in api.get("/api/contacts", params={"q": "PCT@"}).json()["items"]] == ["pct@example.com"]
