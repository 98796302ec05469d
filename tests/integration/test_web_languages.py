"""Web UI languages: Accept-Language, the header's switcher and the account page's language and
time zone (stored on the user), right-to-left Arabic, translated notices; concurrent renders
in different languages do not leak into each other."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from tests.web_support import csrf_of, web_app, web_client


def _html_tag(text: str) -> str:
    m = re.search(r"<html[^>]*>", text)
    assert m
    return m.group(0)


def test_the_login_page_follows_accept_language(container):
    with TestClient(web_app(container)) as client:
        assert 'lang="en" dir="ltr"' in _html_tag(client.get("/login").text)
        uk = client.get("/login", headers={"Accept-Language": "uk-UA,uk;q=0.9"})
        assert 'lang="uk" dir="ltr"' in _html_tag(uk.text)
        assert "Увійдіть до свого маркетингового простору." in uk.text
        ar = client.get("/login", headers={"Accept-Language": "ar"})
        assert 'lang="ar" dir="rtl"' in _html_tag(ar.text)
        assert "تسجيل الدخول" in ar.text
        zh = client.get("/login", headers={"Accept-Language": "zh-CN"})
        assert 'lang="zh-Hans"' in _html_tag(zh.text) and "登录" in zh.text


def test_the_switcher_stores_the_language_on_the_user(container):
    with web_client(container, "marketer") as (client, token):
        page = client.get("/contacts")
        assert 'id="language-switcher"' in page.text and "Contacts" in page.text
        r = client.post(
            "/language", data={"csrf_token": token, "locale": "th", "next": "/contacts"}, follow_redirects=False
        )
        assert r.status_code == 303 and r.headers["location"] == "/contacts"
        th = client.get("/contacts", headers={"Accept-Language": "uk"})  # the stored choice wins
        assert 'lang="th"' in _html_tag(th.text) and "ผู้ติดต่อ" in th.text
        r = client.post("/language", data={"csrf_token": token, "locale": "xx"}, follow_redirects=False)
        assert r.status_code == 403


def test_the_account_page_sets_language_and_time_zone(container):
    with web_client(container, "viewer") as (client, token):
        r = client.post(
            "/account/preferences",
            data={"csrf_token": token, "locale": "ar", "timezone": "asia/dubai"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        page = client.get("/account?done=preferences")
        assert 'dir="rtl"' in _html_tag(page.text)
        assert "تم الحفظ." in page.text and 'value="Asia/Dubai"' in page.text
        bad = client.post("/account/preferences", data={"csrf_token": token, "locale": "", "timezone": "Mars/Base"})
        assert bad.status_code == 422 and "Mars/Base" in bad.text
        # cleared: back to the browser's language
        client.post("/account/preferences", data={"csrf_token": token, "locale": "", "timezone": ""})
        assert 'lang="lo"' in _html_tag(client.get("/account", headers={"Accept-Language": "lo"}).text)


def test_a_notice_of_a_handler_is_translated(container):
    with web_client(container, "admin") as (client, token):
        client.post("/language", data={"csrf_token": token, "locale": "uk"})
        page = client.get("/users")
        r = client.post(
            "/users",
            data={
                "csrf_token": csrf_of(page.text),
                "email": "new@example.com",
                "role": "viewer",
                "password": "a-long-password-1",
                "name": "",
                "team": "",
            },
        )
        assert "Додано new@example.com." in r.text


def test_concurrent_renders_keep_their_own_language(container):
    with TestClient(web_app(container)) as client:
        langs = ["uk", "ar", "th", "lo", "zh-CN", "en"] * 6

        def get(lang: str) -> tuple[str, str]:
            return lang, client.get("/login", headers={"Accept-Language": lang}).text

        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(get, langs))
    words = {"uk": "Увійти", "ar": "تسجيل الدخول", "th": "เข้าสู่ระบบ", "lo": "ເຂົ້າສູ່ລະບົບ", "zh-CN": "登录", "en": "Log in"}
    for lang, text in results:
        assert words[lang] in text, lang
        others = [w for k, w in words.items() if k != lang and k != "en"]
        assert not any(w in text for w in others), lang


def test_every_page_renders_in_every_language(container):
    """Each GET page of the web app, in each UI language: no translation breaks a render."""
    from starlette.routing import Route

    from tidings.domain.access import UI_LOCALES
    from tidings.web import app as web_app_module

    paths = sorted(
        r.path
        for module in web_app_module.PAGES
        for r in module.router.routes
        if isinstance(r, Route) and "GET" in (r.methods or set()) and "{" not in r.path and not r.path.endswith(".json")
    )
    assert "/contacts" in paths and "/account" in paths
    with web_client(container, "admin") as (client, token):
        for code in UI_LOCALES:
            client.post("/language", data={"csrf_token": token, "locale": code})
            for path in paths:
                r = client.get(path, follow_redirects=False)
                assert r.status_code in (200, 303), (code, path, r.status_code)
                if r.status_code == 200 and r.headers["content-type"].startswith("text/html") and "<html" in r.text:
                    assert f'lang="{code.replace("_", "-")}"' in _html_tag(r.text), (code, path)
