"""The Segment-compatible endpoints over HTTP: shapes, traits, merges, bad input, keys."""

from __future__ import annotations

import base64
from typing import Any

import sqlalchemy as sa

from tidings.application.access.keys import create_key
from tidings.store import schema


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def setup_key(container: Any) -> dict[str, str]:
    return basic(create_key(container.uow(), "site", ["track"], container.clock.now())[1])


def contact(engine: sa.Engine, **where: Any) -> Any:
    c = schema.contacts
    with engine.connect() as conn:
        q = sa.select(c)
        for k, v in where.items():
            q = q.where(c.c[k] == v)
        return conn.execute(q).mappings().first()


def test_single_endpoints_and_context_traits(api: Any, container: Any, engine: sa.Engine) -> None:
    h = setup_key(container)
    r = api.post(
        "/v1/identify",
        headers=h,
        json={
            "userId": 42,
            "context": {
                "traits": {
                    "email": "Kim@Shop.test",
                    "phone": "+33 1 42 68 53 00",
                    "first_name": "Kim",
                    "company": "Shop",
                }
            },
        },
    )
    assert r.status_code == 200 and r.json()["success"] is True, r.text
    kim = contact(engine, external_id="42")
    assert kim["email"] == "kim@shop.test" and kim["phone"] == "+33142685300"
    assert kim["first_name"] == "Kim" and kim["attributes"] == {"company": "Shop"}
    assert (
        api.post(
            "/v1/track", headers=h, json={"userId": "42", "event": "Signed Up", "messageId": "t-1"}
        ).json()["accepted"]
        == 1
    )
    assert api.post(
        "/v1/track", headers=h, json={"userId": "42", "event": "Signed Up", "messageId": "t-1"}
    ).json() == {"success": True, "accepted": 0, "duplicates": 1, "events": 0, "identified": 0}
    assert api.post("/v1/page", headers=h, json={"userId": "42", "name": "Home"}).status_code == 200
    assert api.post("/v1/screen", headers=h, json={"anonymousId": "dev-1", "name": "Cart"}).status_code == 200
    assert (
        api.post(
            "/v1/group", headers=h, json={"userId": "42", "groupId": "g1", "traits": {"n": 1}}
        ).status_code
        == 200
    )
    assert contact(engine, external_id="42")["attributes"]["group"] == {"id": "g1", "n": 1}


def test_bad_tracking_input(api: Any, container: Any, engine: sa.Engine) -> None:
    h = setup_key(container)
    r = api.post("/v1/track", headers=h, json={"userId": "u"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["body", "event"]
    r = api.post("/v1/track", headers=h, json={"event": "x"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["body", "userId"]
    r = api.post("/v1/identify", headers=h, json={"userId": "u", "traits": {"email": "broken@"}})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["body", "traits", "email"]
    r = api.post("/v1/identify", headers=h, json={"userId": "u", "context": {"traits": {"phone": "123"}}})
    assert r.json()["error"]["details"][0]["loc"] == ["body", "context", "traits", "phone"]
    r = api.post(
        "/v1/batch",
        headers=h,
        json={
            "batch": [
                {"type": "track", "userId": "u", "event": "ok"},
                {"type": "explode", "userId": "u"},
                {"userId": "u", "event": "no type"},
                {"type": "track", "userId": "u", "event": "x", "properties": [1]},
                {"type": "alias", "userId": "u"},
            ]
        },
    )
    assert r.status_code == 422
    locs = [d["loc"] for d in r.json()["error"]["details"]]
    assert ["body", "batch", 1, "type"] in locs
    assert ["body", "batch", 3, "properties"] in locs
    r = api.post(
        "/v1/batch",
        headers=h,
        json={
            "batch": [
                {"type": "track", "userId": "u", "event": "ok"},
                {"userId": "u", "event": "no type"},
                {"type": "alias", "userId": "u"},
            ]
        },
    )
    locs = [d["loc"] for d in r.json()["error"]["details"]]
    assert locs == [["body", "batch", 1, "type"], ["body", "batch", 2, "previousId"]]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.events)).scalar() == 0
    r = api.post(
        "/v1/batch",
        headers=h,
        content=b'{"batch": [',
    )
    assert r.status_code == 400
    r = api.post("/v1/batch", json={"batch": []})  # admin bearer key is fine too
    assert r.status_code == 200
    r = api.post("/v1/batch", headers=basic("wrong"), json={"batch": []})
    assert r.status_code == 401
    r = api.post("/v1/batch", headers={"Authorization": "Basic !!!"}, json={"batch": []})
    assert r.status_code == 401
    _, reader = create_key(container.uow(), "bi", ["read"], container.clock.now())
    assert api.post("/v1/batch", headers=basic(reader), json={"batch": []}).status_code == 403


def test_identify_merges_anonymous_history(api: Any, container: Any, engine: sa.Engine) -> None:
    h = setup_key(container)
    api.post(
        "/v1/batch",
        headers=h,
        json={
            "batch": [
                {"type": "page", "anonymousId": "a-1", "name": "Landing", "messageId": "p1"},
                {"type": "track", "anonymousId": "a-1", "event": "Cart Viewed", "messageId": "p2"},
                {"type": "identify", "anonymousId": "a-1", "traits": {"favourite": "blue"}},
            ]
        },
    )
    anon = contact(engine, anonymous=True)
    assert anon is not None and anon["attributes"] == {"favourite": "blue"}
    # the user is already known (e.g. from the shop) with a tag and a consent
    known = api.post(
        "/api/contacts",
        json={
            "external_id": "u-7",
            "email": "u7@x.io",
            "tags": ["customer"],
            "consent": {"email": {"status": "granted"}},
        },
    ).json()
    api.patch(
        f"/api/contacts/{anon['id']}",
        json={"tags_add": ["browsed", "customer"], "consent": {"sms": {"status": "granted"}}},
    )
    r = api.post(
        "/v1/identify",
        headers=h,
        json={"userId": "u-7", "anonymousId": "a-1", "traits": {"firstName": "Una"}},
    )
    assert r.status_code == 200
    assert contact(engine, id=anon["id"]) is None
    merged = api.get(f"/api/contacts/{known['id']}").json()
    assert merged["first_name"] == "Una"
    assert merged["tags"] == ["browsed", "customer"]
    assert set(merged["consent"]) == {"email", "sms"}
    assert merged["attributes"] == {"favourite": "blue"}
    names = [
        e["name"]
        for e in api.get(f"/api/contacts/{known['id']}/events", params={"limit": 100}).json()["items"]
    ]
    assert {"page.viewed", "cart.viewed", "contact.merged"} <= set(names)
    a = schema.contact_aliases
    with engine.connect() as conn:
        aliases = {(r.kind, r.value): r.contact_id for r in conn.execute(sa.select(a))}
    assert aliases[("anonymous_id", "a-1")] == known["id"]
    assert aliases[("merged_id", str(anon["id"]))] == known["id"]
    # later anonymous events land on the known contact; the old id still finds it
    api.post("/v1/track", headers=h, json={"anonymousId": "a-1", "event": "Came Back"})
    assert api.post("/api/events", json={"contact_id": anon["id"], "name": "via old id"}).status_code == 202
    names = [
        e["name"]
        for e in api.get(f"/api/contacts/{known['id']}/events", params={"limit": 100}).json()["items"]
    ]
    assert "Came Back" in names and "via old id" in names


def test_track_with_user_and_anonymous_links_them(api: Any, container: Any, engine: sa.Engine) -> None:
    h = setup_key(container)
    api.post("/v1/track", headers=h, json={"anonymousId": "a-9", "event": "Viewed"})
    api.post("/v1/track", headers=h, json={"anonymousId": "a-9", "userId": "u-9", "event": "Bought"})
    c = schema.contacts
    with engine.connect() as conn:
        rows = conn.execute(sa.select(c.c.id, c.c.external_id)).all()
    assert len(rows) == 1 and rows[0].external_id == "u-9"


def test_alias_merges_previous_id(api: Any, container: Any, engine: sa.Engine) -> None:
    h = setup_key(container)
    api.post("/v1/track", headers=h, json={"userId": "old-1", "event": "A"})
    api.post("/v1/track", headers=h, json={"userId": "new-1", "event": "B"})
    r = api.post("/v1/alias", headers=h, json={"previousId": "old-1", "userId": "new-1"})
    assert r.status_code == 200
    # alias is explicit: two known user ids become one contact, and the old id still resolves
    assert contact(engine, external_id="old-1") is None
    target = contact(engine, external_id="new-1")
    api.post("/v1/track", headers=h, json={"userId": "old-1", "event": "A2"})
    names = [e["name"] for e in api.get(f"/api/contacts/{target['id']}/events").json()["items"]]
    assert {"A", "A2", "B"} <= set(names)
    api.post("/v1/track", headers=h, json={"anonymousId": "anon-x", "event": "C"})
    api.post("/v1/alias", headers=h, json={"previousId": "anon-x", "userId": "new-1"})
    target = contact(engine, external_id="new-1")
    names = [e["name"] for e in api.get(f"/api/contacts/{target['id']}/events").json()["items"]]
    assert "C" in names
    api.post("/v1/track", headers=h, json={"anonymousId": "anon-y", "event": "D"})
    api.post("/v1/alias", headers=h, json={"previousId": "anon-y", "userId": "brand-new"})
    promoted = contact(engine, external_id="brand-new")
    assert promoted is not None and promoted["anonymous"] is False
