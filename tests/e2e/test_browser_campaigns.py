"""Campaigns in a real browser (Playwright + Debian chromium) on the live stack: a marketer creates
a campaign from /campaigns (segment size and template preview shown), sends a test, an admin
approves it, the marketer schedules it, the progress card polls while it sends and the messages
reach the built-in SMTP catcher."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.test_browser_web import CHROMIUM, Watch, browser, login, shot  # noqa: F401 - fixture
from tests.integration.channels_helpers import add_contact, add_template
from tests.web_support import make_user
from tidings.application.access.keys import create_key

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (/usr/bin/chromium)"),
]


def test_browser_create_approve_and_send_a_campaign(live_stack, browser):  # noqa: F811 - the fixture
    from playwright.sync_api import expect

    c = live_stack.container
    eng, now = c.engine, c.clock.now()
    make_user(c, "marketer@example.com", "marketer")
    make_user(c, "admin@example.com", "admin")
    add_template(eng, now, key="news", subject="Hello from the template")
    for i in range(3):
        add_contact(eng, now, email=f"fan{i}@example.org", fan=True)
    key = create_key(c.uow(), "browser test", ["admin"], now)[1]
    api = httpx.Client(base_url=live_stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert api.post("/api/segments", json={"key": "fans", "name": "Fans", "rule": "attributes.fan == true"}
                    ).status_code == 201

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)  # two logins and a send on a shared 2-core machine
    watch = Watch(page)
    base = live_stack.url
    try:
        login(page, base, "marketer@example.com")
        page.click("nav.sidebar a[data-nav=campaigns]")
        page.click("#new-campaign")
        page.fill("#f-key", "fans-news")
        page.fill("#f-name", "News for fans")
        page.select_option("#f-segment", "fans")
        expect(page.locator("#audience")).to_contain_text("3 contacts")
        page.select_option("#f-template", "news")
        expect(page.locator("#tpl-preview")).to_contain_text("Hello from the template")
        page.fill("#f-subjects", "Fresh news for fans")
        page.fill("#f-throttle", "100")
        shot(page, "campaign-new")
        page.click("#save-campaign")
        expect(page.locator("#notice")).to_contain_text("created")
        expect(page.locator("#approve")).to_have_count(0)  # a marketer cannot approve
        page.fill("#test-to", "me@agency.example")
        page.click("#send-test")
        expect(page.locator("#notice")).to_contain_text("sent 1 test(s) to me@agency.example")

        page.goto("about:blank")  # leave the page (and its preview frame) before the session goes
        page.context.clear_cookies()  # log in as someone else
        login(page, base, "admin@example.com")
        page.goto(f"{base}/campaigns/fans-news")
        page.click("#approve")
        expect(page.locator("#approved-by")).to_contain_text("admin@example.com")
        page.click("#schedule")
        expect(page.locator("#notice")).to_contain_text("scheduled")
        assert api.post("/api/test/settle").status_code == 200
        # the progress card polls: it shows the sent messages without a reload
        expect(page.locator("#progress .stat-value").nth(3)).to_have_text("3", timeout=45_000)
        page.goto(f"{base}/campaigns")
        expect(page.locator("#campaigns-table")).to_contain_text("News for fans")
        expect(page.locator("#campaigns-table")).to_contain_text("sent")
        shot(page, "campaign-sent")
    except Exception:
        shot(page, "failure-campaign")
        raise
    inbox = api.get("/api/inbox", params={"channel": "email"}).json()["items"]
    got = {(m["recipient"], m["subject"]) for m in inbox}
    assert {(f"fan{i}@example.org", "Fresh news for fans") for i in range(3)} <= got
    assert ("me@agency.example", "[test] Fresh news for fans") in got
    assert not [p for p in watch.problems if "favicon" not in p], watch.problems
