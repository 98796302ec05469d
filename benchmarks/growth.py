"""Benchmark: does the cost of an event stay flat as ``events`` grows? (PostgreSQL, monthly
partitions of migration 0022.)

    .venv/bin/python benchmarks/growth.py --postgres-url URL [--sizes 1000000,3000000,10000000]
                                          [--budget-s 600] [--contacts 100000]

In a scratch schema (benchmarks/scratch.py), migrated to head (events partitioned by month):

1. ``--contacts`` contacts; then, for each size in ``--sizes``, ``events`` is filled up to that
   many rows, spread evenly over the 12 months before NOW (one partition each), already
   processed, 10 event names, 5% ``purchase``; the last 30 days' message ids in
   ``event_receipts`` (what the receipt window keeps). Filled server-side (``INSERT ... SELECT
   generate_series``: no client round trip, faster than COPY from Python on a loaded machine),
   then ANALYZE.
2. At each size: ``ingest_us_per_event``, 20,000 new events through the store's ingest insert
   (``store.ingest_sql.insert_events``: receipts + events, one statement per 1,000 rows) in 20
   transactions of 1,000, dated now (the current month's partition); the median of 3 rounds.
   ``rule_count_ms``: a representative segment rule (``purchase.count(30d) >= 1``) compiled as a
   refresh runs it (``rule_indexes.rule_query``) and counted; the median of 3.
   ``trace_us_per_row``: 20,000 traces (a transition's record) inserted in batches of 1,000.
3. The ceiling, same run: the same 20,000 events into the same schema's events table when it
   was empty (size 0): ``empty_ingest_us_per_event``. And a control at every size: the trace
   insert does not depend on the events table, so ``ingest_over_trace`` (ingest cost / trace
   cost, measured back to back) shows what the events table's size does net of the machine's
   load, which moves both.

The slope is a least-squares fit of the cost against the size (µs per event per 10M rows);
``ingest_us_at_100m`` extrapolates it. Sizes whose fill would not end within ``--budget-s`` (from
the measured fill rate) are skipped and listed in ``skipped_sizes``. The last line is one JSON
object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from scratch import scratch_schema  # noqa: E402

from tidings.domain.rules import parse_rule  # noqa: E402
from tidings.store import partitions, schema  # noqa: E402
from tidings.store.db import create_engine  # noqa: E402
from tidings.store.ingest_sql import insert_events  # noqa: E402
from tidings.store.migrate import upgrade  # noqa: E402
from tidings.store.rule_indexes import rule_query  # noqa: E402

NOW = datetime.now(UTC).replace(microsecond=0)
BATCH, STATEMENT = 20_000, 1_000
RULE = "purchase.count(30d) >= 1"
NAMES = ["page.viewed", "message.opened", "message.clicked", "form.submitted", "app.opened",
         "product.viewed", "cart.updated", "search.performed", "video.played"]
YEAR_S = 365 * 86_400


def fill(engine: sa.Engine, start: int, stop: int, contacts: int) -> float:
    """Events ``start`` .. ``stop`` - 1 (the n-th spread evenly over the year before NOW), in
    server-side chunks of 500,000 rows; returns the seconds it took."""
    names = "ARRAY[" + ",".join(f"'{n}'" for n in NAMES) + "]"
    t0 = time.perf_counter()
    for lo in range(start, stop, 500_000):
        hi = min(stop, lo + 500_000)
        with engine.begin() as conn:
            conn.execute(sa.text(f"""
                INSERT INTO events (contact_id, name, properties, occurred_at, received_at, message_id,
                                    source, value, processed_at)
                SELECT 1 + (g * 7919) % :contacts,
                       CASE WHEN g % 20 = 0 THEN 'purchase' ELSE ({names})[1 + g % 9] END,
                       jsonb_build_object('path', '/p/' || (g % 50)),
                       t, t, 'fill-' || g, 'bench',
                       CASE WHEN g % 20 = 0 THEN (g % 100)::float8 END, t
                FROM (SELECT g, CAST(:now AS timestamp) - make_interval(secs => :year_s * ((g * 104729) % :span)
                                / CAST(:span AS float8)) AS t
                      FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint) - 1) AS g) s
            """), {"contacts": contacts, "now": NOW.replace(tzinfo=None), "year_s": YEAR_S,
                   "span": 1_000_003, "lo": lo, "hi": hi})
    with engine.begin() as conn:  # receipts: the window keeps the last 30 days' message ids
        conn.execute(sa.text("DELETE FROM event_receipts WHERE message_id LIKE 'fill-%'"))
        conn.execute(sa.text(
            "INSERT INTO event_receipts (message_id, event_id, received_at) SELECT message_id, id, received_at"
            " FROM events WHERE occurred_at >= :since AND message_id LIKE 'fill-%'"
        ), {"since": (NOW - timedelta(days=30)).replace(tzinfo=None)})
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("ANALYZE events")
        conn.exec_driver_sql("ANALYZE event_receipts")
    return time.perf_counter() - t0


def ingest_round(engine: sa.Engine, contacts: int) -> float:
    """µs per event for 20,000 new events through insert_events, 1,000 per transaction."""
    tag = uuid.uuid4().hex[:8]
    rows = [{"contact_id": 1 + (i * 31) % contacts, "name": NAMES[i % 9], "properties": {"path": f"/p/{i % 50}"},
             "occurred_at": NOW, "received_at": NOW, "message_id": f"{tag}-{i}", "source": "bench", "value": None}
            for i in range(BATCH)]
    t0 = time.perf_counter()
    for lo in range(0, BATCH, STATEMENT):
        with engine.begin() as conn:
            got = insert_events(conn, rows[lo: lo + STATEMENT])
            assert len(got) == STATEMENT
    return (time.perf_counter() - t0) / BATCH * 1e6


def trace_round(engine: sa.Engine, contacts: int) -> float:
    rows = [{"contact_id": 1 + i % contacts, "stimulus": "event", "action": "enter", "detail": {"i": i}, "at": NOW}
            for i in range(BATCH)]
    t0 = time.perf_counter()
    for lo in range(0, BATCH, STATEMENT):
        with engine.begin() as conn:
            conn.execute(sa.insert(schema.traces), rows[lo: lo + STATEMENT])
    return (time.perf_counter() - t0) / BATCH * 1e6


def rule_ms(engine: sa.Engine) -> float:
    times = []
    for _ in range(3):
        with engine.connect() as conn:
            t0 = time.perf_counter()
            q = rule_query(conn, parse_rule(RULE), NOW)
            conn.execute(sa.select(sa.func.count()).select_from(q.subquery())).scalar()
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def measure(engine: sa.Engine, contacts: int) -> dict[str, float]:
    """The figures at one size. The rule reads the purchases of its 30-day window, which grow
    with the table here (the year's rows are spread evenly), so its cost is also given per row of
    that window (``rule_ns_per_window_row``): what stays flat if partition pruning works."""
    with engine.connect() as conn:
        window = int(conn.execute(sa.text(
            "SELECT count(*) FROM events WHERE name = 'purchase' AND occurred_at >= :since"
        ), {"since": (NOW - timedelta(days=30)).replace(tzinfo=None)}).scalar_one())
    ms = rule_ms(engine)
    return {
        "ingest_us_per_event": round(statistics.median(ingest_round(engine, contacts) for _ in range(3)), 1),
        "trace_us_per_row": round(trace_round(engine, contacts), 1),
        "rule_count_ms": round(ms, 1),
        "rule_window_rows": window,
        "rule_ns_per_window_row": round(ms * 1e6 / window, 1) if window else 0.0,
    }


def with_control(m: dict[str, float]) -> dict[str, float]:
    """The ingest cost over the trace insert's, measured just after: traces do not grow with
    events, so on a shared machine the ratio shows what the table's size does, net of load."""
    return {**m, "ingest_over_trace": round(m["ingest_us_per_event"] / m["trace_us_per_row"], 2)}


def slope_per_10m(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of cost against rows, per 10M rows."""
    xs, ys = [p[0] / 1e7 for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def run(url: str, sizes: list[int], contacts: int, budget_s: float) -> dict[str, Any]:
    engine = create_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO contacts (email, attributes, score, anonymous, created_at, updated_at)"
            " SELECT 'c' || g || '@x.test', '{}'::jsonb, 0, false, :now, :now FROM generate_series(1, :n) g"
        ), {"now": NOW.replace(tzinfo=None), "n": contacts})
        for i in range(13):  # the year filled, and the months ahead
            partitions.ensure_partitions(conn, NOW - timedelta(days=31 * i), 0)
        partitions.ensure_partitions(conn, NOW)
    out: dict[str, Any] = {"contacts": contacts, "sizes": [], "skipped_sizes": [],
                           "load_avg_1m": round(os.getloadavg()[0], 2)}
    empty = with_control(measure(engine, contacts))
    out["empty_ingest_us_per_event"] = empty["ingest_us_per_event"]
    out["empty_trace_us_per_row"] = empty["trace_us_per_row"]
    out["empty_ingest_over_trace"] = empty["ingest_over_trace"]
    points: list[tuple[int, dict[str, float]]] = []
    filled, spent, rate = 0, 0.0, 0.0
    for size in sizes:
        if rate and spent + (size - filled) / rate > budget_s:
            out["skipped_sizes"].append(size)
            continue
        took = fill(engine, filled, size, contacts)
        spent += took
        rate = (size - filled) / took
        filled = size
        with engine.connect() as conn:
            total = int(conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one())
        m = with_control(measure(engine, contacts))
        points.append((total, m))
        out["sizes"].append({"rows": total, "fill_s": round(took, 1), **m})
        print(json.dumps(out["sizes"][-1]), file=sys.stderr)
    out["fill_rows_per_s"] = round(rate)
    for key in ("ingest_us_per_event", "trace_us_per_row", "ingest_over_trace", "rule_count_ms",
                "rule_ns_per_window_row"):
        pts = [(r, m[key]) for r, m in points]
        s = slope_per_10m(pts) if len(pts) > 1 else 0.0
        out[f"{key}_slope_per_10m"] = round(s, 2)
        if pts:
            last_rows, last = pts[-1]
            out[f"{key}_at_100m"] = round(last + s * (1e8 - last_rows) / 1e7, 1)
    out["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--postgres-url", default=os.environ.get("TIDINGS_TEST_DATABASE_URL"))
    ap.add_argument("--sizes", default="1000000,3000000,10000000")
    ap.add_argument("--contacts", type=int, default=100_000)
    ap.add_argument("--budget-s", type=float, default=600.0, help="seconds of filling at most")
    args = ap.parse_args()
    if not args.postgres_url:
        ap.error("--postgres-url (or TIDINGS_TEST_DATABASE_URL): partitions are PostgreSQL's")
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with scratch_schema(args.postgres_url, "growth") as url:
        out = run(url, sizes, args.contacts, args.budget_s)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
