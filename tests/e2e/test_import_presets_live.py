"""The whole stack over real HTTP: a Mailchimp audience export (its three files) uploaded to the
import API with the mailchimp preset, a dry run first, then the events it caused streamed back
from the export API (JSON Lines and CSV)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx

from tests.conftest import LiveStack
from tidings.application.access.keys import create_key
from tidings.clock import ManualClock
from tidings.store.sql_uow import SqlUnitOfWork

FIXTURES = Path(__file__).parent.parent / "fixtures" / "imports"


def test_mailchimp_export_over_http_then_events_streamed_back(live_stack: LiveStack, clock: ManualClock) -> None:
    _, key = create_key(SqlUnitOfWork(live_stack.container.engine), "e2e", ["admin"], clock.now())
    with httpx.Client(base_url=live_stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        sub = (FIXTURES / "mailchimp_subscribed_members_export.csv").read_bytes()
        dry = http.post(
            "/api/imports/contacts",
            params={"preset": "mailchimp", "dry_run": "true"},
            files={"file": ("subscribed.csv", sub, "text/csv")},
        )
        assert dry.status_code == 200 and dry.json()["created"] == 4 and dry.json()["dry_run"] is True
        assert http.get("/api/contacts").json()["items"] == []
        for kind in ("subscribed", "unsubscribed", "cleaned"):
            body = (FIXTURES / f"mailchimp_{kind}_members_export.csv").read_bytes()
            r = http.post(
                "/api/imports/contacts",
                params={"preset": "mailchimp"},
                files={"file": (f"{kind}.csv", body, "text/csv")},
            )
            assert r.status_code == 200 and r.json()["created"] == 1 + 3 * (kind == "subscribed"), r.text
        with http.stream("GET", "/api/exports/events.jsonl") as resp:
            assert resp.status_code == 200 and resp.headers["content-type"] == "application/x-ndjson"
            events = [json.loads(line) for line in resp.iter_lines() if line]
        consent = [e["properties"] for e in events if e["name"] == "consent.changed"]
        assert sorted(c["status"] for c in consent) == ["granted"] * 4 + ["unsubscribed"]
        assert {c["source"] for c in consent} == {"mailchimp import"}
        rows = list(csv.DictReader(io.StringIO(http.get("/api/exports/events.csv").text, newline="")))
        assert len(rows) == len(events) and {r["name"] for r in rows} >= {"contact.updated", "tag.added"}
        layla = http.get("/api/contacts", params={"q": "layla"}).json()["items"]
        assert layla and layla[0]["consent"]["email"]["proof"]["double_opt_in"] is True
