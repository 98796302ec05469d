"""Benchmark: one contact's personal data export, and a retention run over many old rows.

    .venv/bin/python benchmarks/privacy.py [--events 200000] [--old 200000] [--postgres-url URL]

On a fresh database (SQLite temp file; PostgreSQL in a fresh schema when --postgres-url is given):

1. one contact with ``--events`` events and ``--events`` / 10 sent messages and traces; the
   export (``application/privacy/data_export.write_export`` into a temporary file):
   ``export_s``, ``export_rows_per_s``, ``zip_bytes``, and the peak of Python allocations during
   a second, traced export (``export_peak_python_mb``: streaming keeps it flat as events grow);
2. ``--old`` processed events older than 400 days and as many recent ones over 1,000 contacts,
   ``events: 365``: the dry run (``dry_run_ms``), the run in batches of 1,000 (``run_s``,
   ``deleted_per_s``); the recent events are all still there afterwards (checked).

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from scratch import scratch_schema  # noqa: E402

from tidings.application.privacy import retention  # noqa: E402
from tidings.application.privacy.data_export import write_export  # noqa: E402
from tidings.clock import ManualClock  # noqa: E402
from tidings.store import schema  # noqa: E402
from tidings.store.data_export_sql import SqlDataExport  # noqa: E402
from tidings.store.db import create_engine  # noqa: E402
from tidings.store.migrate import upgrade  # noqa: E402
from tidings.store.retention_sql import retention_sessions  # noqa: E402

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
CHUNK = 20_000


def _insert(engine: sa.Engine, table: sa.Table, rows: list[dict[str, object]]) -> None:
    for i in range(0, len(rows), CHUNK):
        with engine.begin() as conn:
            conn.execute(sa.insert(table), rows[i : i + CHUNK])


def _event(cid: int, at: datetime, i: int) -> dict[str, object]:
    return {"contact_id": cid, "name": "Page Viewed", "properties": {"path": f"/p/{i % 50}", "n": i},
            "occurred_at": at, "received_at": at, "processed_at": at}


def run(url: str, n_events: int, n_old: int) -> dict[str, float | int]:
    engine = create_engine(url)
    upgrade(engine)
    out: dict[str, float | int] = {}
    with engine.begin() as conn:
        ids = [int(conn.execute(sa.insert(schema.contacts).values(
            email=None if i else "ann@example.com", attributes={}, created_at=NOW, updated_at=NOW,
        )).inserted_primary_key[0]) for i in range(1000)]
    ann = ids[0]
    _insert(engine, schema.events, [_event(ann, NOW - timedelta(seconds=i), i) for i in range(n_events)])
    n_msg = n_events // 10
    _insert(engine, schema.outbox, [{
        "contact_id": ann, "idempotency_key": f"m{i}", "kind": "message", "channel": "email", "payload": {},
        "status": "sent", "next_attempt_at": NOW, "recipient": "ann@example.com", "subject": f"Hello {i}",
        "rendered": {"text": "Hi Ann " * 40}, "created_at": NOW, "sent_at": NOW} for i in range(n_msg)])
    _insert(engine, schema.traces, [{
        "contact_id": ann, "stimulus": "event", "action": "send", "detail": {"because": "Signed Up"}, "at": NOW,
    } for _ in range(n_msg)])
    with tempfile.TemporaryFile() as f, engine.connect() as conn:
        t0 = time.perf_counter()
        summary = write_export(SqlDataExport(conn), ann, f, NOW, by="bench")
        out["export_s"] = round(time.perf_counter() - t0, 2)
        out["zip_bytes"] = f.tell()
    with tempfile.TemporaryFile() as f, engine.connect() as conn:  # again, its allocations traced
        tracemalloc.start()
        write_export(SqlDataExport(conn), ann, f, NOW, by="bench")
        out["export_peak_python_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    rows = sum(summary.counts.values())
    out["export_rows"] = rows
    out["export_rows_per_s"] = round(rows / out["export_s"])

    old, recent = NOW - timedelta(days=400), NOW - timedelta(days=10)
    _insert(engine, schema.events, [_event(ids[i % 1000], old, i) for i in range(n_old)])
    _insert(engine, schema.events, [_event(ids[i % 1000], recent, i) for i in range(n_old)])
    sessions = retention_sessions(engine)
    retention.save_policy(sessions, {"events": 365}, NOW)
    clock = ManualClock(NOW)
    t0 = time.perf_counter()
    dry = retention.run_retention(sessions, clock, actor="bench", dry_run=True)
    out["dry_run_ms"] = round((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    real = retention.run_retention(sessions, clock, actor="bench", dry_run=False)
    out["run_s"] = round(time.perf_counter() - t0, 2)
    assert real.counts == dry.counts == {"events": n_old}, (dry.counts, real.counts)
    out["deleted"] = real.counts["events"]
    out["deleted_per_s"] = round(out["deleted"] / out["run_s"])
    with engine.connect() as conn:
        left = conn.execute(sa.select(sa.func.count()).select_from(schema.events)).scalar()
    assert left == n_events + n_old, left  # Ann's (recent) and the recent ones stay
    engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--old", type=int, default=200_000)
    ap.add_argument("--postgres-url", default=None)
    args = ap.parse_args()
    out: dict[str, float | int] = {"events": args.events, "old": args.old}
    with tempfile.TemporaryDirectory() as tmp:
        r = run(f"sqlite:///{Path(tmp) / 'bench.db'}", args.events, args.old)
    out.update({f"sqlite_{k}": v for k, v in r.items()})
    print(f"sqlite: {r}", file=sys.stderr)
    if args.postgres_url:
        with scratch_schema(args.postgres_url, "bench") as url:
            r = run(url, args.events, args.old)
        out.update({f"postgres_{k}": v for k, v in r.items()})
        print(f"postgres: {r}", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
