"""Lead forms in and an ad audience out, as users and vendors do it: Meta and Google post leads
over real HTTP to a live server (Meta's lead read from a real local fake Graph server), then a
marketer in a real browser (Debian chromium) downloads the segment's hashed audience."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
from pathlib import Path

import httpx

from tests.e2e.test_browser_web import CHROMIUM, Watch, browser, login, pytestmark, shot  # noqa: F401
from tests.fake_http import FakeHttpServer, Recorded, Reply
from tests.web_support import make_user
from tidings.application.access.keys import create_key
from tidings.application.segments import segments as svc
from tidings.domain.vendors import signatures as sig

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_leads_in_then_the_audience_downloaded_from_the_segment_page(live_server, browser, tmp_path):  # noqa: F811
    c = live_server.container
    _, key = create_key(c.uow(), "e2e", ["admin"], c.clock.now())
    api = httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    hooks = httpx.Client(base_url=live_server.url, timeout=60)
    meta = api.post("/api/sources", json={"vendor": "meta-leads", "secret": "meta-app-secret"}).json()
    google = api.post("/api/sources", json={"vendor": "google-leads", "secret": "gkey-secret-123"}).json()
    lead = json.loads((FIXTURES / "meta_graph_lead.json").read_text())

    def graph(rec: Recorded) -> Reply:
        return Reply(200, lead) if rec.headers.get("authorization") == "Bearer page-token" else Reply(401, {})

    with FakeHttpServer(graph) as server:
        c.settings = dataclasses.replace(c.settings, meta_graph_url=server.url, meta_access_token="page-token")
        challenge = hooks.get(
            meta["webhook_path"],
            params={"hub.mode": "subscribe", "hub.verify_token": meta["verify_token"], "hub.challenge": "42"},
        )
        assert challenge.status_code == 200 and challenge.text == "42"
        body = (FIXTURES / "meta_leadgen_webhook.json").read_bytes()
        r = hooks.post(
            meta["webhook_path"],
            content=body,
            headers={"X-Hub-Signature-256": sig.meta_signature("meta-app-secret", body)},
        )
        assert r.status_code == 200 and r.json()["accepted"] == 2, r.text
    r = hooks.post(google["webhook_path"], content=(FIXTURES / "google_lead_form.json").read_bytes())
    assert r.status_code == 200 and r.json()["accepted"] == 2, r.text

    svc.create_segment(c.segments, "leads", "Ad leads", 'consent("email") == "granted"', c.clock.now())
    make_user(c, "marketer@example.com", "marketer")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(10_000)
    watch = Watch(page)
    try:
        login(page, live_server.url, "marketer@example.com")
        page.goto(f"{live_server.url}/segments/leads")
        shot(page, "segment-audience-buttons")
        with page.expect_download() as dl:
            page.click("#audience-google")
        assert dl.value.suggested_filename == "leads-google-audience.csv"
        rows = list(csv.DictReader(io.StringIO(dl.value.path().read_text(encoding="utf-8"))))
        assert sorted(r["Email"] for r in rows) == sorted([sha("joe@example.com"), sha("test@example.com")])
        assert {r["Phone"] for r in rows} == {sha("+16505550123"), sha("+16505550188")}
        with page.expect_download() as dl:
            page.click("#audience-meta")
        meta_rows = list(csv.DictReader(io.StringIO(dl.value.path().read_text(encoding="utf-8"))))
        assert {r["phone"] for r in meta_rows} == {sha("16505550123"), sha("16505550188")}
        assert watch.problems == []
    finally:
        page.close()
