"""`GET /api/contacts?q=` and `tidings contacts list --q` search through the `ContactSearch` port,
the web contacts page's search: every term a substring of email, names, phone, external id or
attributes (not the old email / name LIKE), newest first, keyset-paged, other filters applied."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tidings.application.contacts import search as search_uc
from tidings.cli.main import app as cli


def _seed(api: Any) -> dict[str, int]:
    people = [
        {"email": "ann.lee@shop.test", "first_name": "Ann", "attributes": {"city": "Berlin"}, "tags": ["vip"]},
        {"email": "bob@mail.test", "last_name": "Annable", "phone": "+49 30 901820"},
        {"email": "jo@shop.test", "first_name": "Joanna", "attributes": {"plan": "Pro 100%"}, "tags": ["vip"]},
        {"email": "zed@else.test", "external_id": "crm-778", "attributes": {"city": "Paris"}},
    ]
    ids = {}
    for p in people:
        r = api.post("/api/contacts", json=p)
        assert r.status_code == 201, r.text
        ids[p["email"].split("@")[0]] = r.json()["id"]
    return ids


def _emails(page: dict[str, Any]) -> list[str]:
    return [c["email"] for c in page["items"]]


def test_api_q_uses_the_full_text_search(api: Any) -> None:
    _seed(api)
    get = lambda **p: api.get("/api/contacts", params=p).json()  # noqa: E731
    assert _emails(get(q="berlin")) == ["ann.lee@shop.test"]  # an attribute value: LIKE never saw it
    assert _emails(get(q="+4930901")) == ["bob@mail.test"] and _emails(get(q="778")) == ["zed@else.test"]
    assert _emails(get(q="ANN shop")) == ["jo@shop.test", "ann.lee@shop.test"]  # every term, newest first
    assert _emails(get(q="ann", tag="vip")) == ["jo@shop.test", "ann.lee@shop.test"]
    assert _emails(get(q="100%")) == ["jo@shop.test"] and get(q="_")["items"] == []
    # keyset pages through the hits
    seen, cursor = [], None
    while True:
        page = get(q="test", limit=1, **({"cursor": cursor} if cursor else {}))
        seen += _emails(page)
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["zed@else.test", "jo@shop.test", "bob@mail.test", "ann.lee@shop.test"]
    # a cursor of the plain list is not one of a search
    plain = api.get("/api/contacts", params={"limit": 1}).json()["next_cursor"]
    r = api.get("/api/contacts", params={"q": "test", "cursor": plain})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["query", "cursor"]
    assert _emails(get(q="   ")) == _emails(get())  # no terms: the plain list, oldest first


def test_other_filters_narrow_chunks_and_a_long_scan_answers_with_a_cursor(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _seed(api)
    monkeypatch.setattr(search_uc, "CHUNK", 1)
    monkeypatch.setattr(search_uc, "SCAN_LIMIT", 2)
    page = api.get("/api/contacts", params={"q": "test", "tag": "vip", "limit": 5}).json()
    assert _emails(page) == ["jo@shop.test"] and page["next_cursor"]  # looked at zed and jo only
    rest = api.get("/api/contacts", params={"q": "test", "tag": "vip", "cursor": page["next_cursor"]}).json()
    assert _emails(rest) == ["ann.lee@shop.test"]  # looked at bob and ann
    assert ids["ann.lee"] < ids["jo"]


def test_openapi_documents_q(api: Any) -> None:
    params = api.get("/openapi.json").json()["paths"]["/api/contacts"]["get"]["parameters"]
    q = next(p for p in params if p["name"] == "q")
    assert "full-text search" in q["description"] and "attributes" in q["description"]


def test_cli_list_q_uses_the_same_search(api: Any, db_url: str, engine: sa.Engine, monkeypatch: Any) -> None:
    _seed(api)
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    r = CliRunner().invoke(cli, ["contacts", "list", "--q", "paris", "--json"])
    assert r.exit_code == 0, r.output
    assert [json.loads(line)["email"] for line in r.output.splitlines()] == ["zed@else.test"]
    r = CliRunner().invoke(cli, ["contacts", "list", "--q", "shop", "--tag", "vip", "--limit", "1"])
    assert r.exit_code == 0, r.output
    assert "jo@shop.test" in r.output and "ann.lee" not in r.output and "more than 1" in r.output
