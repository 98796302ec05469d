"""Accessibility and languages in a real browser: axe-core (vendored, test-only:
tests/e2e/vendor/axe-core, MPL-2.0) on the main pages in English and Arabic fails on serious or
critical violations; the UI switched to Ukrainian and Arabic through the header's switcher shows
translated text and a right-to-left page."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_browser_web import CHROMIUM, browser, login, shot  # noqa: F401  (fixture)
from tests.web_support import make_user
from tidings.application.access.keys import create_key

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe-4.14.1.min.js"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (/usr/bin/chromium)"),
]

JOURNEY = """key: a11y-welcome
name: Accessible welcome
triggers:
  - event: signed_up
steps:
  - id: hello
    type: send
    channel: email
    template: a11y-hello
"""


def _seed(base: str, key: str) -> int:
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    r = api.put("/api/templates/a11y-hello", json={"channel": "email", "subject": "Hello", "body": "<p>Hi</p>"})
    assert r.status_code in (200, 201), r.text
    r = api.post("/api/journeys?publish=true", content=JOURNEY, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    r = api.post("/api/segments", json={"key": "everyone", "name": "Everyone", "rule": "score >= 0"})
    assert r.status_code == 201, r.text
    r = api.post(
        "/api/contacts",
        json={"email": "ana@example.com", "first_name": "Ana",
              "consent": {"email": {"status": "granted", "source": "form", "proof": {"text": "yes"}}}},
    )
    assert r.status_code == 201, r.text
    assert api.post("/api/events", json={"email": "ana@example.com", "name": "signed_up"}).status_code == 202
    assert api.post("/api/test/settle").status_code == 200
    return int(r.json()["id"])


def _axe(page: object) -> list[dict[str, object]]:
    page.evaluate(AXE.read_text())  # type: ignore[attr-defined]
    result = page.evaluate(  # type: ignore[attr-defined]
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def _describe(violations: list[dict[str, object]]) -> str:
    return json.dumps(
        [{"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"][:3]]} for v in violations],
        indent=1,
    )


def test_main_pages_pass_axe_in_english_and_arabic(live_stack, browser):  # noqa: F811
    c = live_stack.container
    make_user(c, "marketer@example.com", "marketer")
    key = create_key(c.uow(), "a11y test", ["admin"], c.clock.now())[1]
    base = live_stack.url
    contact_id = _seed(base, key)
    pages = ["/", "/contacts", f"/contacts/{contact_id}", "/journeys", "/journeys/a11y-welcome", "/segments",
             "/templates", "/inbox"]
    for lang in ("en", "ar"):
        context = browser.new_context(locale=lang, extra_http_headers={"Accept-Language": lang},
                                      viewport={"width": 1400, "height": 900}, bypass_csp=True)
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            page.goto(f"{base}/login")
            found = {"/login": _axe(page)}
            login(page, base, "marketer@example.com")
            for path in pages:
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
                assert page.get_attribute("html", "dir") == ("rtl" if lang == "ar" else "ltr")
                found[path] = _axe(page)
            bad = {p: v for p, v in found.items() if v}
            assert not bad, f"{lang}: " + "; ".join(f"{p}: {_describe(v)}" for p, v in bad.items())
        except Exception:
            shot(page, f"a11y-{lang}-failure")
            raise
        finally:
            context.close()


def test_switching_the_ui_to_ukrainian_and_arabic(live_stack, browser):  # noqa: F811
    c = live_stack.container
    make_user(c, "marketer@example.com", "marketer")
    base = live_stack.url
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(15_000)
    try:
        login(page, base, "marketer@example.com")
        page.goto(f"{base}/contacts")
        assert page.get_attribute("html", "lang") == "en"
        page.select_option("#language-select", "uk")  # the switcher posts itself
        page.wait_for_function("document.documentElement.lang === 'uk'")
        assert "/contacts" in page.url
        assert "Контакти" in page.inner_text("nav.sidebar") and "Вийти" in page.inner_text("nav.sidebar")
        assert page.get_attribute("html", "dir") == "ltr"
        shot(page, "lang-uk-contacts")
        page.select_option("#language-select", "ar")
        page.wait_for_function("document.documentElement.lang === 'ar'")
        assert page.get_attribute("html", "dir") == "rtl"
        assert "جهات الاتصال" in page.inner_text("nav.sidebar")
        # mirrored: the sidebar is on the right
        box = page.locator("nav.sidebar").bounding_box()
        assert box is not None and box["x"] > 700
        shot(page, "lang-ar-contacts")
        page.goto(f"{base}/")  # the choice is the user's: it stays
        assert page.get_attribute("html", "lang") == "ar"
    except Exception:
        shot(page, "lang-failure")
        raise
    finally:
        page.close()
