"""The Simulation page's scenario builder in a real browser (strict CSP, our own script): fill the
contact, add and remove attribute rows, add an event with a property in place (no page load),
run, and read the timeline as sentences and the scenario as YAML; axe-core finds no serious or
critical violation on the page."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.test_browser_accessibility import _axe, _describe
from tests.e2e.test_browser_web import CHROMIUM, Watch, browser, login, shot  # noqa: F401 - fixture
from tests.integration.test_web_scenario_builder import TRIAL
from tests.web_support import make_user
from tidings.application.access.keys import create_key

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (/usr/bin/chromium)"),
]


def test_browser_builds_a_scenario_and_sees_the_timeline(live_stack, browser):  # noqa: F811 - the fixture
    from playwright.sync_api import expect

    c = live_stack.container
    make_user(c, "marketer@example.com", "marketer")
    key = create_key(c.uow(), "browser test", ["admin"], c.clock.now())[1]
    api = httpx.Client(base_url=live_stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    r = api.post("/api/journeys?publish=true", content=TRIAL, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    base = live_stack.url

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(20_000)
    watch = Watch(page)
    try:
        login(page, base, "marketer@example.com")
        page.goto(f"{base}/journeys/trial/simulate")
        page.fill("#sc-email", "olena@example.com")
        page.fill("#sc-timezone", "Europe/Kyiv")
        attrs = page.locator("tbody[data-rows=attr] > tr")
        expect(attrs).to_have_count(1)
        attrs.nth(0).locator("input[name=attr-key]").fill("company_size")
        attrs.nth(0).locator("input[name=attr-value]").fill("80")
        url = page.url
        page.click("button[value=add-attr]")
        expect(attrs).to_have_count(2)  # added in place
        attrs.nth(1).locator("input[name=attr-key]").fill("plan")
        page.click("button[value=add-attr]")
        expect(attrs).to_have_count(3)
        attrs.nth(2).locator("button[data-row-remove]").click()
        expect(attrs).to_have_count(2)
        assert page.url == url  # no round trip for rows

        # the trigger's event is there (entering by events); add a second one with a property
        expect(page.locator("#ev-0-name")).to_have_value("trial.started")
        page.click("button[value=add-event]")
        new = page.locator("[data-event][data-index='2']")
        new.locator("input[name='ev-2-name']").fill("page.viewed")
        new.locator("input[name='ev-2-at']").fill("2h")
        new.locator("button[data-row-add]").click()
        props = new.locator("tbody > tr")
        expect(props).to_have_count(2)
        props.nth(0).locator("input[name='ev-2-key']").fill("path")
        props.nth(0).locator("input[name='ev-2-value']").fill("/pricing")
        page.select_option("#msg-choice-welcome", "ignores")
        shot(page, "scenario-builder-form")

        page.click("#run-built-scenario")
        page.wait_for_selector(".scenario")
        story = page.locator("[data-testid=story]")
        expect(story).to_contain_text("Entered")
        expect(page.locator(".scenario table")).to_contain_text("sales-call")
        expect(page.locator(".unreached-step", has_text="nudge")).to_have_count(1)
        yaml_text = page.locator("#built-yaml").inner_text()
        assert "company_size: 80" in yaml_text and "page.viewed" in yaml_text and "/pricing" in yaml_text
        assert "olena@example.com" in yaml_text and "plan" in yaml_text
        # the form comes back as it was filled
        expect(page.locator("#sc-timezone")).to_have_value("Europe/Kyiv")
        expect(page.locator("#ev-2-name")).to_have_value("page.viewed")
        shot(page, "scenario-builder-result")
        assert not [p for p in watch.problems if "favicon" not in p], watch.problems
    except Exception:
        shot(page, "scenario-builder-failure")
        raise

    context = browser.new_context(viewport={"width": 1400, "height": 1000}, bypass_csp=True)
    a11y = context.new_page()
    try:
        login(a11y, base, "marketer@example.com")
        a11y.goto(f"{base}/journeys/trial/simulate")
        found = _axe(a11y)
        assert not found, _describe(found)
    finally:
        context.close()
