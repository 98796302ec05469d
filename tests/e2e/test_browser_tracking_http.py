"""Browser keys over real HTTP: CORS per key, writeKey in a text/plain body, short paths, the
first-party snippet, and the bad input (wrong origin, no origin, read routes, bad origins)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.e2e.test_tracking_clients import contact_by, events_of
from tidings.application.access.keys import KeyError_, create_key
from tidings.store import schema
from tidings.store.sql_uow import SqlUnitOfWork

SHOP = "https://shop.example"


def contact_of_anonymous_id(engine: sa.Engine, anon: str) -> int | None:
    a = schema.contact_aliases
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(a.c.contact_id).where(a.c.kind == "anonymous_id", a.c.value == anon)
        ).scalar_one_or_none()
    return int(found) if found is not None else None


def events_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(schema.events)).scalar_one())


def browser_key(container: Any, *origins: str) -> str:
    return create_key(container.uow(), "site", ["browser"], container.clock.now(), list(origins or [SHOP]))[1]


def plain(url: str, body: dict[str, Any], origin: str | None = SHOP) -> httpx.Response:
    headers = {"Content-Type": "text/plain"}
    if origin:
        headers["Origin"] = origin
    return httpx.post(url, content=json.dumps(body), headers=headers)


def test_preflight_granted_only_for_allowed_origins(live_server: Any, container: Any) -> None:
    browser_key(container)
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    ok = httpx.options(f"{live_server.url}/v1/batch", headers={"Origin": SHOP, **ask})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == SHOP
    assert "POST" in ok.headers["access-control-allow-methods"]
    assert "content-type" in ok.headers["access-control-allow-headers"].lower()
    bad = httpx.options(f"{live_server.url}/v1/batch", headers={"Origin": "https://evil.example", **ask})
    assert bad.status_code == 403
    assert "access-control-allow-origin" not in bad.headers
    assert bad.json()["error"]["code"] == "forbidden_origin"


def test_write_key_in_text_plain_body_on_short_paths(live_server: Any, container: Any, engine: sa.Engine) -> None:
    key = browser_key(container)
    u = live_server.url
    r = plain(f"{u}/v1/p", {"writeKey": key, "anonymousId": "a-1", "name": "Home", "type": "page"})
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == SHOP
    assert plain(f"{u}/v1/t", {"writeKey": key, "anonymousId": "a-1", "event": "Product Viewed"}).status_code == 200
    r = plain(f"{u}/v1/i", {"writeKey": key, "anonymousId": "a-1", "userId": "u-1", "traits": {"email": "a@b.example"}})
    assert r.status_code == 200, r.text
    batch = {"writeKey": key, "batch": [{"type": "track", "userId": "u-1", "event": "Cart Viewed"}]}
    assert plain(f"{u}/v1/b", batch).status_code == 200
    user = contact_by(engine, external_id="u-1")
    assert user is not None and user["email"] == "a@b.example"
    names = [n for n, _ in events_of(engine, user["id"]) if n != "contact.updated"]
    assert names == ["page.viewed", "product.viewed", "cart.viewed"]
    # Basic auth works for the same key too
    r = httpx.post(f"{u}/v1/t", json={"userId": "u-1", "event": "x"}, auth=(key, ""), headers={"Origin": SHOP})
    assert r.status_code == 200


def test_wrong_or_missing_origin_is_403_without_grant(live_server: Any, container: Any, engine: sa.Engine) -> None:
    key = browser_key(container)
    body = {"writeKey": key, "anonymousId": "evil-1", "event": "Product Viewed"}
    for origin in ("https://evil.example", None):
        r = plain(f"{live_server.url}/v1/t", body, origin)
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "forbidden_origin"
        assert "access-control-allow-origin" not in r.headers
    assert contact_of_anonymous_id(engine, "evil-1") is None and events_count(engine) == 0
    # a server-side key gets no CORS grant, and a bad writeKey is 401
    assert "access-control-allow-origin" not in plain(
        f"{live_server.url}/v1/t",
        {**body, "writeKey": create_key(SqlUnitOfWork(engine), "s", ["track"], container.clock.now())[1]},
    ).headers
    assert plain(f"{live_server.url}/v1/t", {**body, "writeKey": "tdk_nope"}).status_code == 401


def test_browser_key_cannot_read(live_server: Any, container: Any) -> None:
    key = browser_key(container)
    for path in ("/api/contacts", "/api/segments"):
        r = httpx.get(f"{live_server.url}{path}", auth=(key, ""), headers={"Origin": SHOP})
        assert r.status_code == 403, (path, r.text)


def test_snippet_is_served(live_server: Any) -> None:
    r = httpx.get(f"{live_server.url}/t.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/javascript")
    assert "sendBeacon" in r.text and "tdg_aid" in r.text
    assert len(r.content) < 8_000


@pytest.mark.parametrize(
    ("scopes", "origins", "msg"),
    [
        (["browser"], [], "needs at least one --origin"),
        (["browser", "read"], [SHOP], "write-only"),
        (["track"], [SHOP], "only for browser keys"),
        (["browser"], ["shop.example"], "scheme and host"),
        (["browser"], ["https://shop.example/path"], "without a path"),
    ],
)
def test_bad_browser_keys_are_refused(engine: sa.Engine, container: Any, scopes: list[str], origins: list[str],
                                      msg: str) -> None:
    with pytest.raises(KeyError_, match=msg):
        create_key(SqlUnitOfWork(engine), "site", scopes, container.clock.now(), origins)


def test_cli_creates_a_browser_key(db_url: str, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from tidings.cli.main import app

    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    ok = CliRunner().invoke(app, ["keys", "create", "--name", "site", "--scope", "browser", "--origin", SHOP + "/"])
    assert ok.exit_code == 0, ok.output
    assert "from https://shop.example" in ok.output
    bad = CliRunner().invoke(app, ["keys", "create", "--name", "site", "--scope", "browser"])
    assert bad.exit_code != 0 and "origin" in bad.output
