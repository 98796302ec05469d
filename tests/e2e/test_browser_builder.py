"""The visual journey builder in Chromium, from an empty /journeys/new to a message in the
inbox: a trigger on an event, a send of an email template, an exit — built with the builder's
controls only, published, triggered through the API, and counted on the journey's graph."""

from __future__ import annotations

import re

import httpx

from tests.e2e.test_browser_web import Watch, browser, login, pytestmark, shot  # noqa: F401 (fixture, marks)
from tests.web_support import make_user
from tidings.application.access.keys import create_key


def test_build_publish_trigger_and_count(live_stack, browser):  # noqa: F811 (the fixture)
    from playwright.sync_api import expect

    c = live_stack.container
    make_user(c, "marketer@example.com", "marketer")
    key = create_key(c.uow(), "builder test", ["admin"], c.clock.now())[1]
    api = httpx.Client(base_url=live_stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    hello = {"subject": "Built {{ contact.first_name|default('friend') }}", "body": "<h1>Hi</h1>"}
    r = api.put("/api/templates/builder-hello", json=hello)
    assert r.status_code == 200, r.text
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.set_default_timeout(10_000)
    watch = Watch(page)
    try:
        login(page, live_stack.url, "marketer@example.com")
        page.goto(f"{live_stack.url}/journeys/new")
        page.wait_for_selector("#journey-builder[data-ready]")
        # the empty document's problems, in the words of `tidings journeys validate`
        expect(page.locator("#builder-problems")).to_contain_text("key is required")
        page.fill("input[name=b-key]", "builder-welcome")
        page.fill("input[name=b-name]", "Built in the browser")
        page.fill("input[name=b-trigger-0]", "signed_up")
        page.select_option("select[name=b-add-first-type]", "send")
        page.click("#add-first")
        page.select_option("select[name=b-template]", "builder-hello")
        expect(page.frame_locator("iframe.template-preview").locator("h1")).to_have_text("Hi")
        page.select_option("select[name=b-add-after-type]", "exit")
        page.click("#add-after")
        page.fill("input[name=b-reason]", "done")
        expect(page.locator(".drawflow-node")).to_have_count(3)  # triggers, send, exit
        expect(page.locator(".drawflow .connection")).to_have_count(2)
        page.wait_for_selector("#journey-builder[data-state=ready]")
        page.wait_for_selector("#builder-valid")
        source = page.input_value("textarea[name=source]")
        assert "template: builder-hello" in source and "- event: signed_up" in source, source
        assert "type: exit" in source and "reason: done" in source, source
        # a step dragged elsewhere keeps its place in the document (layout:)
        node = page.locator(".drawflow-node.df-exit")
        box = node.bounding_box()
        page.mouse.move(box["x"] + 40, box["y"] + 15)
        page.mouse.down()
        page.mouse.move(box["x"] + 40, box["y"] + 215, steps=5)
        page.mouse.up()
        expect(page.locator("textarea[name=source]")).to_have_value(re.compile(r"layout:\n  exit-1: \[\d+, \d+\]"))
        shot(page, "builder-01-journey")
        # the YAML tab shows the same document
        page.click("#tab-yaml")
        expect(page.locator("textarea[name=source]")).to_be_visible()
        page.click("#tab-builder")
        page.click("#save-draft")
        page.wait_for_url("**/journeys/builder-welcome")
        page.click("#publish")
        page.wait_for_selector("text=published version 1")

        r = api.post(
            "/api/contacts",
            json={
                "email": "ada@example.com",
                "first_name": "Ada",
                "consent": {"email": {"status": "granted", "source": "form", "proof": {"text": "Yes"}}},
            },
        )
        assert r.status_code == 201, r.text
        assert api.post("/api/events", json={"email": "ada@example.com", "name": "signed_up"}).status_code == 202
        assert api.post("/api/test/settle").status_code == 200

        page.goto(f"{live_stack.url}/inbox")
        page.wait_for_selector("#inbox-table")
        assert "Built Ada" in page.inner_text("#inbox-table")
        page.goto(f"{live_stack.url}/journeys/builder-welcome")
        graph = page.locator(".graph svg").text_content() or ""
        assert re.search(r"\b1 passed", graph), graph
        shot(page, "builder-02-counts")
        # editing again opens the builder on the published document, with a diff link
        page.goto(f"{live_stack.url}/journeys/builder-welcome/edit")
        page.wait_for_selector("#journey-builder[data-ready]")
        expect(page.locator(".drawflow-node")).to_have_count(3)
        expect(page.locator("#diff-published")).to_be_visible()
        # a branch step edits its condition with the segment pages' rule builder
        page.locator("#step-list button[data-step=send-1]").click()
        page.select_option("select[name=b-add-after-type]", "branch")
        page.click("#add-after")
        page.locator("#step-panel .rb-condition").first.get_by_label("Tag").fill("gold")
        expect(page.locator("textarea[name=source]")).to_have_value(re.compile(r'when: tag\("gold"\)\n\s+next: exit-1'))
        page.wait_for_selector("#journey-builder[data-state=ready]")
        expect(page.locator("#builder-problems")).to_contain_text("The document is valid.")
    except Exception:
        shot(page, "builder-failure")
        raise
    assert not [p for p in watch.problems if "favicon" not in p], watch.problems
