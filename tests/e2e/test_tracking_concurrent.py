"""Concurrent batches naming the same new users and anonymous ids: no duplicates, no deadlock."""

from __future__ import annotations

import random
import threading
from typing import Any

import httpx
import sqlalchemy as sa

from tidings.application.access.keys import create_key
from tidings.store import schema


def test_concurrent_batches_with_overlapping_new_users(live_server: Any, container: Any, engine: sa.Engine) -> None:
    _, key = create_key(container.uow(), "site", ["track"], container.clock.now())
    users = [f"u{i}" for i in range(40)]
    anons = [f"a{i}" for i in range(40)]
    errors: list[str] = []
    accepted: list[int] = []

    def worker(n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(base_url=live_server.url, auth=(key, ""), timeout=60) as http:
            for b in range(4):
                batch = []
                for i in range(150):
                    item: dict[str, Any] = {"type": "track", "event": "Viewed", "messageId": f"w{n}-{b}-{i}"}
                    if rng.random() < 0.5:
                        item["userId"] = rng.choice(users)
                    else:
                        item["anonymousId"] = rng.choice(anons)
                    batch.append(item)
                r = http.post("/v1/batch", json={"batch": batch})
                if r.status_code != 200:
                    errors.append(r.text)
                else:
                    accepted.append(r.json()["accepted"])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(accepted) == 4 * 4 * 150
    c, a = schema.contacts, schema.contact_aliases
    with engine.connect() as conn:
        known = conn.execute(sa.select(sa.func.count()).select_from(c).where(c.c.anonymous.is_(False))).scalar()
        anonymous = conn.execute(sa.select(sa.func.count()).select_from(c).where(c.c.anonymous.is_(True))).scalar()
        aliases = conn.execute(sa.select(sa.func.count()).select_from(a)).scalar()
        events = conn.execute(sa.select(sa.func.count()).select_from(schema.events)
                              .where(schema.events.c.name == "Viewed")).scalar()
    used_users = known
    assert used_users <= 40 and anonymous <= 40 and aliases == anonymous
    assert events == 4 * 4 * 150
