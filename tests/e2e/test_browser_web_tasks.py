"""The tasks, dead letters and users pages in a real browser (Playwright + Debian chromium) on the
live stack: a journey's task step makes a task for the rep, the rep sees it (overdue once the clock
passes its due time) and marks it done, and the journey waiting for ``task.completed`` moves on;
an admin retries a dead letter and disables a user."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.e2e.test_browser_web import CHROMIUM, Watch, browser, login, shot  # noqa: F401 - fixture
from tests.web_support import PASSWORD, make_user
from tidings.application.access.keys import create_key
from tidings.application.access.users import create_user
from tidings.application.delivery.dead_letters import bury
from tidings.store import schema
from tidings.store.sql_uow import joined

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (/usr/bin/chromium)"
    ),
]

HANDOFF = """key: demo-handoff
name: Demo hand-off
triggers:
  - event: demo_requested
steps:
  - id: call
    type: task
    title: Call the demo lead
    team: sales
    due_in: 30m
  - id: wait-call
    type: wait_event
    event: task.completed
    timeout: 2d
    on_event: tag-called
    on_timeout: end
  - id: tag-called
    type: update_contact
    add_tags: [called]
"""


def test_browser_rep_completes_a_journey_task(live_stack, browser):  # noqa: F811 - the fixture
    from playwright.sync_api import expect

    c = live_stack.container
    create_user(c.uow(), "rep@example.com", PASSWORD, "marketer", c.clock.now(), name="Rita Rep", team="sales")
    key = create_key(c.uow(), "browser test", ["admin"], c.clock.now())[1]
    api = httpx.Client(base_url=live_stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    r = api.post("/api/journeys?publish=true", content=HANDOFF, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    r = api.post("/api/contacts", json={"email": "lead@example.org", "first_name": "Lena"})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert api.post("/api/events", json={"email": "lead@example.org", "name": "demo_requested"}).status_code == 202
    assert api.post("/api/test/clock/advance", json={"seconds": 1}).status_code == 200

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(10_000)
    watch = Watch(page)
    base = live_stack.url
    try:
        login(page, base, "rep@example.com")
        page.click("nav.sidebar a[data-nav=tasks]")
        page.wait_for_selector("#tasks-table")
        row = page.locator("#tasks-table tbody tr").first
        expect(row).to_contain_text("Call the demo lead")
        expect(row).to_contain_text("Demo hand-off")
        expect(row).to_contain_text("call")
        expect(row.locator("a.contact-link")).to_have_attribute("href", f"/contacts/{cid}")
        expect(page.locator("[data-show=overdue]")).to_contain_text("(0)")
        # the due time passes: the task is overdue
        assert api.post("/api/test/clock/advance", json={"seconds": 3600}).status_code == 200
        page.click("[data-show=overdue]")
        expect(page.locator("#tasks-table tbody tr").first).to_contain_text("overdue")
        shot(page, "11-tasks-overdue")
        page.click("#tasks-table button.complete")
        expect(page.locator(".alert.info")).to_contain_text("Done: “Call the demo lead”")
        expect(page.locator("#tasks-table")).to_have_count(0)  # nothing overdue any more
        page.click("[data-show=done]")
        expect(page.locator("#tasks-table tbody tr").first).to_contain_text("done")
        shot(page, "12-tasks-done")
        # the journey was waiting for task.completed: it moves on and tags the contact
        assert api.post("/api/test/clock/advance", json={"seconds": 60}).status_code == 200
        contact = api.get(f"/api/contacts/{cid}").json()
        assert "called" in contact["tags"], contact
        page.click("#tasks-table a.contact-link")
        page.wait_for_selector("#timeline")
        expect(page.locator("#timeline")).to_contain_text("task.completed")
    except Exception:
        shot(page, "failure-tasks")
        raise
    assert not [p for p in watch.problems if "favicon" not in p], watch.problems


def test_browser_admin_retries_a_dead_letter_and_disables_a_user(live_stack, browser):  # noqa: F811
    from playwright.sync_api import expect

    c = live_stack.container
    make_user(c, "admin@example.com", "admin")
    make_user(c, "leaver@example.com", "marketer")
    now = c.clock.now()
    with c.engine.begin() as conn:
        cid = conn.execute(
            sa.insert(schema.contacts).values(email="hook@example.org", attributes={}, created_at=now, updated_at=now)
        ).inserted_primary_key[0]
        row = {
            "contact_id": cid, "idempotency_key": "wh-browser", "kind": "webhook", "channel": "webhook",
            "payload": {"url": f"{live_stack.url}/sink/webhook/crm", "method": "POST", "body": {"x": 1},
                        "headers": {}},
            "status": "sending", "attempts": 5, "next_attempt_at": now, "created_at": now,
        }
        oid = conn.execute(sa.insert(schema.outbox).values(**row)).inserted_primary_key[0]
        bury(joined(conn), row | {"id": oid}, "HTTP 503 from the receiver", now)

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(10_000)
    watch = Watch(page)
    base = live_stack.url
    try:
        login(page, base, "admin@example.com")
        page.click("nav.sidebar a[data-nav=dead-letters]")
        expect(page.locator("#dead-letters-table")).to_contain_text("HTTP 503 from the receiver")
        shot(page, "13-dead-letters")
        page.click("#dead-letters-table button.retry")
        expect(page.locator(".alert.info")).to_contain_text("back in the outbox")
        expect(page.locator("#dead-letters-table")).to_have_count(0)
        with c.engine.connect() as conn:
            status = conn.execute(sa.select(schema.outbox.c.status).where(schema.outbox.c.id == oid)).scalar_one()
        assert status in ("pending", "sending", "sent", "delivered"), status

        page.goto(f"{base}/users")
        leaver = page.locator("#users-table tr", has_text="leaver@example.com")
        leaver.locator("button.disable").click()  # confirmed by Watch
        expect(page.locator(".alert.info")).to_contain_text("Disabled leaver@example.com")
        expect(page.locator("#users-table tr", has_text="leaver@example.com")).to_contain_text("disabled")
        shot(page, "14-users")
    except Exception:
        shot(page, "failure-admin")
        raise
    assert not [p for p in watch.problems if "favicon" not in p], watch.problems
    # the disabled user cannot log in
    other = browser.new_page()
    other.goto(f"{base}/login")
    other.fill("input[name=email]", "leaver@example.com")
    other.fill("input[name=password]", PASSWORD)
    other.click("button[type=submit]")
    expect(other.locator(".alert.error")).to_contain_text("wrong email or password")
