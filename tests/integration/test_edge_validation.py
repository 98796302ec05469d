"""Bad input at the edge: answered with a structured 4xx naming the path, never stored, never a 500.

Issue 12: NaN/Infinity in JSON, numbers neither database stores, ids beyond 64-bit, rules too big
to parse, control characters in names, and the 500s fuzzing found.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute

from tidings.api.routing import StrictRoute
from tidings.store import schema

BIG = 2**63
JSON = {"content-type": "application/json"}


def post_raw(api: Any, path: str, body: str | bytes, **headers: str) -> Any:
    return api.post(path, content=body, headers={**JSON, **headers})


def loc(r: Any) -> list[Any]:
    return r.json()["error"]["details"][0]["loc"]


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/api/contacts", '{"email": "a@x.test", "attributes": {"s": NaN}}', ["body", "attributes", "s"]),
        ("/api/contacts/upsert", '{"email": "a@x.test", "attributes": {"s": [1, Infinity]}}',
         ["body", "attributes", "s", 1]),
        ("/api/contacts", '{"email": "a@x.test", "score": -Infinity}', ["body", "score"]),
        ("/api/contacts", '{"email": "a@x.test", "attributes": {"s": 1e400}}', ["body", "attributes", "s"]),
        ("/api/events", '{"email": "a@x.test", "name": "x", "properties": {"p": NaN}}', ["body", "properties", "p"]),
        ("/api/events/batch", '{"batch": [{"email": "a@x.test", "name": "x"}, '
         '{"email": "a@x.test", "name": "x", "properties": {"p": {"q": NaN}}}]}',
         ["body", "batch", 1, "properties", "p", "q"]),
        ("/v1/identify", '{"userId": "u1", "traits": {"plan": NaN}}', ["body", "traits", "plan"]),
        ("/v1/identify", '{"userId": "u1", "context": {"traits": {"plan": Infinity}}}',
         ["body", "context", "traits", "plan"]),
        ("/v1/track", '{"userId": "u1", "event": "e", "properties": {"p": -Infinity}}', ["body", "properties", "p"]),
        ("/v1/batch", '{"batch": [{"type": "track", "userId": "u", "event": "e", "properties": {"x": NaN}}]}',
         ["body", "batch", 0, "properties", "x"]),
        ("/api/segments/preview", '{"rule": {"attribute": "a", "op": "eq", "value": NaN}}',
         ["body", "rule", "value"]),
        ("/api/test/clock/advance", '{"seconds": 1.8e308}', ["body", "seconds"]),
    ],
)
def test_nan_and_infinity_refused_with_the_path(api: Any, engine: sa.Engine, path: str, body: str,
                                                where: list[Any]) -> None:
    r = post_raw(api, path, body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_json"
    assert loc(r) == where
    assert count(engine, schema.contacts) == 0 and count(engine, schema.events) == 0


def test_gzip_bodies_follow_the_same_rule(api: Any) -> None:
    body = gzip.compress(b'{"batch": [{"type": "identify", "userId": "u", "traits": {"x": NaN}}]}')
    r = post_raw(api, "/v1/batch", body, **{"content-encoding": "gzip"})
    assert r.status_code == 400 and loc(r) == ["body", "batch", 0, "traits", "x"], r.text


@pytest.mark.parametrize("number", [BIG, -BIG - 1, 10**30, 10**400, 1.7e308, -1e19, 9.3e18])
def test_numbers_outside_64_bit_refused(api: Any, engine: sa.Engine, number: float) -> None:
    for path, body, where in [
        ("/api/contacts", {"email": "a@x.test", "attributes": {"n": number}}, ["body", "attributes", "n"]),
        ("/api/events", {"email": "a@x.test", "name": "x", "properties": {"n": [number]}},
         ["body", "properties", "n", 0]),
        ("/api/events", {"contact_id": number, "name": "x"}, ["body", "contact_id"]),
        ("/v1/identify", {"userId": "u", "traits": {"n": number}}, ["body", "traits", "n"]),
        ("/api/tasks", {"contact_id": number, "title": "t"}, ["body", "contact_id"]),
    ]:
        r = post_raw(api, path, json.dumps(body))
        assert r.status_code == 422, (path, r.text)
        assert loc(r) == where and "64-bit" in r.json()["error"]["message"]
    assert count(engine, schema.contacts) == 0 and count(engine, schema.events) == 0


def test_the_64_bit_bounds_themselves_are_stored_and_read_back(api: Any) -> None:
    attrs = {"max": BIG - 1, "min": -BIG, "big_float": 1.5e18, "tiny": 5e-324, "neg": -9.2e18}
    r = api.post("/api/contacts", json={"email": "b@x.test", "attributes": attrs})
    assert r.status_code == 201, r.text
    assert api.get(f"/api/contacts/{r.json()['id']}").json()["attributes"] == attrs
    preview = api.post("/api/segments/preview", json={"rule": "attributes.max > 0"})
    assert preview.status_code == 200 and preview.json()["count"] == 1, preview.text


@pytest.mark.parametrize(
    "url",
    [
        f"/api/contacts/{10**23}",
        f"/api/contacts/{BIG}/events",
        f"/api/tasks/{BIG}",
        f"/api/tasks?contact_id={BIG}",
        f"/api/segments/s/members?after={BIG}",
        f"/api/contacts/{-BIG - 1}",
    ],
)
def test_ids_and_int_query_params_beyond_64_bit_are_422(api: Any, url: str) -> None:
    r = api.get(url)
    assert r.status_code == 422, r.text
    assert loc(r)[0] in ("path", "query") and "64-bit" in r.json()["error"]["message"]


def test_a_64_bit_id_that_does_not_exist_is_404(api: Any) -> None:
    assert api.get(f"/api/contacts/{BIG - 1}").status_code == 404


def test_nul_in_a_query_param_is_422(api: Any) -> None:
    r = api.get("/api/contacts", params={"tag": "a\x00b"})
    assert r.status_code == 422 and loc(r) == ["query", "tag"], r.text


def test_nul_anywhere_in_a_body_is_422(api: Any, engine: sa.Engine) -> None:
    r = post_raw(api, "/api/contacts", '{"email": "a@x.test", "attributes": {"k": "a\\u0000b"}}')
    assert r.status_code == 422 and loc(r) == ["body", "attributes", "k"], r.text
    assert count(engine, schema.contacts) == 0


def test_json_nested_too_deep_is_400_not_a_recursion_error(api: Any) -> None:
    deep = "[" * 3000 + "]" * 3000
    for path in ("/api/contacts", "/api/events", "/api/segments/preview"):
        r = post_raw(api, path, deep)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json", (path, r.text)
    r = post_raw(api, "/api/contacts", '{"email": "a@x.test", "attributes": {"a": ' + "[" * 200 + "]" * 200 + "}}")
    assert r.status_code == 400 and "recursion limit" in r.json()["error"]["message"], r.text
    r = post_raw(api, "/api/contacts", '{"email": "a@x.test", "attributes": {"a": ' + "[" * 150 + "]" * 150 + "}}")
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    ("body", "limit"),
    [
        ({"rule": " and ".join(['tag("a")'] * 20_000)}, "20000 characters"),
        ({"rule": " and ".join(['tag("a")'] * 1_000)}, "500 conditions"),
        ({"rule": "(" * 3_000 + 'tag("a")' + ")" * 3_000}, "32 levels"),
        ({"rule": "not " * 3_000 + 'tag("a")'}, "500 conditions"),
        ({"rule": {"all": [{"tag": "a"}] * 20_000}}, "500 conditions"),
        ({"rule": [{"tag": "a"}] * 600}, "500 conditions"),
    ],
)
def test_rules_too_big_or_too_deep_are_422_naming_the_limit(api: Any, body: dict[str, Any], limit: str) -> None:
    for path, extra in (("/api/segments/preview", {}), ("/api/segments", {"key": "big", "name": "Big"})):
        r = api.post(path, json={**body, **extra})
        assert r.status_code == 422, (path, r.text[:300])
        assert limit in r.json()["error"]["message"], r.text[:300]
    assert api.get("/api/segments/big").status_code == 404


def test_structured_rule_nested_too_deep(api: Any) -> None:
    rule: dict[str, Any] = {"tag": "a"}
    for _ in range(40):
        rule = {"not": rule}
    r = api.post("/api/segments/preview", json={"rule": rule})
    assert r.status_code == 422 and "32 levels" in r.json()["error"]["message"], r.text


@pytest.mark.parametrize("bad", ["a\x00b", "a\x01b", "line\nbreak", "tab\tbed", "del\x7f", "c1\x85c", "sep\u2028s"])
def test_control_characters_refused_in_names(api: Any, engine: sa.Engine, bad: str) -> None:
    cases = [
        ("/api/events", {"email": "a@x.test", "name": bad}, ["body", "name"]),
        ("/v1/track", {"userId": "u", "event": bad}, ["body", "event"]),
        ("/api/contacts", {"email": "a@x.test", "first_name": bad}, ["body", "first_name"]),
        ("/api/contacts", {"email": "a@x.test", "last_name": bad}, ["body", "last_name"]),
        ("/api/contacts", {"email": "a@x.test", "tags": ["ok", bad]}, ["body", "tags", 1]),
        ("/api/contacts/upsert", {"external_id": bad}, ["body", "external_id"]),
        ("/api/events", {"external_id": bad, "name": "e"}, ["body", "external_id"]),
        ("/api/events", {"anonymous_id": bad, "name": "e"}, ["body", "anonymous_id"]),
        ("/v1/track", {"userId": bad, "event": "e"}, ["body", "userId"]),
        ("/v1/page", {"anonymousId": bad}, ["body", "anonymousId"]),
        ("/v1/identify", {"userId": "u", "traits": {"first_name": bad}}, ["body", "traits", "first_name"]),
        ("/api/segments", {"key": "s", "name": bad, "rule": 'tag("a")'}, ["body", "name"]),
    ]
    for path, body, where in cases:
        r = api.post(path, json=body)
        assert r.status_code == 422, (path, r.text)
        assert loc(r) == where, (path, r.text)
    assert count(engine, schema.contacts) == 0 and count(engine, schema.events) == 0
    assert count(engine, schema.segments) == 0


def test_control_characters_refused_in_journey_template_and_task_names(api: Any) -> None:
    contact = api.post("/api/contacts", json={"email": "t@x.test"}).json()["id"]
    r = api.post("/api/tasks", json={"contact_id": contact, "title": "call\x1b[31m"})
    assert r.status_code == 422 and loc(r) == ["body", "title"], r.text
    task = api.post("/api/tasks", json={"contact_id": contact, "title": "call"}).json()["id"]
    r = api.patch(f"/api/tasks/{task}", json={"owner": "x\x00"})
    assert r.status_code == 422, r.text
    r = api.put("/api/templates/hello", json={"channel": "email", "name": "Hi\x07", "subject": "s", "body": "b"})
    assert r.status_code == 422 and "control character" in r.text, r.text
    r = api.put("/api/templates/" + "k" * 201, json={"channel": "email", "subject": "s", "body": "b"})
    assert r.status_code == 422 and loc(r) == ["path", "key"], r.text  # found by fuzzing: a 500 on PostgreSQL
    doc = "key: j1\nname: \"J\\u0007\"\ntriggers:\n  - event: signed_up\nsteps:\n  - id: a\n    type: exit\n"
    r = api.post("/api/journeys", content=doc, headers={"content-type": "application/yaml"})
    assert r.status_code == 422 and "control character" in r.text, r.text


def test_v1_calls_report_what_they_did(api: Any) -> None:
    r = api.post("/v1/identify", json={"userId": "u1", "traits": {"email": "u1@x.test"}})
    assert r.status_code == 200
    assert r.json() == {"success": True, "accepted": 1, "duplicates": 0, "events": 0, "identified": 1}
    r = api.post("/v1/batch", json={"batch": [
        {"type": "identify", "userId": "u2", "traits": {"plan": "pro"}},
        {"type": "track", "userId": "u2", "event": "e", "messageId": "m1"},
        {"type": "track", "userId": "u2", "event": "e", "messageId": "m1"},
        {"type": "group", "userId": "u2", "groupId": "g"},
    ]})
    assert r.json() == {"success": True, "accepted": 3, "duplicates": 1, "events": 1, "identified": 2}, r.text


def test_fuzz_500s_fixed(api: Any, container: Any) -> None:
    contact = api.post("/api/contacts", json={"email": "f@x.test"}).json()["id"]
    task = api.post("/api/tasks", json={"contact_id": contact, "title": "call"}).json()["id"]
    r = api.patch(f"/api/tasks/{task}", json={"title": None})
    assert r.status_code == 422 and loc(r) == ["body", "title"], r.text
    r = api.patch(f"/api/tasks/{task}", json={"body": None})
    assert r.status_code == 422 and loc(r) == ["body", "body"], r.text
    assert api.get(f"/api/tasks/{task}").json()["title"] == "call"

    before = api.get("/api/test/clock").json()["now"]
    r = api.post("/api/test/clock/advance", json={"seconds": 1e300})
    assert r.status_code == 422 and loc(r) == ["body", "seconds"], r.text
    assert api.get("/api/test/clock").json()["now"] == before

    r = api.put("/api/task-routing", json={"notify": {"sales": {"webhook": {"a": [{"b": 1}]}}}})
    assert r.status_code == 422 and loc(r) == ["body", "notify", "sales", "webhook"], r.text
    r = api.put("/api/task-routing", json={"notify": {"sales": {"deep": {"a": 1}}}})
    assert r.status_code == 422 and loc(r) == ["body", "notify", "sales", "deep"], r.text
    r = api.put("/api/task-routing", json={"notify": {"sales": {"webhook": "https://crm.test/h", "email": False}}})
    assert r.status_code == 200, r.text
    assert api.get("/api/task-routing").json()["notify"] == {"sales": {"webhook": "https://crm.test/h",
                                                                       "email": False}}


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, looking inside included routers (FastAPI keeps them wrapped)."""
    found: list[APIRoute] = []
    for r in routes:
        if isinstance(r, APIRoute):
            found.append(r)
        inner = getattr(r, "original_router", None)
        if inner is not None:
            found += api_routes(inner.routes)
    return found


def test_every_route_of_the_app_uses_the_strict_route_class(api: Any) -> None:
    routes = api_routes(api.app.routes)
    assert len(routes) > 50
    escaped = [r.path for r in routes if not isinstance(r, StrictRoute)]
    assert escaped == []


def test_web_pages_answer_404_for_ids_beyond_64_bit(container: Any) -> None:
    from tests.web_support import web_client

    with web_client(container, "admin") as (client, _token):
        for url in (f"/contacts/{BIG}", f"/contacts/1/why/{10**30}", f"/inbox/{BIG}", f"/journeys/{BIG}/by-id"):
            r = client.get(url)
            assert r.status_code == 404, (url, r.status_code, r.text[:200])


def test_live_server_refuses_the_same(live_server: Any, admin_key: str) -> None:
    headers = {"Authorization": f"Bearer {admin_key}", **JSON}
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=10) as client:
        r = client.post("/api/contacts", content='{"email": "l@x.test", "attributes": {"s": NaN}}')
        assert r.status_code == 400 and loc(r) == ["body", "attributes", "s"], r.text
        r = client.get(f"/api/contacts/{10**23}")
        assert r.status_code == 422 and loc(r) == ["path", "contact_id"], r.text
        body = gzip.compress(b'{"batch": [{"type": "track", "userId": "u", "event": "e", "properties": {"n": 1e400}}]}')
        r = client.post("/v1/batch", content=body, headers={"content-encoding": "gzip"})
        assert r.status_code == 400 and loc(r) == ["body", "batch", 0, "properties", "n"], r.text
        r = client.post("/api/segments/preview", json={"rule": "(" * 3000 + 'tag("a")' + ")" * 3000})
        assert r.status_code == 422 and "32 levels" in r.text


def test_csv_import_rejects_rows_breaking_the_rules(api: Any, engine: sa.Engine) -> None:
    csv = ('email,first_name,attributes,Plan\n'
           'a@x.test,Ann,"{""score"": NaN}",pro\n'
           'b@x.test,Bob,"{""n"": 100000000000000000000000}",pro\n'
           'c@x.test,C\x01,,pro\n'
           'd@x.test,Dee,,p\x00ro\n'
           'e@x.test,Eve,"{""ok"": 1}",pro\n')
    r = api.post("/api/imports/contacts", content=csv.encode(), headers={"Content-Type": "text/csv"},
                 params={"map": "Plan=attributes.plan"})
    assert r.status_code == 200, r.text
    assert [x["line"] for x in r.json()["rejected"]] == [2, 3, 4, 5], r.text
    assert r.json()["imported"] == 1
    with engine.connect() as conn:
        rows = conn.execute(sa.select(schema.contacts.c.email, schema.contacts.c.attributes)).all()
    assert [(e, a) for e, a in rows] == [("e@x.test", {"ok": 1, "plan": "pro"})]


def test_form_fields_with_nul_are_refused_on_web_pages(container: Any) -> None:
    from fastapi.testclient import TestClient

    from tests.web_support import csrf_of, web_app

    with TestClient(web_app(container), base_url="http://testserver") as client:
        page = client.get("/login")
        r = client.post("/login", data={"email": "a\x00@x.test", "password": "p\x00", "next": "/",
                                         "csrf_token": csrf_of(page.text)}, follow_redirects=False)
        assert r.status_code == 422 and loc(r) == ["form", "email"], r.text


def test_cli_rule_limits_message_and_exit_code(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from tidings.cli.main import app

    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    runner = CliRunner()
    for rule, limit in ((" and ".join(['tag("a")'] * 1000), "at most 500 conditions"),
                        ("(" * 3000 + 'tag("a")' + ")" * 3000, "at most 32 levels")):
        for command in (["segments", "preview", "--rule", rule],
                        ["segments", "create", "--key", "big", "--name", "Big", "--rule", rule]):
            r = runner.invoke(app, command)
            assert r.exit_code == 1, (command[:2], r.output[-300:])
            assert limit in r.output and "Traceback" not in r.output


def test_every_int_parameter_of_every_route_refuses_values_beyond_64_bit(api: Any, container: Any) -> None:
    """All API and web routes, every method: each int path or query parameter set to 2**63 is a 4xx."""
    import re

    from tests.web_support import web_client
    from tidings.api.routing import _int_params

    with web_client(container, "admin") as (web, token):
        checked = 0
        for route in api_routes(api.app.routes):
            params = _int_params(route.dependant)
            if not params:
                continue
            names = re.findall(r"{(\w+)(?::\w+)?}", route.path)
            for where, name in params:
                path = route.path
                for other in names:
                    value = BIG if (where, other) == ("path", name) else 1
                    path = re.sub(r"{" + other + r"(?::\w+)?}", str(value), path)
                query = {name: str(BIG)} if where == "query" else {}
                client = api if route.path.startswith(("/api", "/v1")) else web
                headers = {"x-csrf-token": token} if client is web else {}
                for method in route.methods - {"HEAD"}:
                    r = client.request(method, path, params=query, headers=headers)
                    assert r.status_code in (404, 422), (method, path, query, r.status_code, r.text[:200])
                    checked += 1
    assert checked > 30

