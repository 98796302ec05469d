"""Web app: user management — add, change role and team, disable / enable (sessions end, no
login), and never lose the last admin."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.web_support import PASSWORD, csrf_of, login, make_user, web_app, web_client
from tidings.store import schema


def _id(container, email: str) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(sa.select(schema.users.c.id).where(schema.users.c.email == email)).scalar_one())


def _role(container, email: str) -> str:
    with container.engine.connect() as conn:
        return str(conn.execute(sa.select(schema.users.c.role).where(schema.users.c.email == email)).scalar_one())


def test_admin_adds_a_user_with_a_team_and_changes_role_and_team(container):
    with web_client(container, "admin") as (client, token):
        r = client.post(
            "/users",
            data={"csrf_token": token, "email": "rep@example.com", "name": "Rep", "role": "viewer",
                  "team": "north", "password": PASSWORD},
            follow_redirects=False,
        )
        assert r.status_code == 303
        page = client.get(r.headers["location"]).text
        assert "Added rep@example.com." in page and 'value="north"' in page
        rep = _id(container, "rep@example.com")
        r = client.post(f"/users/{rep}", data={"csrf_token": token, "role": "marketer", "team": " south "})
        assert r.status_code == 200 and "Saved rep@example.com: marketer, team south." in r.text
        assert _role(container, "rep@example.com") == "marketer"
        bad = client.post(f"/users/{rep}", data={"csrf_token": token, "role": "owner", "team": ""})
        assert bad.status_code == 422 and "unknown role" in bad.text
        assert client.post("/users/99999", data={"csrf_token": token, "role": "viewer"}).status_code == 404


def test_a_role_change_applies_to_open_sessions_at_once(container):
    make_user(container, "admin@example.com", "admin")
    with TestClient(web_app(container)) as admin, TestClient(web_app(container)) as rep:
        token = login(admin, "admin@example.com")
        make_user(container, "rep@example.com", "marketer")
        login(rep, "rep@example.com")
        assert 'href="/templates/new"' in rep.get("/templates").text
        admin.post(f"/users/{_id(container, 'rep@example.com')}", data={"csrf_token": token, "role": "viewer"})
        r = rep.get("/")
        assert r.status_code == 200 and "role-viewer" in r.text


def test_disabling_ends_sessions_and_refuses_login_until_enabled(container):
    make_user(container, "admin@example.com", "admin")
    make_user(container, "rep@example.com", "marketer")
    with TestClient(web_app(container)) as admin, TestClient(web_app(container)) as rep:
        token = login(admin, "admin@example.com")
        login(rep, "rep@example.com")
        rid = _id(container, "rep@example.com")
        r = admin.post(f"/users/{rid}/disable", data={"csrf_token": token})
        assert "Disabled rep@example.com" in r.text and "s-disabled" in r.text
        assert rep.get("/", follow_redirects=False).status_code == 303  # the session is gone
        with container.engine.connect() as conn:
            sessions = conn.execute(
                sa.select(sa.func.count()).select_from(schema.web_sessions).where(schema.web_sessions.c.user_id == rid)
            ).scalar_one()
        assert sessions == 0
        page = rep.get("/login")
        refused = rep.post(
            "/login", data={"email": "rep@example.com", "password": PASSWORD, "csrf_token": csrf_of(page.text)}
        )
        assert refused.status_code == 401 and "wrong email or password" in refused.text  # says nothing more
        r = admin.post(f"/users/{rid}/enable", data={"csrf_token": token})
        assert "Enabled rep@example.com" in r.text
        login(rep, "rep@example.com")


def test_the_last_admin_can_neither_demote_nor_disable_themselves(container):
    with web_client(container, "admin") as (client, token):
        me = _id(container, "admin@example.com")
        page = client.get("/users").text
        assert "last admin" in page and f'action="/users/{me}/disable"' not in page
        r = client.post(f"/users/{me}", data={"csrf_token": token, "role": "viewer"})
        assert r.status_code == 422 and "you are the last admin" in r.text
        r = client.post(f"/users/{me}/disable", data={"csrf_token": token})
        assert r.status_code == 422 and "you are the last admin" in r.text
        assert _role(container, "admin@example.com") == "admin"
        # with a second admin, demoting yourself is fine; the other is then the last one
        make_user(container, "second@example.com", "admin")
        other = _id(container, "second@example.com")
        r = client.post(f"/users/{me}", data={"csrf_token": token, "role": "marketer"}, follow_redirects=False)
        assert r.status_code == 303
        assert client.get("/users").status_code == 403  # no longer an admin
    assert _role(container, "second@example.com") == "admin"
    with web_client(container, "admin", email="third@example.com") as (client, token):
        client.post(f"/users/{other}/disable", data={"csrf_token": token})
        r = client.post(f"/users/{_id(container, 'third@example.com')}/disable", data={"csrf_token": token})
        assert r.status_code == 422 and "you are the last admin" in r.text


def test_an_admin_may_disable_themselves_when_another_admin_remains(container):
    make_user(container, "boss@example.com", "admin")
    with web_client(container, "admin") as (client, token):
        r = client.post(f"/users/{_id(container, 'admin@example.com')}/disable", data={"csrf_token": token},
                        follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert client.get("/", follow_redirects=False).status_code == 303


def test_only_admins_change_users(container):
    make_user(container, "rep@example.com", "viewer")
    rid = _id(container, "rep@example.com")
    with web_client(container, "marketer") as (client, token):
        for path in (f"/users/{rid}", f"/users/{rid}/disable", f"/users/{rid}/enable"):
            r = client.post(path, data={"csrf_token": token, "role": "admin"})
            assert r.status_code == 403 and "only an admin" in r.text
        assert 'href="/users"' not in client.get("/").text
    assert _role(container, "rep@example.com") == "viewer"
