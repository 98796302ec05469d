from __future__ import annotations

from typing import Any


def test_healthz(api: Any) -> None:
    r = api.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_missing_key_is_structured_401(api: Any) -> None:
    r = api.post("/api/test/settle", headers={"Authorization": ""})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


def test_clock_moves_only_forward(api: Any) -> None:
    before = api.get("/api/test/clock").json()["now"]
    r = api.post("/api/test/clock/advance", json={"seconds": 3600, "settle": False})
    assert r.status_code == 200, r.text
    assert r.json()["now"] > before
    r = api.post("/api/test/clock/advance", json={"seconds": -5})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["loc"][-1] == "seconds"
