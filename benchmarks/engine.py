"""Benchmark: the journey engine firing timers that fall due together.

    .venv/bin/python benchmarks/engine.py --enrolments 100000 [--history 1000000,10000000]
                                          [--postgres-url URL | --no-postgres]

For each backend (SQLite temp file, 1 worker process; PostgreSQL fresh schema, 1 and 2 worker
processes):

1. pre-fill N contacts, N enrolments waiting at a 1-hour wait and N timers, all due at once
   (bulk ``INSERT ... SELECT``; the enrolment state is what the real machine produced for one);
2. start the worker processes; each runs the product's timer path (``EnrolmentRepository.due_timers`` +
   ``JourneyEngine.fire``: bulk snapshot, pure ``advance``, bulk writes; 500 timers per
   transaction) until none is left. A transition here resumes the wait, sends a message (one
   outbox row), ends the enrolment: 3 trace rows, 1 outbox row, 1 enrolment update, 1 timer delete;
3. lag = commit time - max(due time, start): p50/p99 for the burst (queueing included) and for a
   paced load at a third of the measured capacity (``timer_lag_p99_ms``: lag under capacity);
4. cost per transition with the traces table pre-filled to each --history size, measured first
   on the empty database (SQLite; and PostgreSQL with --history-postgres).

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from tidings.clock import SystemClock  # noqa: E402
from tidings.store import schema  # noqa: E402
from tidings.store.control import SqlControl  # noqa: E402
from tidings.store.db import create_engine, normalise_url  # noqa: E402
from tidings.store.migrate import upgrade  # noqa: E402
from tidings.store.sql_uow import joined  # noqa: E402
from tidings.store.types import JSONDoc, UTCDateTime  # noqa: E402

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
JOURNEY = """
key: bench
triggers: [{manual: true}]
settings: {category: transactional}
steps:
  - {id: w, type: wait, duration: 1h}
  - {id: s, type: send, channel: email, template: bench-mail}
"""
BATCH = 500


def log(msg: str) -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------- setup


def waiting_state(engine: sa.Engine) -> tuple[dict[str, Any], dict[str, Any]]:
    """The state and timer payload the real machine gives an enrolment waiting at step w."""
    from tidings.domain.journeys.document import parse_journey
    from tidings.domain.journeys.machine import advance
    from tidings.domain.journeys.model import EngineContext
    from tidings.domain.journeys.triggers import manual_entry
    from tidings.domain.snapshot import ContactSnapshot

    doc = parse_journey(JOURNEY)
    tr = advance(
        doc,
        None,
        manual_entry(doc),
        ContactSnapshot(id=1),
        datetime.now(UTC),
        context=EngineContext(enrollment_id=1),
    )
    assert tr.state.status == "waiting", tr.trace
    return tr.state.to_dict(), dict(tr.timers[0].payload)


def _series(dialect: str, start: int, n: int) -> str:
    if dialect == "postgresql":
        return f"SELECT g AS x FROM generate_series({start}, {start + n - 1}) AS g"
    return (
        f"WITH RECURSIVE c(x) AS (SELECT {start} UNION ALL SELECT x + 1 FROM c WHERE x < {start + n - 1}) "
        "SELECT x FROM c"
    )


def prefill(
    engine: sa.Engine,
    first: int,
    n: int,
    due: datetime,
    journey_id: int,
    state: dict[str, Any],
    payload: dict[str, Any],
) -> None:
    """n contacts/enrolments/timers with ids first..first+n-1, in chunks of 200k (one statement each)."""
    dialect = engine.dialect.name
    now = datetime.now(UTC)
    params: list[sa.BindParameter[Any]] = [
        sa.bindparam("now", now, type_=UTCDateTime),
        sa.bindparam("due", due, type_=UTCDateTime),
        sa.bindparam("state", state, type_=JSONDoc),
        sa.bindparam("payload", payload, type_=JSONDoc),
        sa.bindparam("empty", {}, type_=JSONDoc),
    ]
    false = "false" if dialect == "postgresql" else "0"
    step = 200_000
    for start in range(first, first + n, step):
        size = min(step, first + n - start)
        s = _series(dialect, start, size)
        with engine.begin() as conn:
            for sql in (
                f"INSERT INTO contacts (id, email, attributes, score, anonymous, created_at, updated_at) "
                f"SELECT x, 'b' || x || '@example.org', :empty, 0, {false}, :now, :now FROM ({s}) AS q",
                f"INSERT INTO enrollments (id, contact_id, journey_id, version, enroll_key, status, "
                f"step_id, state, entered_at, updated_at) SELECT x, x, {journey_id}, 1, '', 'waiting', 'w', "
                f":state, :now, :now FROM ({s}) AS q",
                f"INSERT INTO timers (contact_id, enrollment_id, kind, due_at, payload) "
                f"SELECT x, x, 'wait', :due, :payload FROM ({s}) AS q",
            ):
                conn.execute(sa.text(sql).bindparams(*[b for b in params if f":{b.key}" in sql]))
    if dialect == "postgresql":
        with engine.begin() as conn:
            for t in ("contacts", "enrollments"):
                conn.execute(
                    sa.text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))")
                )
            # these tables only: a database-wide ANALYZE deadlocks with DDL in other schemas (shared server)
            conn.execute(sa.text("ANALYZE contacts, enrollments, timers"))
    else:
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))


def prefill_traces(engine: sa.Engine, total: int) -> None:
    """Grow the traces table to ``total`` rows (synthetic history of other contacts)."""
    with engine.connect() as conn:
        have = int(conn.execute(sa.select(sa.func.count()).select_from(schema.traces)).scalar_one())
    dialect = engine.dialect.name
    at = sa.bindparam("at", datetime(2025, 1, 1, tzinfo=UTC), type_=UTCDateTime)
    detail = sa.bindparam("detail", {"reason": "history"}, type_=JSONDoc)
    step = 500_000
    base = 10_000_000
    while have < total:
        size = min(step, total - have)
        s = _series(dialect, base + have, size)
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO traces (contact_id, enrollment_id, journey_id, journey_version, step_id, "
                    "stimulus, action, detail, at) "
                    f"SELECT x, x, 1, 1, 'w', 'timer', 'resume', :detail, :at FROM ({s}) AS q"
                ).bindparams(at, detail)
            )
        have += size
        log(f"  traces: {have:,}")


def publish_journey(engine: sa.Engine) -> int:
    from tidings.application.journeys.journeys import publish

    with engine.begin() as conn:
        return publish(joined(conn), datetime.now(UTC), text=JOURNEY).journey_id


# --------------------------------------------------------------------------- workers


def worker_main(url: str, out: str, idle_exit: float) -> None:
    """One worker process: fire due timers until the table stays empty; write commit lags (ms)."""
    from tidings.application.journeys.engine import JourneyEngine
    from tidings.store.engine_sql import SqlEngineStorage

    engine = create_engine(url)
    clock = SystemClock()
    eng = JourneyEngine(SqlEngineStorage(engine), clock, f"bench-{os.getpid()}", control=SqlControl)
    lags = array("d")
    start = float(Path(out + ".start").read_text())
    done = 0
    first = last = 0.0
    idle_since = time.monotonic()
    while True:
        with eng.storage.writing() as tx:
            now = clock.now()
            rows = tx.enrolments.due_timers(now, BATCH)
            if rows:
                eng.fire(tx, rows, now)
        if rows:
            t = time.time()
            first = first or t
            last = t
            done += len(rows)
            for r in rows:
                lags.append((t - max(r["due_at"].timestamp(), start)) * 1000)
            idle_since = time.monotonic()
            continue
        with engine.connect() as conn:
            left = conn.execute(sa.select(sa.func.count()).select_from(schema.timers)).scalar_one()
        if not left and time.monotonic() - idle_since > idle_exit:
            break
        time.sleep(0.02)
    with open(out, "wb") as f:
        lags.tofile(f)
    Path(out + ".json").write_text(json.dumps({"done": done, "first": first, "last": last}))


def run_workers(url: str, workers: int, tmp: Path, start: float) -> dict[str, Any]:
    outs = [str(tmp / f"w{i}-{uuid.uuid4().hex[:6]}") for i in range(workers)]
    for o in outs:
        Path(o + ".start").write_text(str(start))
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", url, o]) for o in outs]
    for p in procs:
        if p.wait() != 0:
            raise SystemExit("a worker failed")
    lags = array("d")
    done, last = 0, 0.0
    for o in outs:
        with open(o, "rb") as f:
            a = array("d")
            a.frombytes(f.read())
            lags.extend(a)
        meta = json.loads(Path(o + ".json").read_text())
        done += meta["done"]
        last = max(last, meta["last"])
    ordered = sorted(lags)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1) if ordered else 0.0

    elapsed = max(last - start, 1e-9)
    return {
        "transitions": done,
        "seconds": round(elapsed, 2),
        "transitions_per_s": round(done / elapsed),
        "lag_p50_ms": pct(0.50),
        "lag_p99_ms": pct(0.99),
    }


def burst(
    engine: sa.Engine,
    url: str,
    workers: int,
    n: int,
    first: int,
    tmp: Path,
    journey_id: int,
    state: dict[str, Any],
    payload: dict[str, Any],
) -> dict[str, Any]:
    t0 = time.time()
    prefill(engine, first, n, datetime.now(UTC), journey_id, state, payload)
    log(f"  pre-filled {n:,} enrolments + timers in {time.time() - t0:.1f}s")
    start = time.time()
    result = run_workers(url, workers, tmp, start)
    log(f"  {workers} worker(s): {result}")
    return result


def paced(
    engine: sa.Engine,
    url: str,
    workers: int,
    rate: int,
    seconds: float,
    first: int,
    tmp: Path,
    journey_id: int,
    state: dict[str, Any],
    payload: dict[str, Any],
) -> dict[str, Any]:
    """Timers falling due at ``rate``/s (under capacity): lag is what a contact would feel."""
    n = max(1, int(rate * seconds))
    prefill(engine, first, n, datetime(2100, 1, 1, tzinfo=UTC), journey_id, state, payload)
    start = time.time() + 1.0
    t = schema.timers
    with engine.begin() as conn:
        ids = (
            conn.execute(sa.select(t.c.id).where(t.c.enrollment_id >= first).order_by(t.c.id)).scalars().all()
        )
        conn.execute(
            sa.update(t).where(t.c.id == sa.bindparam("_id")).values(due_at=sa.bindparam("due")),
            [{"_id": i, "due": datetime.fromtimestamp(start + k / rate, UTC)} for k, i in enumerate(ids)],
        )
    result = run_workers(url, workers, tmp, start)
    log(f"  paced at {rate}/s, {workers} worker(s): {result}")
    return result


def history_cost(
    engine: sa.Engine,
    url: str,
    sizes: list[int],
    n: int,
    first: int,
    tmp: Path,
    journey_id: int,
    state: dict[str, Any],
    payload: dict[str, Any],
) -> dict[str, float]:
    out: dict[str, float] = {}
    for size in sizes:
        t0 = time.time()
        prefill_traces(engine, size)
        log(f"  traces at {size:,} ({time.time() - t0:.0f}s)")
        r = burst(engine, url, 1, n, first, tmp, journey_id, state, payload)
        first += n
        out[f"us_per_transition_at_{size}_traces"] = round(1e6 / max(r["transitions_per_s"], 1), 1)
    return out


# --------------------------------------------------------------------------- backends


def bench_backend(
    name: str, url: str, engine: sa.Engine, n: int, worker_counts: list[int], history: list[int], tmp: Path
) -> dict[str, Any]:
    log(f"{name}: {n:,} enrolments")
    jid = publish_journey(engine)
    state, payload = waiting_state(engine)
    first = 1
    out: dict[str, Any] = {}
    if history:  # first, so the traces table holds exactly the pre-filled history
        small = min(n, 20_000)
        out_history = history_cost(engine, url, history, small, first, tmp, jid, state, payload)
        first += small * len(history)
    for w in worker_counts:
        out[f"burst_{w}_workers"] = burst(engine, url, w, n, first, tmp, jid, state, payload)
        first += n
    best = max(r["transitions_per_s"] for r in out.values())
    rate = max(100, best // 3)  # a third of the measured capacity: the machine is shared
    seconds = min(10.0, max(2.0, n / max(best, 1)))
    out["paced"] = paced(engine, url, worker_counts[-1], rate, seconds, first, tmp, jid, state, payload)
    if history:
        out["history"] = out_history
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--enrolments", type=int, default=1_000_000)
    ap.add_argument(
        "--history",
        default="1000000,10000000",
        help="trace-table sizes for cost per transition (comma separated; empty to skip)",
    )
    ap.add_argument(
        "--history-postgres", action="store_true", help="measure the history cost on PostgreSQL too"
    )
    ap.add_argument("--postgres-url", default=os.environ.get("TIDINGS_TEST_DATABASE_URL", DEFAULT_PG))
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--worker", nargs=2, metavar=("URL", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker_main(args.worker[0], args.worker[1], idle_exit=0.5)
        return
    history = [int(x) for x in args.history.split(",") if x.strip()]
    results: dict[str, Any] = {"enrolments": args.enrolments}
    with tempfile.TemporaryDirectory(prefix="tidings-bench-engine-") as d:
        tmp = Path(d)
        if not args.no_sqlite:
            url = f"sqlite:///{tmp / 'bench.db'}"
            engine = create_engine(url)
            upgrade(engine)
            results["sqlite"] = bench_backend("sqlite", url, engine, args.enrolments, [1], history, tmp)
            engine.dispose()
        if not args.no_postgres:
            name = f"bench_engine_{os.getpid()}"
            admin = create_engine(args.postgres_url)
            try:
                with admin.begin() as conn:
                    conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
            except Exception as exc:  # noqa: BLE001
                log(f"postgresql unavailable ({exc.__class__.__name__}); skipped")
            else:
                try:
                    engine = create_engine(args.postgres_url, schema=name)
                    upgrade(engine)
                    base = normalise_url(args.postgres_url)
                    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{name}"
                    results["postgres"] = bench_backend(
                        "postgres",
                        url,
                        engine,
                        args.enrolments,
                        [1, 2],
                        history if args.history_postgres else [],
                        tmp,
                    )
                    engine.dispose()
                finally:
                    with admin.begin() as conn:
                        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
                    admin.dispose()
    sq = results.get("sqlite", {})
    pg = results.get("postgres", {})
    summary = {
        "enrolments": args.enrolments,
        "sqlite_transitions_per_s": sq.get("burst_1_workers", {}).get("transitions_per_s"),
        "postgres_1_worker_transitions_per_s": pg.get("burst_1_workers", {}).get("transitions_per_s"),
        "postgres_2_workers_transitions_per_s": pg.get("burst_2_workers", {}).get("transitions_per_s"),
        "sqlite_burst_lag_p50_ms": sq.get("burst_1_workers", {}).get("lag_p50_ms"),
        "sqlite_burst_lag_p99_ms": sq.get("burst_1_workers", {}).get("lag_p99_ms"),
        "postgres_2_workers_burst_lag_p99_ms": pg.get("burst_2_workers", {}).get("lag_p99_ms"),
        "timer_lag_p50_ms": (sq.get("paced") or pg.get("paced") or {}).get("lag_p50_ms"),
        "timer_lag_p99_ms": (sq.get("paced") or pg.get("paced") or {}).get("lag_p99_ms"),
        "postgres_paced_lag_p99_ms": pg.get("paced", {}).get("lag_p99_ms"),
        **{f"sqlite_{k}": v for k, v in sq.get("history", {}).items()},
        **{f"postgres_{k}": v for k, v in pg.get("history", {}).items()},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
