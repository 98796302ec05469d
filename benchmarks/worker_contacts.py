"""Benchmark: the worker's cost per queued contact (segment refresh + journey events).

    .venv/bin/python benchmarks/worker_contacts.py [--contacts 2000] [--postgres-url URL] [--profile]
                                                   [--no-journey] [--batch 50]

N contacts, each with one fresh ``purchase`` event and a queue row, as ingest leaves them; the
six segments of ``benchmarks/segments.py`` and a journey triggered by ``segment.entered`` that
sends an email. The worker's contact passes drain the queue (no API in the process); the last
line is JSON: contacts, seconds, ms_per_contact, contacts_per_s. ``--profile`` prints the top of
a cProfile of the drain.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import sqlalchemy as sa  # noqa: E402
from segments import RULES  # noqa: E402

from tidings.application.journeys import journeys as js  # noqa: E402
from tidings.application.segments.segments import create_segment, sync_indexes  # noqa: E402
from tidings.bootstrap import build  # noqa: E402
from tidings.clock import ManualClock  # noqa: E402
from tidings.settings import Settings  # noqa: E402
from tidings.store import schema  # noqa: E402
from tidings.store.db import create_engine  # noqa: E402
from tidings.store.migrate import upgrade  # noqa: E402
from tidings.store.queue import enqueue_contacts  # noqa: E402
from tidings.store.segments_sql import SqlSegmentStore  # noqa: E402
from tidings.store.sql_uow import joined  # noqa: E402
from tidings.worker import JourneyWorker  # noqa: E402

JOURNEY = """
key: buyers-thanks
name: Thanks, buyer
triggers:
  - segment_entered: buyers
steps:
  - id: thanks
    type: send
    channel: email
    template: thanks
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--contacts", type=int, default=2000)
    ap.add_argument("--postgres-url", default=None)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--no-journey", action="store_true", help="segments only (as the live run of segments.py)")
    ap.add_argument("--batch", type=int, default=None, help="worker contact batch (default: the worker's)")
    args = ap.parse_args()
    pg_schema = None
    if args.postgres_url:
        pg_schema = f"bench_worker_{uuid.uuid4().hex[:8]}"
        with create_engine(args.postgres_url).begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{pg_schema}"')
        url = args.postgres_url
        eng = create_engine(url, schema=pg_schema)
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='tidings-workerbench-')) / 'w.db'}"
        eng = create_engine(url)
    try:
        upgrade(eng)
        clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        now = clock.now()
        container = build(Settings(database_url=url, secret_key="bench", test_clock=True), clock=clock, engine=eng)
        create_segment(SqlSegmentStore(eng), "buyers", "Buyers", 'purchase(currency="EUR").count(30d) >= 1', now)
        for k, text in RULES.items():
            create_segment(SqlSegmentStore(eng), k, k, text, now)
        # what the segment refresher does after saves: the indexes exist before measuring
        sync_indexes(SqlSegmentStore(eng))
        with eng.begin() as conn:
            if not args.no_journey:
                js.publish(joined(conn), now, text=JOURNEY)
            ids = list(
                conn.execute(
                    sa.insert(schema.contacts).returning(schema.contacts.c.id),
                    [
                        {"email": f"w{i}@bench.test", "attributes": {"plan": "pro", "age": 30 + i % 20},
                         "created_at": now, "updated_at": now}
                        for i in range(args.contacts)
                    ],  # fmt: skip
                ).scalars()
            )
            conn.execute(
                sa.insert(schema.events),
                [
                    {"contact_id": cid, "name": "purchase", "properties": {"currency": "EUR", "revenue": 10},
                     "value": 10, "occurred_at": now, "received_at": now}
                    for cid in ids
                ],  # fmt: skip
            )
            enqueue_contacts(conn, ids, now)
        worker = JourneyWorker(container)
        if args.batch:
            worker.contact_batch = args.batch
        prof = cProfile.Profile() if args.profile else None
        t0 = time.perf_counter()
        if prof:
            prof.enable()
        while worker.contacts_pass():
            pass
        if prof:
            prof.disable()
        elapsed = time.perf_counter() - t0
        with eng.connect() as conn:
            entered = conn.execute(sa.select(sa.func.count()).select_from(schema.segment_memberships)).scalar_one()
            sent = conn.execute(sa.select(sa.func.count()).select_from(schema.outbox)).scalar_one()
            left = conn.execute(sa.select(sa.func.count()).select_from(schema.contact_queue)).scalar_one()
        if prof:
            pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(35)
        print(
            json.dumps(
                {
                    "backend": eng.dialect.name,
                    "contacts": args.contacts,
                    "batch": worker.contact_batch,
                    "seconds": round(elapsed, 2),
                    "ms_per_contact": round(elapsed * 1000 / args.contacts, 2),
                    "contacts_per_s": round(args.contacts / elapsed),
                    "memberships": entered,
                    "outbox": sent,
                    "queue_left": left,
                    "load_avg": round(os.getloadavg()[0], 1),
                }
            )
        )
    finally:
        eng.dispose()
        if pg_schema:
            with create_engine(args.postgres_url).begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{pg_schema}" CASCADE')


if __name__ == "__main__":
    main()
