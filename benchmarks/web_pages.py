"""Benchmark: how long the web app's pages take to render with a realistic amount of data.

    .venv/bin/python benchmarks/web_pages.py --contacts 200000 [--events-per-contact 5] [--repeat 5]
                                             [--postgres-url URL]

Fills a fresh SQLite file (or a fresh PostgreSQL schema) with N contacts (tags, consent), their
events (including message events this week and last) and a few thousand enrolments and traces
of one journey, then times each page through the in-process ASGI client, logged in as a
marketer: dashboard, its chart JSON, contacts list, contact search, a profile, the journey page
(graph with counts), the journey map, the segments list; then the API's contact search
(``GET /api/contacts?q=``, alone and with a tag). Prints the median of ``--repeat``
runs per page; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from tidings.bootstrap import build  # noqa: E402
from tidings.clock import ManualClock  # noqa: E402
from tidings.settings import Settings  # noqa: E402
from tidings.store import schema  # noqa: E402
from tidings.store.db import create_engine  # noqa: E402
from tidings.store.migrate import upgrade  # noqa: E402
from tidings.store.sql_uow import joined  # noqa: E402

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
#: the budget of a page at 200k contacts (issue 16)
CEILING_MS = 300.0
JOURNEY = """key: bench
name: Bench journey
triggers:
  - event: signed_up
steps:
  - id: hello
    type: send
    channel: email
    template: hello
  - id: nap
    type: wait
    duration: 3d
  - id: check
    type: branch
    branches:
      - when: 'tag("vip")'
        next: vip
    else: end
  - id: vip
    type: update_contact
    add_tags: [vip-welcomed]
"""


def fill(engine: sa.Engine, n: int, per: int) -> None:
    c, t, e, cs = schema.contacts, schema.contact_tags, schema.events, schema.consents
    batch = 5000
    for start in range(0, n, batch):
        ids = range(start + 1, min(n, start + batch) + 1)
        with engine.begin() as conn:
            conn.execute(
                sa.insert(c),
                [
                    {
                        "id": i,
                        "email": f"c{i}@example.com",
                        "first_name": f"First{i}",
                        "last_name": "Last",
                        "attributes": {"plan": "pro" if i % 3 else "free"},
                        "score": i % 100,
                        "anonymous": False,
                        "lifecycle_stage": "lead" if i % 2 else "customer",
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                    for i in ids
                ],
            )
            conn.execute(
                sa.insert(t),
                [{"contact_id": i, "tag": "vip" if i % 5 == 0 else "news", "created_at": NOW} for i in ids],
            )
            conn.execute(
                sa.insert(cs),
                [
                    {
                        "contact_id": i,
                        "channel": "email",
                        "status": "granted",
                        "source": "form",
                        "recorded_at": NOW,
                        "proof": {"text": "yes"},
                        "topics": {},
                    }
                    for i in ids
                ],
            )
            names = ["page.viewed", "message.sent", "message.opened", "message.clicked", "order.completed"]
            conn.execute(
                sa.insert(e),
                [
                    {
                        "contact_id": i,
                        "name": names[k % len(names)],
                        "properties": {"k": k},
                        "occurred_at": NOW - timedelta(days=(i + k) % 14, hours=k),
                        "received_at": NOW,
                        "message_id": uuid.uuid4().hex,
                        "source": "api",
                        "value": 10.0 if k % 5 == 4 else None,
                    }
                    for i in ids
                    for k in range(per)
                ],
            )


def fill_journey(engine: sa.Engine, container: Any, n: int) -> None:
    from tidings.application.journeys import journeys as svc

    with engine.begin() as conn:
        svc.publish(joined(conn), NOW, text=JOURNEY)
        jid = conn.execute(sa.select(schema.journeys.c.id)).scalar_one()
        rows = [
            {
                "id": i,
                "contact_id": i,
                "journey_id": jid,
                "version": 1,
                "status": "waiting" if i % 2 else "ended",
                "step_id": "nap" if i % 2 else None,
                "end_reason": None if i % 2 else "converted",
                "state": {},
                "entered_at": NOW,
                "updated_at": NOW,
            }
            for i in range(1, n + 1)
        ]
        conn.execute(sa.insert(schema.enrollments), rows)
        conn.execute(
            sa.insert(schema.traces),
            [
                {
                    "contact_id": i,
                    "enrollment_id": i,
                    "journey_id": jid,
                    "journey_version": 1,
                    "step_id": step,
                    "stimulus": "entry",
                    "action": "x",
                    "detail": {},
                    "at": NOW,
                }
                for i in range(1, n + 1)
                for step in ("hello", "nap")
            ],
        )


def timed(client: Any, path: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=20000)
    ap.add_argument("--events-per-contact", type=int, default=5)
    ap.add_argument("--enrolments", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--postgres-url")
    ap.add_argument("--sqlite-file", help="fill this file once; later runs reuse it (time the pages again)")
    a = ap.parse_args()
    if a.postgres_url:
        name = f"bench_web_{uuid.uuid4().hex[:6]}"
        admin = create_engine(a.postgres_url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        engine = create_engine(a.postgres_url, schema=name)
        backend = "postgresql"
    else:
        path = Path(a.sqlite_file) if a.sqlite_file else Path(tempfile.mkdtemp()) / "web.db"
        filled = path.exists()
        engine = create_engine(f"sqlite:///{path}")
        backend = "sqlite"
    upgrade(engine)
    t0 = time.perf_counter()
    if a.postgres_url or not filled:
        fill(engine, a.contacts, a.events_per_contact)
    container = build(
        Settings(database_url=str(engine.url), secret_key="bench", test_clock=True),
        clock=ManualClock(NOW),
        engine=engine,
    )
    if a.postgres_url or not filled:
        fill_journey(engine, container, min(a.enrolments, a.contacts))
        if a.postgres_url:
            # the planner's statistics, as autovacuum leaves them soon after a bulk load: without
            # them a search term most contacts match scans the whole trigram index (~1 s at 200k)
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
    print(
        f"filled {a.contacts} contacts, {a.contacts * a.events_per_contact} events on {backend} "
        f"in {time.perf_counter() - t0:.1f}s",
        flush=True,
    )

    from fastapi.testclient import TestClient

    from tests.web_support import login, make_user, web_app

    if not (a.sqlite_file and filled):
        make_user(container, "bench@example.com", "marketer")
    pages = [
        "/",
        "/dashboard/data.json?chart=week",
        "/dashboard/data.json?chart=daily",
        "/contacts",
        "/contacts?q=c1234",
        "/contacts?q=first19999",
        "/contacts?q=example.com",
        "/contacts?q=free",
        "/contacts?q=c12+last",
        "/contacts?tag=vip",
        "/contacts?q=c1234&tag=vip",
        "/contacts/bulk?tag=vip&action=tag&value=x",
        "/contacts/42",
        "/contacts/42/edit",
        "/journeys",
        "/journeys/bench",
        "/journeys/map",
        "/segments",
        "/inbox",
    ]
    results: dict[str, float] = {}
    with TestClient(web_app(container)) as client:
        login(client, "bench@example.com")
        for p in pages:
            results[p] = round(timed(client, p, a.repeat), 1)
            print(f"{p:40s} {results[p]:8.1f} ms", flush=True)
    # the API's and CLI's search (GET /api/contacts?q=: the ContactSearch port, newest first)
    from tidings.application.access.keys import create_key
    from tidings.server import create_app

    api_key = create_key(container.uow(), "bench", ["admin"], NOW)[1]
    api_pages = [
        "/api/contacts?q=c1234",
        "/api/contacts?q=example.com",
        "/api/contacts?q=example.com&limit=500",
        "/api/contacts?q=c12+last",
        "/api/contacts?q=free&tag=vip",
        "/api/contacts?q=c1234&tag=vip",
    ]
    with TestClient(create_app(container), headers={"Authorization": f"Bearer {api_key}"}) as api:
        for p in api_pages:
            results[p] = round(timed(api, p, a.repeat), 1)
            print(f"{p:40s} {results[p]:8.1f} ms", flush=True)
    if a.postgres_url:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
    print(
        json.dumps(
            {
                "benchmark": "web_pages",
                "backend": backend,
                "contacts": a.contacts,
                "events": a.contacts * a.events_per_contact,
                "median_ms": results,
                "ceiling_ms": CEILING_MS,
                "over_ceiling": sorted(p for p, ms in results.items() if ms > CEILING_MS),
            }
        )
    )


if __name__ == "__main__":
    main()
