"""Login throttling: repeated failures for one email or from one address are slowed, then refused
for a while (durable in the database, on the container's clock); success resets the email."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.web_support import PASSWORD, csrf_of, make_user, web_app
from tidings.application.access import login_throttle
from tidings.store import schema


def _try(client: TestClient, email: str, password: str):
    page = client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )


def _fail(client: TestClient, container, email: str, times: int, gap: timedelta = timedelta(minutes=1)):
    r = None
    for _ in range(times):
        r = _try(client, email, "wrong password 123")
        assert r.status_code == 401, r.text
        container.clock.advance(gap)
    return r


def test_five_failures_block_the_email_even_with_the_right_password(container):
    make_user(container, "ann@example.com", "marketer")
    with TestClient(web_app(container)) as client:
        _fail(client, container, "ann@example.com", 4)
        r = _try(client, "ann@example.com", "wrong password 123")
        assert r.status_code == 401
        assert "Too many failed logins" in r.text and "try again at" in r.text
        # the right password is refused too while blocked, with the time to come back
        r = _try(client, "ann@example.com", PASSWORD)
        assert r.status_code == 429
        assert "try again at" in r.text and "UTC" in r.text
        assert int(r.headers["Retry-After"]) > 14 * 60
        assert "tidings_session" not in r.cookies
        # still blocked 14 minutes later; free after the lockout
        container.clock.advance(timedelta(minutes=14))
        assert _try(client, "ann@example.com", PASSWORD).status_code == 429
        container.clock.advance(timedelta(minutes=1, seconds=1))
        r = _try(client, "ann@example.com", PASSWORD)
        assert r.status_code == 303, r.text


def test_failures_are_slowed_before_the_block(container):
    make_user(container, "ann@example.com", "marketer")
    with TestClient(web_app(container)) as client:
        for _ in range(3):
            assert _try(client, "ann@example.com", "wrong password 123").status_code == 401
        r = _try(client, "ann@example.com", PASSWORD)  # no time has passed: wait first
        assert r.status_code == 429 and "Wait 5 seconds" in r.text
        container.clock.advance(timedelta(seconds=5))
        assert _try(client, "ann@example.com", PASSWORD).status_code == 303


def test_success_resets_the_count(container):
    make_user(container, "ann@example.com", "marketer")
    with TestClient(web_app(container)) as client:
        _fail(client, container, "ann@example.com", 4)
        assert _try(client, "ann@example.com", PASSWORD).status_code == 303
        client.cookies.clear()
        _fail(client, container, "ann@example.com", 4)  # a fresh count: not blocked at 5 in total
        assert _try(client, "ann@example.com", PASSWORD).status_code == 303


def test_failures_outside_the_window_are_forgotten(container):
    make_user(container, "ann@example.com", "marketer")
    with TestClient(web_app(container)) as client:
        _fail(client, container, "ann@example.com", 4, gap=timedelta(minutes=5))
        # the window began 20 minutes ago: this failure starts a new one, no block
        r = _try(client, "ann@example.com", "wrong password 123")
        assert r.status_code == 401 and "Too many" not in r.text


def test_unknown_and_known_emails_get_the_same_answers(container):
    make_user(container, "ann@example.com", "marketer")
    with TestClient(web_app(container)) as client:
        answers = []
        for email in ("ann@example.com", "nobody@example.com"):
            seen = []
            for _ in range(6):
                r = _try(client, email, "wrong password 123")
                said = r.text.split('role="alert">')[1].split("<")[0]
                seen.append((r.status_code, re.sub(r"\d\d:\d\d", "HH:MM", said)))
                container.clock.advance(timedelta(minutes=1))
            answers.append(seen)
            container.clock.advance(timedelta(hours=1))
        assert answers[0] == answers[1]
        assert answers[0][-1][0] == 429
    # the table keeps no email address
    with container.engine.connect() as conn:
        keys = conn.execute(sa.select(schema.login_throttle.c.key)).scalars().all()
    assert keys and not any("example.com" in k for k in keys)


def test_one_address_is_refused_after_many_emails(container):
    start = container.clock.now()
    with TestClient(web_app(container)) as client:
        failures = 0
        while failures < login_throttle.ADDRESS_LIMIT:
            r = _try(client, f"guess{failures}@example.com", "wrong password 123")
            if r.status_code == 429:  # slowed down after a few: wait as told
                assert "Wait" in r.text
                container.clock.advance(timedelta(seconds=int(r.headers["Retry-After"])))
                continue
            assert r.status_code == 401
            failures += 1
        assert container.clock.now() - start < login_throttle.WINDOW
        r = _try(client, "fresh@example.com", "wrong password 123")
        assert r.status_code == 429 and "try again at" in r.text


def test_the_count_is_durable_across_app_instances(container):
    """Two processes (here: two apps on one database) share the count."""
    make_user(container, "ann@example.com", "marketer")
    for _ in range(5):
        with TestClient(web_app(container)) as client:  # a new app each time
            _try(client, "ann@example.com", "wrong password 123")
        container.clock.advance(timedelta(minutes=1))
    with TestClient(web_app(container)) as client:
        assert _try(client, "ann@example.com", PASSWORD).status_code == 429
