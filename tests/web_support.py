"""Helpers for the web app tests: users, a logged-in TestClient, the CSRF token of a page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tidings.api import errors
from tidings.application.access.users import create_user
from tidings.bootstrap import Container

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def web_app(container: Container) -> FastAPI:
    """The web app alone on a FastAPI app (as create_app mounts it), independent of the API routers."""
    from tidings.server import prepare_routes
    from tidings.web.app import install

    app = FastAPI()
    app.state.container = container
    errors.install(app)
    install(app)
    prepare_routes(app)
    return app


def csrf_of(html: str) -> str:
    m = _CSRF.search(html)
    assert m, "no csrf_token field on the page"
    return m.group(1)


def make_user(container: Container, email: str, role: str) -> None:
    create_user(container.uow(), email, PASSWORD, role, container.clock.now(), name=role.title())


def login(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token (from the dashboard page)."""
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"email": email, "password": password, "next": "/", "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    home = client.get("/")
    assert home.status_code == 200
    return csrf_of(home.text)


@contextmanager
def web_client(
    container: Container, role: str = "marketer", email: str | None = None
) -> Iterator[tuple[TestClient, str]]:
    email = email or f"{role}@example.com"
    make_user(container, email, role)
    with TestClient(web_app(container), base_url="http://testserver") as client:
        token = login(client, email)
        yield client, token
