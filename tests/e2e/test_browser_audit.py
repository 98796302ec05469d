"""The Audit page and the blast-radius panel in a real browser (chromium) against the live
stack: no script errors or CSP refusals, the htmx panel loads beside Publish."""

from __future__ import annotations

from tests.e2e.test_browser_web import Watch, login, pytestmark, shot
from tests.e2e.test_browser_web import browser as browser  # noqa: F401  (the fixture)
from tests.integration.audit_fixture import PING, PONG
from tests.integration.channels_helpers import add_template
from tests.web_support import make_user
from tidings.application.journeys import journeys as js
from tidings.store.sql_uow import joined

__all__ = ["pytestmark"]

DRAFT = """key: browser-preview
triggers:
  - event: signed_up
steps:
  - id: hello
    type: send
    channel: email
    template: hello
"""


def test_audit_page_and_blast_radius_panel(live_stack, browser):  # noqa: F811
    c = live_stack.container
    now = c.clock.now()
    add_template(c.engine, now, "hello", subject="Hello")
    with c.engine.begin() as conn:
        js.publish(joined(conn), now, text=PING)
        js.publish(joined(conn), now, text=PONG)
        js.save_draft(joined(conn), DRAFT, now)
    make_user(c, "auditor@example.com", "marketer")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(10_000)
    watch = Watch(page)
    try:
        login(page, live_stack.url, "auditor@example.com")
        page.click("nav.sidebar a[data-nav=audit]")
        page.wait_for_selector("tr.finding[data-kind=journey_loop]")
        assert "ping → pong → ping" in page.inner_text("#findings") or "pong → ping → pong" in page.inner_text(
            "#findings"
        )
        shot(page, "audit")
        page.goto(f"{live_stack.url}/journeys/browser-preview")
        page.wait_for_selector("#would-enter")
        assert "would enter in the next 24 h" in page.inner_text("#blast-radius")
        shot(page, "blast-radius")
        assert watch.problems == []
    except Exception:
        shot(page, "audit-failure")
        raise
