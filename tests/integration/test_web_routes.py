"""Every web write route, found from the app itself: refused without a CSRF token, and refused
to a viewer — except the few posts that change nothing of the workspace."""

from __future__ import annotations

import sys

import pytest
from starlette.routing import Route

from tests.web_support import web_client
from tidings.bootstrap import Container
from tidings.web.security import is_web_path

#: posts a viewer may make: their own session and password, and read-only previews.
VIEWER_OK = {
    "/logout",
    "/account/password",
    "/account/preferences",  # your own language and time zone
    "/language",  # the header's language switcher (your own setting)
    "/login",
    "/segments/preview",
    "/journeys/{key}/simulate",
    "/journeys/{key}/simulate/build",  # the scenario builder runs a simulation: it saves nothing
    "/journeys/preview-graph",
    "/templates/preview-draft",
    "/journeys/builder/to-yaml",  # the builders convert and validate; they save nothing
    "/journeys/builder/from-yaml",
    "/segments/builder/to-text",
    "/segments/builder/from-text",
}

#: public posts of visitors, who have no session (web/forms_public.py): guarded by the form's
#: origins, the honeypot and the rate limit (a form) or a signed token (a confirmation) instead
#: of a CSRF token; tests/e2e/test_forms_live.py drives those guards.
PUBLIC = {"/f/{form_key}", "/f/confirm/{token}"}


def _web_posts(_app: object = None) -> list[str]:
    """Every POST route of the web app's page routers (the routers install() mounts)."""
    from tidings.web import app as web_app

    paths = []
    for module in web_app.PAGES:
        for r in module.router.routes:
            if isinstance(r, Route) and "POST" in (r.methods or set()) and is_web_path(r.path) and r.path not in PUBLIC:
                paths.append(r.path)
    return sorted(paths)


def _fill(path: str) -> str:
    for name in ("{contact_id}", "{item_id}", "{task_id}", "{dead_letter_id}", "{user_id}"):
        path = path.replace(name, "1")
    return path.replace("{key}", "k")


def test_every_post_needs_the_csrf_token(container):
    with web_client(container, "admin") as (client, _token):
        posts = _web_posts(client.app)
        assert len(posts) >= 15, posts
        for path in posts:
            r = client.post(_fill(path), data={"x": "1"}, follow_redirects=False)
            assert r.status_code == 403, (path, r.status_code)


def test_a_viewer_cannot_post_to_any_write_route(container):
    with web_client(container, "viewer") as (client, token):
        for path in _web_posts(client.app):
            if path in VIEWER_OK:
                continue
            r = client.post(_fill(path), data={"csrf_token": token}, follow_redirects=False)
            assert r.status_code == 403, (path, r.status_code)
            assert "can only look" in r.text or "only an admin" in r.text


def test_a_broken_web_app_stops_startup(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    """The web app is part of the product: an error importing it fails create_app loudly
    (it was swallowed, and the server started without its pages)."""
    import tidings.web
    from tidings.server import create_app

    monkeypatch.delattr(tidings.web, "app", raising=False)
    monkeypatch.setitem(sys.modules, "tidings.web.app", None)  # importing it raises ImportError
    with pytest.raises(ImportError):
        create_app(container)
