"""The embeddable form in Chromium: a customer's page on another origin loads ``embed.js`` from the
live stack, the visitor fills it in and ticks the box, the script posts JSON across origins (CORS
for the listed origin only), the confirmation email arrives through real SMTP, and the visitor
confirms from the link in that email, in the same browser."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import LiveStack
from tests.e2e.test_browser_tracking_clients import Site, site, wait_for  # noqa: F401  (the customer site)
from tests.e2e.test_browser_web import CHROMIUM, browser  # noqa: F401  (the Chromium fixture)
from tidings.application.access.keys import create_key
from tidings.application.forms.forms import create_form
from tidings.clock import ManualClock
from tidings.store import schema
from tidings.store.sql_uow import SqlUnitOfWork

pytestmark = [pytest.mark.browser]
TEXT = "Send me the spring catalogue by email."


def _contact(eng: sa.Engine, email: str) -> dict[str, Any] | None:
    with eng.connect() as conn:
        row = conn.execute(sa.select(schema.contacts).where(schema.contacts.c.email == email)).mappings().first()
    return dict(row) if row else None


def _consent(eng: sa.Engine, contact_id: int) -> str | None:
    k = schema.consents
    with eng.connect() as conn:
        return conn.execute(sa.select(k.c.status).where(k.c.contact_id == contact_id)).scalar()


def test_embedded_form_on_another_origin_to_confirmed_consent(
    live_stack: LiveStack, clock: ManualClock, browser: Any, site: Site  # noqa: F811
) -> None:
    c = live_stack.container
    eng = c.engine
    create_form(c.uow(), {
        "key": "catalogue", "name": "Spring catalogue",
        "fields": [{"name": "email", "label": "Email", "type": "email", "required": True, "maps_to": "email"},
                   {"name": "first_name", "label": "First name", "maps_to": "first_name"}],
        "consents": [{"channel": "email", "text": TEXT}], "thank_you": "Thanks, check your inbox.",
        "allowed_origins": [site.origin],
    }, clock.now())
    _, key = create_key(SqlUnitOfWork(eng), "e2e", ["admin"], clock.now())
    join = "/join.html?utm_source=blog&utm_campaign=spring"  # the site's server matches the whole path
    site.pages[join] = (
        "<!doctype html><html><head><title>Shop</title></head><body><h1>Join us</h1>"
        '<div id="tidings-form-catalogue"></div>'
        f'<script src="{live_stack.url}/f/catalogue/embed.js" async></script></body></html>'
    )
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(site.origin + join)
    page.wait_for_load_state("networkidle")
    assert errors == [] and page.locator("#tidings-form-catalogue form").count() == 1, errors
    page.get_by_label("Email *").fill("rosa@example.org")
    page.get_by_label("First name").fill("Rosa")
    page.get_by_label(TEXT).check()
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_text("Thanks, check your inbox.").wait_for()
    assert errors == []

    contact = _contact(eng, "rosa@example.org")
    assert contact is not None and contact["first_name"] == "Rosa"
    assert contact["attributes"]["utm_source"] == "blog" and contact["attributes"]["utm_campaign"] == "spring"
    assert "referrer" not in contact["attributes"]  # the visitor typed the address: no referrer
    assert _consent(eng, contact["id"]) == "pending"

    with httpx.Client(base_url=live_stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        items = wait_for(lambda: http.get("/api/inbox", params={"recipient": "rosa@example.org"}).json()["items"],
                         "the confirmation email", 30)
        mail = http.get(f"/api/inbox/{items[0]['id']}").json()
    link = re.search(r"(http://\S+/f/confirm/[A-Za-z0-9_-]+)", mail["body_text"])
    assert link
    page.goto(link.group(1))
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_text("your subscription is confirmed").wait_for()
    assert _consent(eng, contact["id"]) == "granted"
    page.close()


def test_the_hosted_form_passes_axe_in_english_and_arabic(
    live_stack: LiveStack, clock: ManualClock, browser: Any  # noqa: F811
) -> None:
    from tests.e2e.test_browser_accessibility import _axe, _describe

    create_form(live_stack.container.uow(), {
        "key": "a11y", "name": "Newsletter",
        "fields": [{"name": "email", "label": "Email", "type": "email", "required": True, "maps_to": "email"},
                   {"name": "plan", "label": "Plan", "type": "select", "options": ["free", "pro"]}],
        "consents": [{"channel": "email", "text": TEXT}],
    }, clock.now())
    for lang in ("en", "ar"):
        # the page's own CSP stays on: axe is injected by the test, so only this context bypasses it
        context = browser.new_context(locale=lang, extra_http_headers={"Accept-Language": lang}, bypass_csp=True)
        page = context.new_page()
        try:
            page.goto(f"{live_stack.url}/f/a11y")
            assert page.get_attribute("html", "dir") == ("rtl" if lang == "ar" else "ltr")
            bad = _axe(page)
            assert not bad, f"{lang}: {_describe(bad)}"
            page.get_by_role("button").click()  # nothing filled in: the errors page, checked too
            page.wait_for_load_state("networkidle")
            bad = _axe(page)
            assert not bad, f"{lang} (errors): {_describe(bad)}"
        finally:
            context.close()
