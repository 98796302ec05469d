"""Concurrent creates and upserts through the real HTTP server, each request on its own connection.

Issue 12 (PostgreSQL): concurrent ``POST /api/segments`` with one key answered 500 (unique
violation) instead of 409; concurrent ``POST /api/contacts/upsert`` of one new email answered 409.
The same answers are expected on SQLite.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import sqlalchemy as sa

from tidings.store import schema

THREADS = 8
ROUNDS = 3


def at_once(live_server: Any, admin_key: str, call: Callable[[httpx.Client], httpx.Response]) -> list[httpx.Response]:
    """Run ``call`` from THREADS threads released together, one HTTP client (connection) each."""
    barrier = threading.Barrier(THREADS)
    out: list[httpx.Response] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {admin_key}"},
                          timeout=60) as client:
            try:
                barrier.wait()
                r = call(client)
            except BaseException as exc:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(exc)
                return
            with lock:
                out.append(r)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return out


def test_concurrent_segment_creates_with_one_key_one_201_the_rest_409(live_server: Any, admin_key: str,
                                                                     engine: sa.Engine) -> None:
    for i in range(ROUNDS):
        body = {"key": f"vip-{i}", "name": "VIP", "rule": 'tag("vip")'}
        answers = at_once(live_server, admin_key, lambda c, b=body: c.post("/api/segments", json=b))
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [201] + [409] * (THREADS - 1), [r.text for r in answers if r.status_code >= 500]
        assert all(r.json()["error"]["code"] == "conflict" for r in answers if r.status_code == 409)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.segments)).scalar_one() == ROUNDS


def test_concurrent_upserts_of_one_new_email_all_succeed_with_one_contact(live_server: Any, admin_key: str,
                                                                          engine: sa.Engine) -> None:
    for i in range(ROUNDS):
        email = f"new-{i}@x.test"
        answers = at_once(live_server, admin_key, lambda c, e=email: c.post(
            "/api/contacts/upsert", json={"email": e, "attributes": {"seen": True}}))
        assert all(r.status_code in (200, 201) for r in answers), [r.text for r in answers]
        assert len({r.json()["id"] for r in answers}) == 1
        assert sorted(r.json()["created"] for r in answers) == [False] * (THREADS - 1) + [True]
        assert sorted(r.status_code for r in answers) == [200] * (THREADS - 1) + [201]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.contacts)).scalar_one() == ROUNDS
