"""A track key (for websites and shops) may write events, never read (issue 12: the README said a
track key can send to /api/events, which answered 403)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tidings.application.access.keys import create_key
from tidings.bootstrap import Container
from tidings.server import create_app
from tidings.store import schema


def client_with(container: Container, *scopes: str) -> TestClient:
    key = create_key(container.uow(), "-".join(scopes), list(scopes), container.clock.now())[1]
    return TestClient(create_app(container), headers={"Authorization": f"Bearer {key}"})


def test_track_key_writes_events_and_reads_nothing(container: Container) -> None:
    with client_with(container, "track") as track:
        one = track.post("/api/events", json={"email": "ann@example.org", "name": "page.viewed", "message_id": "m1"})
        assert one.status_code == 202, one.text
        batch = track.post("/api/events/batch", json={"batch": [{"email": "bob@example.org", "name": "cart.viewed"}]})
        assert batch.status_code == 202, batch.text
        assert track.post("/v1/track", json={"userId": "u1", "event": "Signed Up"}).status_code == 200
        for path in ("/api/contacts", "/api/contacts/1", "/api/contacts/1/events", "/api/segments", "/api/templates"):
            r = track.get(path)
            assert r.status_code == 403, (path, r.text)
            assert "lacks the 'read' scope" in r.json()["error"]["message"]
        assert track.post("/api/contacts", json={"email": "eve@example.org"}).status_code == 403
    with container.engine.connect() as conn:
        names = conn.execute(sa.select(schema.events.c.name).order_by(schema.events.c.id)).scalars().all()
    assert {"page.viewed", "cart.viewed"} <= set(names)


def test_read_key_cannot_write_events(container: Container) -> None:
    with client_with(container, "read") as read:
        r = read.post("/api/events", json={"email": "ann@example.org", "name": "page.viewed"})
        assert r.status_code == 403 and "lacks the 'track' scope" in r.json()["error"]["message"]
        assert read.post("/api/events/batch", json={"batch": []}).status_code == 403


def test_readme_says_what_the_code_does() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert "a track or browser key can send events, to `/api/events`" in readme
