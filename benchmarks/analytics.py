"""Benchmark: the rollup hook's throughput and a journey report over many engagement events.

    .venv/bin/python benchmarks/analytics.py [--events 200000] [--days 365] [--postgres-url URL]

On a fresh database (SQLite temp file; PostgreSQL in a fresh schema when --postgres-url is given):

1. one journey (5 send steps, 2 versions) and one outbox row per message;
2. engagement events generated per message (sent; human and Apple-MPP opens; human and scanner
   clicks; a few unsubscribes, bounces and conversions), spread over ``--days`` days, fed to the
   product's hook (``application/analytics/rollups.feed`` on ``store/analytics.SqlAnalytics``) in
   batches of 500 events per transaction, as the worker does: ``feed_events_per_s``;
3. the journey report (``application/analytics/reports.journey_report``: totals, series by day,
   per step, per version), median of 5: ``journey_report_ms``. It reads only the rollup rows, whose
   number grows with days x steps x templates, not with events.

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
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

from tidings.application.analytics import reports, rollups  # noqa: E402
from tidings.domain.snapshot import EventRecord  # noqa: E402
from tidings.store import schema  # noqa: E402
from tidings.store.analytics import SqlAnalytics  # noqa: E402
from tidings.store.db import create_engine  # noqa: E402
from tidings.store.migrate import upgrade  # noqa: E402

STEPS = [f"send-{i}" for i in range(5)]
BATCH = 500


def _setup(engine: sa.Engine, messages: int, days: int, start: datetime) -> list[dict[str, Any]]:
    now = start
    with engine.begin() as conn:
        jid = conn.execute(
            sa.insert(schema.journeys)
            .values(key="bench", name="bench", status="active", created_at=now, updated_at=now)
            .returning(schema.journeys.c.id)
        ).scalar_one()
    rng = random.Random(7)
    rows = []
    for i in range(messages):
        step = STEPS[i % len(STEPS)]
        rows.append(
            {
                "contact_id": i + 1,
                "idempotency_key": f"bench:{i}",
                "kind": "message",
                "channel": "email",
                "template": f"t-{step}",
                "journey_id": jid,
                "journey_version": 1 + (i % 2),
                "step_id": step,
                "payload": {},
                "status": "sent",
                "next_attempt_at": now,
                "created_at": now,
                "sent_at": start + timedelta(days=rng.randrange(days)),
            }
        )
    with engine.begin() as conn:
        for k in range(0, len(rows), 5000):
            conn.execute(sa.insert(schema.outbox), rows[k : k + 5000])
        ids = [int(r[0]) for r in conn.execute(sa.select(schema.outbox.c.id).order_by(schema.outbox.c.id))]
    for r, i in zip(rows, ids, strict=True):
        r["id"] = i
    return rows


def _events(messages: list[dict[str, Any]], target: int) -> list[EventRecord]:
    rng = random.Random(11)
    out: list[EventRecord] = []
    for m in messages:
        p = {"message_id": m["id"], "channel": "email", "template": m["template"], "journey": m["journey_id"],
             "step": m["step_id"]}
        at = m["sent_at"]
        out.append(EventRecord("message.sent", at, p))
        if rng.random() < 0.02:
            out.append(EventRecord("message.bounced", at, {**p, "bounce_type": "hard"}))
            continue
        if rng.random() < 0.35:
            out.append(EventRecord("message.opened", at + timedelta(seconds=1), {**p, "machine": True}))
        for _ in range(rng.choice((0, 0, 1, 2, 3))):
            out.append(EventRecord("message.opened", at + timedelta(hours=2), {**p, "machine": False}))
        if rng.random() < 0.1:
            out.append(EventRecord("message.clicked", at + timedelta(hours=2), {**p, "machine": False}))
        if rng.random() < 0.05:
            out.append(EventRecord("message.clicked", at + timedelta(seconds=3), {**p, "machine": True}))
        if rng.random() < 0.005:
            out.append(EventRecord("message.unsubscribed", at + timedelta(hours=3), p))
        if rng.random() < 0.01:
            conv = {"journey": "bench", "step": m["step_id"], "revenue": 20.0, "attributed_to": {"message_id": m["id"]}}
            out.append(EventRecord("journey.converted", at + timedelta(hours=4), conv, 20.0))
        if len(out) >= target:
            break
    return out[:target]


def run(url: str, events: int, days: int, label: str, schema_name: str | None = None) -> dict[str, Any]:
    engine = create_engine(url, schema=schema_name) if schema_name else create_engine(url)
    upgrade(engine)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    messages = _setup(engine, max(1, events // 2), days, start)
    evs = _events(messages, events)
    t0 = time.perf_counter()
    for k in range(0, len(evs), BATCH):
        with engine.begin() as conn:
            rollups.feed(SqlAnalytics(conn), evs[k : k + BATCH])
    feed_s = time.perf_counter() - t0
    times = []
    with engine.connect() as conn:
        repo = SqlAnalytics(conn)
        for _ in range(5):
            t = time.perf_counter()
            data = reports.journey_report(repo, "bench", reports.Range())
            times.append(time.perf_counter() - t)
        rows = conn.execute(sa.select(sa.func.count()).select_from(schema.analytics_daily)).scalar_one()
    assert data["totals"]["sent"] == sum(e.name == "message.sent" for e in evs)
    engine.dispose()
    return {
        f"{label}_events": len(evs),
        f"{label}_feed_events_per_s": round(len(evs) / feed_s),
        f"{label}_journey_report_ms": round(statistics.median(times) * 1000, 1),
        f"{label}_rollup_rows": int(rows),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--postgres-url", default=None)
    args = ap.parse_args()
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out |= run(f"sqlite:///{tmp}/bench.db", args.events, args.days, "sqlite")
    if args.postgres_url:
        name = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres_url)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
        try:
            out |= run(args.postgres_url, args.events, args.days, "postgresql", name)
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
            admin.dispose()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
