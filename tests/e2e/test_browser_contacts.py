"""Contacts and settings in a real browser (Playwright, Debian chromium) against a live server:
import a CSV through the wizard (upload, map, consent, run, report, error download), create,
edit and tag a contact, create an API key in /settings and use it against the API."""

from __future__ import annotations

import httpx

from tests.e2e.test_browser_web import CHROMIUM, Watch, browser, login, pytestmark, shot  # noqa: F401
from tests.web_support import make_user

CSV = (
    "Email,First name,City,Newsletter\n"
    "mia@shop.test,Mia,Lyon,yes\n"
    "broken-address,Ned,Rome,yes\n"
    "ola@shop.test,Ola,Lyon,perhaps\n"
    "pia@shop.test,Pia,Oslo,no\n"
)


def test_browser_import_wizard_then_create_edit_and_tag(live_server, browser, tmp_path):  # noqa: F811
    make_user(live_server.container, "marketer@example.com", "marketer")
    path = tmp_path / "fair.csv"
    path.write_text(CSV, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(10_000)
    watch = Watch(page)
    try:
        login(page, live_server.url, "marketer@example.com")
        page.goto(f"{live_server.url}/contacts")
        page.click("#import-contacts")
        page.set_input_files("input[name=file]", str(path))
        page.click("#upload-form button[type=submit]")
        page.wait_for_selector("#preview")
        assert "broken-address" in page.inner_text("#preview")
        page.select_option("select[name=map_2]", "attributes.City")
        page.select_option("select[name=map_3]", "consent_email")
        page.fill("#consent-source", "spring fair sheet")
        page.fill("#import-tags", "fair")
        shot(page, "import-mapping")
        page.click("#run-import")
        page.wait_for_selector("#import-done")
        assert page.inner_text("#n-created") == "2" and page.inner_text("#n-rejected") == "2"
        assert "perhaps" in page.inner_text("#rejected")
        with page.expect_download() as dl:
            page.click("#errors-download")
        report = dl.value.path().read_text(encoding="utf-8").splitlines()
        assert report[0].startswith("line,column,message") and len(report) == 3
        shot(page, "import-report")

        page.goto(f"{live_server.url}/contacts?q=lyon")
        assert "mia@shop.test" in page.inner_text("#results") and "pia@shop.test" not in page.inner_text("#results")

        page.goto(f"{live_server.url}/contacts")
        page.click("#new-contact")
        page.fill("#field-email", "quinn@shop.test")
        page.fill("#field-first_name", "Quinn")
        page.fill("#field-attributes", '{"plan": "pro"}')
        page.click("#contact-form button[type=submit]")
        page.wait_for_selector("#contact-name")
        assert page.inner_text("#contact-name") == "Quinn"
        page.click("#edit-contact")
        page.fill("#field-last_name", "Quist")
        page.click("#contact-form button[type=submit]")
        page.wait_for_selector("#add-tags")
        assert page.inner_text("#contact-name") == "Quinn Quist"
        page.fill("#add-tags input[name=tags]", "vip, beta")
        page.click("#add-tags button[type=submit]")
        page.wait_for_selector("#tags >> text=vip")
        page.click("#tags button[aria-label='Remove tag beta']")
        page.wait_for_selector("#add-tags")
        assert "beta" not in page.inner_text("#tags") and "vip" in page.inner_text("#tags")
        assert "pro" in page.inner_text("#attributes")
        shot(page, "contact-edited")
        assert watch.problems == []
    finally:
        page.close()


def test_browser_settings_creates_an_api_key_the_api_accepts(live_server, browser):  # noqa: F811
    make_user(live_server.container, "admin@example.com", "admin")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(10_000)
    watch = Watch(page)
    try:
        login(page, live_server.url, "admin@example.com")
        page.click("nav.sidebar a[data-nav=settings]")
        page.wait_for_selector("#create-key")
        page.fill("#create-key input[name=name]", "shop backend")
        page.check("#create-key input[value=read]")
        page.click("#create-key button[type=submit]")
        secret = page.inner_text("#new-key-secret").strip()
        shot(page, "settings-key")
        r = httpx.post(
            f"{live_server.url}/api/contacts",
            json={"email": "api@shop.test"},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert r.status_code in (200, 201), r.text
        page.goto(f"{live_server.url}/contacts?q=api%40shop")
        assert "api@shop.test" in page.inner_text("#results")
        assert watch.problems == []
    finally:
        page.close()
