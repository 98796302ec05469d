"""The real server, worker and refresher: an event moves a contact into a segment, time moves it out."""

from __future__ import annotations

from typing import Any

import httpx


def test_event_enters_and_time_exits_a_segment(live_stack: Any, admin_key: str) -> None:
    h = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=live_stack.url, headers=h, timeout=30) as client:
        r = client.post(
            "/api/segments",
            json={
                "key": "buyers",
                "name": "Recent buyers",
                "rule": 'purchase(currency="EUR").count(30d) >= 1',
            },
        )
        assert r.status_code == 201, r.text
        r = client.post(
            "/api/events",
            json={"name": "purchase", "email": "ann@x.test", "properties": {"currency": "EUR", "total": 40}},
        )
        assert r.status_code == 202, r.text
        assert client.post("/api/test/settle").status_code == 200
        members = client.get("/api/segments/buyers/members").json()["items"]
        assert [m["email"] for m in members] == ["ann@x.test"]
        cid = members[0]["id"]
        events = client.get(f"/api/contacts/{cid}/events").json()
        names = [e["name"] for e in (events["items"] if isinstance(events, dict) else events)]
        assert "segment.entered" in names

        # no new event: the window slides and the scheduled refresher moves her out
        r = client.post("/api/test/clock/advance", json={"seconds": 31 * 86400})
        assert r.status_code == 200, r.text
        assert client.get("/api/segments/buyers/members").json()["items"] == []
        hist = client.get("/api/segments/buyers/history").json()["items"]
        assert len(hist) == 1 and hist[0]["exited_at"] is not None
