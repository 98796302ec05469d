"""Web app: login, sessions, CSRF, roles, security headers, escaping."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.web_support import PASSWORD, csrf_of, login, make_user, web_app, web_client
from tidings.application.access.users import set_password
from tidings.store import schema


def test_pages_need_a_login(container):
    with TestClient(web_app(container)) as client:
        r = client.get("/contacts?q=x", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=/contacts%3Fq%3Dx"
        r = client.get("/", headers={"HX-Request": "true"}, follow_redirects=False)
        assert r.headers["HX-Redirect"].startswith("/login")


def test_login_wrong_password_keeps_the_email_and_says_why(container):
    make_user(container, "ann@example.com", "marketer")
    with TestClient(web_app(container)) as client:
        page = client.get("/login")
        r = client.post(
            "/login",
            data={"email": "ann@example.com", "password": "nope-nope-nope", "csrf_token": csrf_of(page.text)},
        )
        assert r.status_code == 401
        assert "wrong email or password" in r.text
        assert 'value="ann@example.com"' in r.text
        assert "tidings_session" not in r.cookies


def test_login_form_without_its_csrf_cookie_is_refused(container):
    make_user(container, "ann@example.com", "marketer")
    with TestClient(web_app(container)) as client:
        r = client.post(
            "/login", data={"email": "ann@example.com", "password": PASSWORD, "csrf_token": "forged"}
        )
        assert r.status_code == 403
        assert client.get("/", follow_redirects=False).status_code == 303


def test_login_redirects_only_to_our_own_pages(container):
    make_user(container, "ann@example.com", "marketer")
    with TestClient(web_app(container)) as client:
        page = client.get("/login?next=//evil.example/x")
        r = client.post(
            "/login",
            data={
                "email": "ann@example.com",
                "password": PASSWORD,
                "next": "//evil.example/x",
                "csrf_token": csrf_of(page.text),
            },
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == "/"


def _session_rows(container) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(schema.web_sessions)).scalar_one())


def test_session_ends_on_logout(container):
    with web_client(container) as (client, token):
        cookie = client.cookies.get("tidings_session")
        assert cookie and client.get("/contacts").status_code == 200
        assert _session_rows(container) == 1
        r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert _session_rows(container) == 0  # ended on the server, not only forgotten by the browser
        client.cookies.set("tidings_session", cookie)  # the same cookie, sent again
        r = client.get("/contacts", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_stolen_cookie_is_useless_after_logout(container):
    with web_client(container) as (client, token):
        cookie = client.cookies.get("tidings_session")
        assert cookie
        with TestClient(web_app(container), cookies={"tidings_session": cookie}) as thief:
            assert thief.get("/contacts", follow_redirects=False).status_code == 200  # it works while logged in
        assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    with TestClient(web_app(container), cookies={"tidings_session": cookie}) as other:
        for page in ("/", "/contacts"):
            r = other.get(page, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), page


def test_password_change_ends_every_session(container):
    with web_client(container, "viewer") as (client, token):
        set_password(container.uow(), "viewer@example.com", "another password 123", container.clock.now())
        assert client.get("/", follow_redirects=False).status_code == 303


def test_change_own_password_with_field_errors(container):
    with web_client(container, "viewer") as (client, token):
        r = client.post(
            "/account/password",
            data={"csrf_token": token, "current": "wrong", "new": "x" * 12, "again": "x" * 12},
        )
        assert r.status_code == 422 and "not your current password" in r.text
        r = client.post(
            "/account/password",
            data={"csrf_token": token, "current": PASSWORD, "new": "short", "again": "short"},
        )
        assert r.status_code == 422 and "at least 10 characters" in r.text
        r = client.post(
            "/account/password",
            data={
                "csrf_token": token,
                "current": PASSWORD,
                "new": "a much better one",
                "again": "a much better one",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert client.get("/", follow_redirects=False).status_code == 303
        login(client, "viewer@example.com", "a much better one")


def test_posts_without_or_with_a_wrong_csrf_token_are_refused(container):
    with web_client(container, "admin") as (client, token):
        data = {"email": "new@example.com", "role": "viewer", "password": "long enough pw"}
        assert client.post("/users", data=data).status_code == 403
        assert client.post("/users", data={**data, "csrf_token": "x" + token}).status_code == 403
        r = client.post(
            "/users", data={**data, "csrf_token": token}, headers={"Origin": "http://evil.example"}
        )
        assert r.status_code == 403
        assert "new@example.com" not in client.get("/users").text
        r = client.post("/users", data={**data, "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303
        assert "new@example.com" in client.get("/users").text


def test_a_token_from_another_session_is_stale(container):
    with web_client(container, "admin") as (client, old_token):
        client.post("/logout", data={"csrf_token": old_token})
        new_token = login(client, "admin@example.com")
        assert new_token != old_token
        data = {"email": "newbie@example.com", "role": "viewer", "password": "long enough pw"}
        r = client.post("/users", data={**data, "csrf_token": old_token})
        assert r.status_code == 403 and "CSRF check failed" in r.text
        assert "newbie@example.com" not in client.get("/users").text
        r = client.post("/users", data={**data, "csrf_token": new_token}, follow_redirects=False)
        assert r.status_code == 303  # the same post with this session's token goes through
        assert "newbie@example.com" in client.get("/users").text


def test_only_admins_manage_users(container):
    with web_client(container, "marketer") as (client, token):
        assert client.get("/users").status_code == 403
        r = client.post(
            "/users",
            data={
                "email": "n@example.com",
                "role": "admin",
                "password": "long enough pw",
                "csrf_token": token,
            },
        )
        assert r.status_code == 403


def test_user_form_shows_field_errors_and_keeps_input(container):
    with web_client(container, "admin") as (client, token):
        r = client.post(
            "/users",
            data={
                "email": "not-an-email",
                "name": "Zed <b>",
                "role": "viewer",
                "password": "long enough pw",
                "csrf_token": token,
            },
        )
        assert r.status_code == 422
        assert "enter an email address" in r.text
        assert 'value="not-an-email"' in r.text and "Zed &lt;b&gt;" in r.text


def test_security_headers_and_csp(container):
    with web_client(container) as (client, _):
        r = client.get("/")
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "<script>" not in r.text.replace("<script src=", "")  # no inline scripts
        cookie = next(h for h in r.request.headers.get("cookie", "").split(";") if "tidings_session" in h)
        assert cookie
        assert client.get("/static/vendor/htmx-2.0.11.min.js").status_code == 200
        assert client.get("/static/vendor/chart-4.6.1.umd.min.js").status_code == 200


def test_session_cookie_is_httponly(container):
    make_user(container, "ann@example.com", "marketer")
    with TestClient(web_app(container)) as client:
        page = client.get("/login")
        r = client.post(
            "/login",
            data={"email": "ann@example.com", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        )
        set_cookie = r.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=lax" in set_cookie


def test_the_api_app_serves_the_web_app(container):
    """create_app mounts the web app (it skips it silently on ImportError: this catches that)."""
    from tidings.server import create_app

    with TestClient(create_app(container)) as client:
        r = client.get("/", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert "default-src 'self'" in client.get("/login").headers["content-security-policy"]
        assert "content-security-policy" not in client.get("/healthz").headers  # the API keeps its own
