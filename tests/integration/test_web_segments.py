"""Web app: segments — builder with live count and sample, field errors, membership chart, roles."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from tests.web_support import web_client
from tidings.application.contacts.contacts import create_contact, normalise_input
from tidings.store import schema
from tidings.store.sql_uow import joined


def _contacts(container) -> list[int]:
    now = container.clock.now()
    ids = []
    with container.engine.begin() as conn:
        for i, tags in enumerate((["vip"], ["vip"], [])):
            ids.append(
                create_contact(
                    joined(conn),
                    normalise_input(
                        {"email": f"c{i}@example.com", "first_name": f"<C{i}>", "tags": tags}, now
                    ),
                    now,
                )
            )
    return ids


def test_live_preview_counts_and_samples(container):
    _contacts(container)
    with web_client(container, "viewer") as (client, token):
        r = client.post(
            "/segments/preview",
            data={"rule_text": 'tag("vip")'},
            headers={"X-CSRF-Token": token, "HX-Request": "true"},
        )
        assert r.status_code == 200 and "<html" not in r.text
        assert 'id="match-count">2<' in r.text and "&lt;C0&gt;" in r.text and "c2@example.com" not in r.text
        bad = client.post(
            "/segments/preview", data={"rule_text": 'tag("vip") and'}, headers={"X-CSRF-Token": token}
        )
        assert "column" in bad.text and 'id="rule-error"' in bad.text
        assert client.post("/segments/preview", data={"rule_text": "x"}).status_code == 403  # no CSRF token


def test_create_with_field_errors_then_detail_and_chart(container):
    ids = _contacts(container)
    with web_client(container, "marketer") as (client, token):
        r = client.post(
            "/segments",
            data={
                "csrf_token": token,
                "key": "Bad Key",
                "name": "",
                "rule_text": "tag(",
                "description": "mine",
            },
        )
        assert r.status_code == 422
        for msg in ("key: letters", "give the segment a name", "column"):
            assert msg in r.text
        assert 'value="Bad Key"' in r.text and "tag(" in r.text and 'value="mine"' in r.text
        r = client.post(
            "/segments",
            data={"csrf_token": token, "key": "vips", "name": "VIPs", "rule_text": 'tag("vip")'},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == "/segments/vips"
        page = client.get("/segments/vips").text
        assert "VIPs" in page and 'id="match-count">2<' in page
        dup = client.post(
            "/segments", data={"csrf_token": token, "key": "vips", "name": "again", "rule_text": 'tag("vip")'}
        )
        assert dup.status_code == 422 and "exists" in dup.text
        now = container.clock.now()
        with container.engine.begin() as conn:
            sid = conn.execute(sa.select(schema.segments.c.id)).scalar_one()
            conn.execute(
                sa.insert(schema.segment_memberships),
                [
                    {
                        "contact_id": ids[2],
                        "segment_id": sid,
                        "entered_at": now - timedelta(days=10),
                        "exited_at": None,
                    },
                    {
                        "contact_id": ids[1],
                        "segment_id": sid,
                        "entered_at": now - timedelta(days=5),
                        "exited_at": now - timedelta(days=2),
                    },
                ],
            )
        chart = client.get("/segments/vips/membership.json").json()
        data = chart["datasets"][0]["data"]
        # the service put the two vip contacts in now; our history rows add one earlier stay and one left
        assert len(data) == 30 and data[-1] == 3 and data[-4] == 2 and data[0] == 0
        r = client.post(
            "/segments/vips",
            data={
                "csrf_token": token,
                "name": "VIP buyers",
                "rule_text": 'tag("vip") and email contains "c0"',
            },
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert 'id="match-count">1<' in client.get("/segments/vips").text


def test_viewer_cannot_create_or_change_segments(container):
    with web_client(container, "viewer") as (client, token):
        assert client.get("/segments/new").status_code == 403
        r = client.post(
            "/segments", data={"csrf_token": token, "key": "x", "name": "X", "rule_text": 'tag("a")'}
        )
        assert r.status_code == 403
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.segments)).scalar_one() == 0
