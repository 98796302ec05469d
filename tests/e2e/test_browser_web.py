"""The web app in a real browser (Playwright driving Debian's chromium) against the live stack:
log in, write a template, build a segment, publish a journey, send an event through the API, see
the message in the inbox and its "why" on the contact. Screenshots go to TIDINGS_TEST_ARTIFACTS."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.web_support import PASSWORD, make_user
from tidings.application.access.keys import create_key

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("TIDINGS_TEST_ARTIFACTS", "test-artifacts"))

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (/usr/bin/chromium)"
    ),
]

JOURNEY = """key: browser-welcome
name: Browser welcome
triggers:
  - event: signed_up
steps:
  - id: hello
    type: send
    channel: email
    template: browser-hello
  - id: tag-it
    type: update_contact
    add_tags: [welcomed]
"""

FOLLOW_UP = """key: browser-follow-up
name: Browser follow-up
triggers:
  - tag_added: welcomed
steps:
  - id: later
    type: wait
    duration: 2d
  - id: nudge
    type: send
    channel: email
    template: browser-hello
"""

XSS = "<script>alert(1)</script>"


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


class Watch:
    """Collects what would show a broken page: script errors, CSP refusals, alert() calls."""

    def __init__(self, page: object) -> None:
        self.problems: list[str] = []
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))  # type: ignore[attr-defined]
        page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}")  # type: ignore[attr-defined]
                if m.type == "error"
                else None
            ),
        )
        page.on("dialog", self._dialog)  # type: ignore[attr-defined]

    def _dialog(self, dialog: object) -> None:
        if dialog.type == "confirm":  # type: ignore[attr-defined]
            dialog.accept()  # type: ignore[attr-defined]  # our "Publish the draft?" question
        else:
            self.problems.append(f"dialog: {dialog.message}")  # type: ignore[attr-defined]
            dialog.dismiss()  # type: ignore[attr-defined]


def shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)  # type: ignore[attr-defined]


def login(page: object, base: str, email: str) -> None:
    page.goto(f"{base}/")  # type: ignore[attr-defined]
    assert "/login" in page.url  # type: ignore[attr-defined]
    page.fill("input[name=email]", email)  # type: ignore[attr-defined]
    page.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_selector("nav.sidebar")  # type: ignore[attr-defined]


def test_browser_journey_to_inbox_and_why(live_stack, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(10_000)
    try:
        _journey_to_inbox_and_why(live_stack, page)
    except Exception:
        shot(page, "failure")
        raise


def _journey_to_inbox_and_why(live_stack, page):
    from playwright.sync_api import expect

    c = live_stack.container
    make_user(c, "marketer@example.com", "marketer")
    key = create_key(c.uow(), "browser test", ["admin"], c.clock.now())[1]
    api = httpx.Client(base_url=live_stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    watch = Watch(page)
    base = live_stack.url

    login(page, base, "marketer@example.com")
    shot(page, "01-dashboard-empty")

    # a template, written in the editor
    page.goto(f"{base}/templates/new")
    page.fill("input[name=key]", "browser-hello")
    page.fill("input[name=subject]", "Welcome {{ contact.first_name|default('friend') }}")
    page.fill(
        "textarea[name=body]",
        "<h1>Hello {{ contact.first_name|default('friend') }}</h1>"
        '<p><a href="https://example.com/go">Go</a></p>',
    )
    page.click("#template-form button[type=submit]")
    page.wait_for_selector("text=saved")
    page.wait_for_selector("#preview iframe")
    assert "Hello friend" in page.frame_locator("#preview iframe").locator("h1").inner_text()
    shot(page, "02-template-editor")
    # the unsaved-changes preview renders into its sandboxed frame
    page.fill("textarea[name=body]", "<h1>Draft {{ contact.first_name|default('friend') }}</h1>")
    page.click("#preview-draft")
    expect(page.frame_locator("iframe.draft").locator("h1")).to_have_text("Draft friend")
    page.click("#send-test")
    page.wait_for_selector("text=test sent to marketer@example.com")

    # two journeys: the second starts when the first one tags the contact
    for doc in (JOURNEY, FOLLOW_UP):
        page.goto(f"{base}/journeys/new")
        page.click("#tab-yaml")  # the document as text (the builder is the other tab)
        page.fill("textarea[name=source]", doc)
        expect(page.locator("#live svg g.node").first).to_be_visible()  # drawn as it is typed
        if doc is FOLLOW_UP:
            shot(page, "03a-journey-editor")
        page.click("#save-draft")
        page.wait_for_selector("#publish")
        page.click("#publish")
        page.wait_for_selector("text=published version 1")
    assert page.locator("svg g.node").count() >= 3
    shot(page, "03-journey-graph")

    page.goto(f"{base}/journeys/map")
    assert page.locator("#links-table").inner_text().count("welcomed") >= 1
    shot(page, "04-journey-map")

    # a contact (with a hostile name) and an event, through the API
    r = api.post(
        "/api/contacts",
        json={
            "email": "eve@example.com",
            "first_name": XSS,
            "consent": {"email": {"status": "granted", "source": "form", "proof": {"text": "Yes please"}}},
        },
    )
    assert r.status_code == 201, r.text
    r = api.post("/api/events", json={"email": "eve@example.com", "name": "signed_up"})
    assert r.status_code == 202, r.text
    assert api.post("/api/test/settle").status_code == 200

    # the message in the inbox, rendered in a sandboxed frame
    page.goto(f"{base}/inbox")
    page.wait_for_selector("#inbox-table")
    assert "[test] Welcome friend" in page.inner_text("#inbox-table")  # the test send
    page.click("#inbox-table a >> text=Welcome <script>")
    page.wait_for_selector("iframe.preview")
    frame = page.frame_locator("iframe.preview")
    assert "Hello" in frame.locator("h1").inner_text()
    shot(page, "05-inbox-message")

    # the contact: timeline and the "why" of the message
    page.goto(f"{base}/contacts?q=eve@")
    page.click("#results a")
    page.wait_for_selector("#timeline")
    assert page.locator("#contact-name").inner_text() == XSS  # shown as text, never run
    page.click(".why-link")
    page.wait_for_selector(".why-box")
    why = page.locator(".why-box").inner_text()
    assert "browser-welcome" in why and "hello" in why and "v1" in why
    shot(page, "06-contact-why")

    # the follow-up journey picked the contact up (the tag link is real)
    page.goto(f"{base}/journeys/browser-follow-up")
    assert "1 waiting" in (page.locator(".graph svg").text_content() or "")
    page.goto(f"{base}/")
    page.wait_for_selector("canvas[data-ready]")  # Chart.js drew (the data came from the JSON endpoint)
    shot(page, "07-dashboard")

    page.goto(f"{base}/journeys/browser-welcome/simulate")
    page.click("#run-simulation")
    page.wait_for_selector(".scenario")
    shot(page, "08-simulation")

    assert not [p for p in watch.problems if "favicon" not in p], watch.problems


def test_browser_segment_builder(live_stack, browser):
    c = live_stack.container
    make_user(c, "marketer@example.com", "marketer")
    key = create_key(c.uow(), "browser test", ["admin"], c.clock.now())[1]
    api = httpx.Client(base_url=live_stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    for i in range(3):
        body = {
            "email": f"buyer{i}@example.com",
            "first_name": f"Buyer {i}",
            "tags": ["vip"] if i < 2 else [],
        }
        assert api.post("/api/contacts", json=body).status_code == 201
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(10_000)
    watch = Watch(page)
    try:
        login(page, live_stack.url, "marketer@example.com")
        page.goto(f"{live_stack.url}/segments/new")
        page.fill("input[name=key]", "vip-buyers")
        page.fill("input[name=name]", "VIP buyers")
        # compose with the rule builder: the starting rule is tag("vip"); add "email contains buyer1"
        expect(page.locator("#match-count")).to_have_text("2")
        first = page.locator("#rule-builder .rb-condition").first
        expect(first.get_by_label("Tag")).to_have_value("vip")
        page.click("#rule-builder .rb-add-condition")
        second = page.locator("#rule-builder .rb-condition").nth(1)
        second.get_by_label("Condition").select_option("field")
        second.get_by_label("Field").select_option("email")
        second.get_by_label("Operator").select_option("contains")
        second.get_by_label("Value").fill("buyer")
        expect(page.locator("#rule-text")).to_have_value('tag("vip") and email contains "buyer"')
        expect(page.locator("#match-count")).to_have_text("2")
        page.get_by_label("Match").first.select_option("any")
        expect(page.locator("#rule-text")).to_have_value('tag("vip") or email contains "buyer"')
        expect(page.locator("#match-count")).to_have_text("3")
        page.get_by_label("Match").first.select_option("all")
        expect(page.locator("#match-count")).to_have_text("2")
        # typing a broken rule shows where it breaks; fixing it brings the count back
        page.fill("#rule-text", 'tag("vip") and')
        page.wait_for_selector("#rule-error")
        page.fill("#rule-text", 'tag("vip") and email contains "buyer1"')
        expect(page.locator("#match-count")).to_have_text("1")
        # the text goes back into the builder
        expect(page.locator("#rule-builder .rb-condition").nth(1).get_by_label("Value")).to_have_value("buyer1")
        shot(page, "09-segment-builder")
        page.click("#save-segment")
        page.wait_for_url("**/segments/vip-buyers")
        page.wait_for_selector("canvas[data-ready]")
        assert "1 member now" in page.inner_text(".page-head")
        shot(page, "10-segment-detail")
    except Exception:
        shot(page, "failure-segments")
        raise
    assert not [p for p in watch.problems if "favicon" not in p], watch.problems
