"""Benchmark: segment rules over many contacts, and how fast an event becomes a membership.

    .venv/bin/python benchmarks/segments.py [--contacts 1000000 --events 10000000]
                                            [--postgres-url URL | --no-postgres] [--no-live]
                                            [--rate 1000 --seconds 10 --senders 4 --batch 10]
                                            [--live-postgres]

1. Generate N contacts (attributes, tags, consents) and M events (seeded; activity skewed: a few
   contacts do most things; 5% purchases, message engagement with proxy opens) in a SQLite file
   and a fresh PostgreSQL schema (bulk loads with indexes built afterwards, then ANALYZE).
2. Create the indexes saving the rules as segments creates, compile each representative rule with
   ``store.rules_sql.compile_rule``, count and fetch the matching ids: median of 5 runs after a
   warm-up, per backend. Then the ceiling, same run: each rule written by hand (``HAND_SQL``,
   the fastest form found per backend), which must count the same.
3. Live: ``tidings serve`` (API + worker + segment refresher) on a fresh SQLite file, segments
   defined, events offered at --rate events/s for --seconds by --senders concurrent clients in
   requests of --batch events (see ``offer_load``; --live-postgres: the server on PostgreSQL);
   the delay from an event's
   acceptance (``events.received_at``) to its contact's ``segment_memberships.entered_at`` gives
   p50/p99 (both stamped by the server's clock).

The last line is one JSON object: sqlite_rule_ms, postgres_rule_ms (rule -> median ms), the
hand-written ceilings sqlite_hand_ms, postgres_hand_ms, membership_delay_p50_ms,
membership_delay_p99_ms and the sizes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from tidings.domain.rules import parse_rule  # noqa: E402
from tidings.store import schema  # noqa: E402
from tidings.store.db import create_engine  # noqa: E402
from tidings.store.migrate import upgrade  # noqa: E402
from tidings.store.rule_indexes import ensure_rule_indexes, rule_indexes, rule_query  # noqa: E402
from tidings.store.segments_sql import SqlSegmentStore  # noqa: E402
from tidings.store.sql_uow import SqlUnitOfWork  # noqa: E402
from tidings.store.types import UTCDateTime  # noqa: E402

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAYS = 180
NULL = "\\N"  # COPY's text format null

RULES = {
    "attribute_only": 'attributes.plan == "pro" and attributes.age >= 30',
    "tag_and_event_count": 'tag("vip") and purchase.count(30d) >= 2',
    "event_sum": "purchase.sum(90d) > 500",
    "engagement": 'message.opened(template="t3", human=true).count(14d) >= 1',
    "nested_any_not": ('(tag("newsletter") or score > 80) and not (unsubscribed("email") or purchase.count(60d) >= 1)'),
}

#: the same rules written by hand, each the fastest form found for its backend (with the indexes
#: saved segments get): the ceiling the compiler is compared with in the same run. ``:w30`` etc.
#: are NOW minus the window.
HAND_SQL = {
    "attribute_only": {
        "sqlite": "SELECT count(*) FROM contacts WHERE json_extract(attributes, '$.\"plan\"') = 'pro'"
        " AND json_extract(attributes, '$.\"age\"') >= 30",
        "postgresql": "SELECT count(*) FROM contacts WHERE jsonb_extract_path(attributes, 'plan') = '\"pro\"'"
        " AND (attributes->>'age')::float >= 30 AND jsonb_typeof(attributes->'age') = 'number'",
    },
    "tag_and_event_count": {
        "sqlite": "SELECT count(*) FROM (SELECT contact_id FROM contact_tags WHERE tag = 'vip' INTERSECT"
        " SELECT contact_id FROM events INDEXED BY ix_events_name_occurred_at_contact_id_value"
        " WHERE name = 'purchase' AND occurred_at >= :w30 GROUP BY contact_id HAVING count(*) >= 2)",
        "postgresql": "SELECT count(*) FROM (SELECT contact_id FROM contact_tags WHERE tag = 'vip' INTERSECT"
        " SELECT contact_id FROM events WHERE name = 'purchase' AND occurred_at >= :w30"
        " GROUP BY contact_id HAVING count(*) >= 2) s",
    },
    "event_sum": {
        "sqlite": "SELECT count(*) FROM (SELECT contact_id FROM events INDEXED BY"
        " ix_events_name_occurred_at_contact_id_value WHERE name = 'purchase' AND occurred_at >= :w90"
        " GROUP BY contact_id HAVING sum(value) > 500)",
        "postgresql": "SELECT count(*) FROM (SELECT contact_id FROM events WHERE name = 'purchase'"
        " AND occurred_at >= :w90 GROUP BY contact_id HAVING sum(value) > 500) s",
    },
    "engagement": {
        "sqlite": "SELECT count(DISTINCT contact_id) FROM events WHERE name = 'message.opened'"
        " AND json_extract(properties, '$.\"template\"') = 't3' AND occurred_at >= :w14"
        " AND json_type(properties, '$.\"machine\"') IS NOT 'true'",
        "postgresql": "SELECT count(DISTINCT contact_id) FROM events WHERE name = 'message.opened'"
        " AND jsonb_extract_path(properties, 'template') = '\"t3\"' AND occurred_at >= :w14"
        " AND (properties->'machine') IS DISTINCT FROM 'true'::jsonb",
    },
    "nested_any_not": {
        "sqlite": "SELECT count(*) FROM (SELECT contact_id FROM contact_tags WHERE tag = 'newsletter'"
        " UNION SELECT id FROM contacts WHERE score > 80"
        " EXCEPT SELECT contact_id FROM consents WHERE channel = 'email' AND status = 'unsubscribed'"
        " EXCEPT SELECT contact_id FROM events INDEXED BY ix_events_name_occurred_at_contact_id_value"
        " WHERE name = 'purchase' AND occurred_at >= :w60)",
        "postgresql": "SELECT count(*) FROM (SELECT contact_id FROM contact_tags WHERE tag = 'newsletter'"
        " UNION SELECT id FROM contacts WHERE score > 80) p"
        " WHERE NOT EXISTS (SELECT 1 FROM consents u WHERE u.contact_id = p.contact_id"
        " AND u.channel = 'email' AND u.status = 'unsubscribed')"
        " AND NOT EXISTS (SELECT 1 FROM events e WHERE e.contact_id = p.contact_id AND e.name = 'purchase'"
        " AND e.occurred_at >= :w60)",
    },
}
#: settings the hand-written PostgreSQL forms were tuned with (per query, SET LOCAL)
HAND_PG_SETTINGS = {
    "tag_and_event_count": ["SET LOCAL max_parallel_workers_per_gather = 0"],
    "event_sum": ["SET LOCAL max_parallel_workers_per_gather = 0"],
    "nested_any_not": ["SET LOCAL enable_hashagg = off", "SET LOCAL enable_hashjoin = off"],
}

EVENT_MIX = [  # name, share
    ("page_viewed", 0.50),
    ("cart_added", 0.10),
    ("purchase", 0.05),
    ("message.delivered", 0.15),
    ("message.opened", 0.12),
    ("message.clicked", 0.03),
    ("form_submitted", 0.05),
]
EVENT_INDEXES = (
    "ix_events_contact_id_name_occurred_at",
    "ix_events_name_occurred_at_contact_id_value",
    "ix_events_unprocessed",
)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----------------------------------------------------------------------------- data


def gen_contacts(
    n: int, rng: random.Random
) -> tuple[list[tuple[Any, ...]], list[tuple[int, str]], list[tuple[int, str, str]]]:
    contacts, tags, consents = [], [], []
    plans = ["free"] * 6 + ["pro"] * 3 + ["team"]
    for cid in range(1, n + 1):
        attrs = {
            "plan": rng.choice(plans),
            "age": rng.randint(18, 80),
            "country": rng.choice(["DE", "FR", "US", "GB", "NL"]),
            "birthday": f"19{rng.randint(50, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        }
        created = NOW - timedelta(days=rng.random() * 700)
        contacts.append(
            (
                cid,
                f"c{cid}@bench.test",
                json.dumps(attrs),
                round(rng.random() * 100, 1),
                rng.choice(["lead", "customer", "subscriber"]),
                created,
                created,
            )
        )
        r = rng.random()
        if r < 0.10:
            tags.append((cid, "vip"))
        if rng.random() < 0.30:
            tags.append((cid, "newsletter"))
        s = rng.random()
        consents.append((cid, "email", "granted" if s < 0.9 else ("unsubscribed" if s < 0.95 else "pending")))
    return contacts, tags, consents


def gen_events(n_contacts: int, m: int, rng: random.Random) -> Any:
    """Yield (contact_id, name, properties_json, occurred_at, value) tuples, skewed activity."""
    names = [x for x, _ in EVENT_MIX]
    weights = [w for _, w in EVENT_MIX]
    cum = []
    acc = 0.0
    for w in weights:
        acc += w
        cum.append(acc)
    for _ in range(m):
        cid = 1 + int(n_contacts * rng.random() ** 2.5)  # a few contacts do most things
        r = rng.random() * acc
        i = 0
        while cum[i] < r:
            i += 1
        name = names[i]
        at = NOW - timedelta(seconds=rng.random() * DAYS * 86400)
        value = None
        if name == "purchase":
            value = round(rng.expovariate(1 / 80), 2)
            props = f'{{"revenue": {value}, "currency": "EUR"}}'
        elif name.startswith("message."):
            machine = "true" if name == "message.opened" and rng.random() < 0.3 else "false"
            props = (
                f'{{"template": "t{rng.randint(0, 9)}", "channel": "email", '
                f'"journey": "j{rng.randint(0, 4)}", '
                f'"step": "s1", "message_id": {rng.randint(1, 10**9)}, "machine": {machine}}}'
            )
        else:
            props = '{"path": "/p"}' if name == "page_viewed" else "{}"
        yield cid, name, props, at, value


def fmt(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def load_sqlite(path: Path, n: int, m: int, seed: int) -> sa.Engine:
    url = f"sqlite:///{path}"
    eng = create_engine(url)
    upgrade(eng)
    eng.dispose()
    rng = random.Random(seed)
    contacts, tags, consents = gen_contacts(n, rng)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    for ix in EVENT_INDEXES:
        db.execute(f"DROP INDEX IF EXISTS {ix}")
    db.executemany(
        "INSERT INTO contacts (id, email, attributes, score, lifecycle_stage, created_at, updated_at, "
        "anonymous) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
        [(c[0], c[1], c[2], c[3], c[4], fmt(c[5]), fmt(c[6])) for c in contacts],
    )
    t = fmt(NOW)
    db.executemany("INSERT INTO contact_tags VALUES (?, ?, ?)", [(c, g, t) for c, g in tags])
    db.executemany(
        "INSERT INTO consents (contact_id, channel, status, recorded_at, proof, topics) "
        "VALUES (?, ?, ?, ?, '{}', '{}')",
        [(c, ch, s, t) for c, ch, s in consents],
    )
    db.commit()
    log(f"sqlite: {n} contacts loaded")
    batch: list[tuple[Any, ...]] = []
    done = 0
    sql = (
        "INSERT INTO events (contact_id, name, properties, occurred_at, received_at, source, value, "
        "processed_at) VALUES (?, ?, ?, ?, ?, 'bench', ?, ?)"
    )
    for cid, name, props, at, value in gen_events(n, m, rng):
        s = fmt(at)
        batch.append((cid, name, props, s, s, value, s))
        if len(batch) >= 200_000:
            db.executemany(sql, batch)
            db.commit()
            done += len(batch)
            batch = []
            if done % 2_000_000 == 0:
                log(f"sqlite: {done} events")
    if batch:
        db.executemany(sql, batch)
    db.commit()
    log("sqlite: building indexes")
    db.close()
    eng = create_engine(url)
    for ix in schema.events.indexes:
        ix.create(eng, checkfirst=True)
    with eng.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    log("sqlite: ready")
    return eng


def load_postgres(url: str, n: int, m: int, seed: int, name: str | None = None) -> tuple[sa.Engine, str, sa.Engine]:
    name = name or f"bench_seg_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    eng = create_engine(url, schema=name)
    upgrade(eng)
    rng = random.Random(seed)
    contacts, tags, consents = gen_contacts(n, rng)
    raw = eng.raw_connection()
    try:
        cur = raw.cursor()
        for ix in EVENT_INDEXES:
            cur.execute(f"DROP INDEX IF EXISTS {ix}")
        with cur.copy(
            "COPY contacts (id, email, attributes, score, lifecycle_stage, created_at, updated_at, "
            "anonymous) FROM STDIN"
        ) as cp:
            for c in contacts:
                cp.write_row(
                    (
                        c[0],
                        c[1],
                        c[2],
                        c[3],
                        c[4],
                        c[5].replace(tzinfo=None),
                        c[6].replace(tzinfo=None),
                        False,
                    )
                )
        with cur.copy("COPY contact_tags (contact_id, tag, created_at) FROM STDIN") as cp:
            for c, g in tags:
                cp.write_row((c, g, NOW.replace(tzinfo=None)))
        with cur.copy("COPY consents (contact_id, channel, status, recorded_at, proof, topics) FROM STDIN") as cp:
            for c, ch, s in consents:
                cp.write_row((c, ch, s, NOW.replace(tzinfo=None), "{}", "{}"))
        raw.commit()
        log(f"postgres: {n} contacts loaded")
        done = 0
        with cur.copy(
            "COPY events (contact_id, name, properties, occurred_at, received_at, source, value, "
            "processed_at) FROM STDIN"
        ) as cp:
            buf = io.StringIO()
            for cid, ename, props, at, value in gen_events(n, m, rng):
                s = fmt(at)
                v = NULL if value is None else value
                buf.write(f"{cid}\t{ename}\t{props}\t{s}\t{s}\tbench\t{v}\t{s}\n")
                done += 1
                if done % 100_000 == 0:
                    cp.write(buf.getvalue())
                    buf = io.StringIO()
                if done % 2_000_000 == 0:
                    log(f"postgres: {done} events")
            cp.write(buf.getvalue())
        raw.commit()
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{name}.contacts', 'id'), {n + 1})")
        raw.commit()
    finally:
        raw.close()
    log("postgres: building indexes")
    for ix in schema.events.indexes:
        ix.create(eng, checkfirst=True)
    with eng.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    log("postgres: ready")
    return eng, name, admin


# ----------------------------------------------------------------------------- rules


def attr_indexes(eng: sa.Engine, create: bool) -> None:
    """The attribute and event-property indexes saving these rules as segments creates
    (``store.rule_indexes.ensure_rule_indexes``), or none of them (``--no-attr-indexes``: A/B)."""
    for key, text in RULES.items():
        rule = parse_rule(text)
        t0 = time.perf_counter()
        if create:
            names = ensure_rule_indexes(eng, rule)
            if names:
                log(f"{eng.dialect.name:10s} {key:22s} indexes {names} ({time.perf_counter() - t0:.1f} s)")
        else:
            with eng.begin() as conn:
                for ix in rule_indexes(rule, eng.dialect.name):
                    conn.exec_driver_sql(f'DROP INDEX IF EXISTS "{ix.name}"')


def time_rules(
    eng: sa.Engine, runs: int = 5, indexes: bool = True
) -> tuple[dict[str, float], dict[str, int], dict[str, float]]:
    """Median ms per rule: evaluating it over every contact (a count, as preview does), and
    fetching the matching ids (as a refresh does)."""
    attr_indexes(eng, indexes)
    out: dict[str, float] = {}
    fetch: dict[str, float] = {}
    counts: dict[str, int] = {}
    for key, text in RULES.items():
        times, ftimes = [], []
        with eng.connect() as conn:
            q = rule_query(conn, parse_rule(text), NOW)  # as a segment refresh runs it
            cq = sa.select(sa.func.count()).select_from(q.subquery())
            for i in range(runs + 1):
                t0 = time.perf_counter()
                n = conn.execute(cq).scalar_one()
                t1 = time.perf_counter()
                ids = conn.execute(q).scalars().all()
                t2 = time.perf_counter()
                if i:
                    times.append((t1 - t0) * 1000)
                    ftimes.append((t2 - t1) * 1000)
            conn.rollback()
        assert n == len(ids)
        out[key] = round(statistics.median(times), 1)
        fetch[key] = round(statistics.median(ftimes), 1)
        counts[key] = n
        log(f"{eng.dialect.name:10s} {key:22s} {out[key]:8.1f} ms  (ids: {fetch[key]:8.1f} ms, {n} contacts)")
    return out, counts, fetch


def time_hand_sql(eng: sa.Engine, counts: dict[str, int], runs: int = 5) -> dict[str, float]:
    """Median ms of the hand-written form of each rule (``HAND_SQL``): the ceiling, same run.
    Each must count what the compiled rule counted."""
    params = {f"w{d}": NOW - timedelta(days=d) for d in (14, 30, 60, 90)}
    out: dict[str, float] = {}
    for key, forms in HAND_SQL.items():
        q = sa.text(forms[eng.dialect.name]).bindparams(
            *(sa.bindparam(k, v, type_=UTCDateTime()) for k, v in params.items() if f":{k}" in forms[eng.dialect.name])
        )
        times = []
        with eng.connect() as conn:
            if eng.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
                for stmt in HAND_PG_SETTINGS.get(key, []):
                    conn.exec_driver_sql(stmt)
            for i in range(runs + 1):
                t0 = time.perf_counter()
                n = conn.execute(q).scalar_one()
                if i:
                    times.append((time.perf_counter() - t0) * 1000)
            conn.rollback()
        if n != counts[key]:
            raise SystemExit(f"hand-written {key} counted {n}, the compiled rule {counts[key]}")
        out[key] = round(statistics.median(times), 1)
        log(f"{eng.dialect.name:10s} {key:22s} {out[key]:8.1f} ms  by hand")
    return out


# ----------------------------------------------------------------------------- live


def offer_load(
    base: str, key: str, rate: int, seconds: float, senders: int, batch: int
) -> tuple[int, int, float, list[float]]:
    """Offer ``rate`` events/s for ``seconds`` as a fleet of trackers would.

    ``senders`` concurrent clients (one keep-alive connection each, like several site servers or
    browsers behind a collector) share one schedule: a request of ``batch`` events every
    ``batch / rate`` s, request k going to sender k mod ``senders``. Each sender has one request
    in flight; when the server is slower than the schedule a sender falls behind and sends its
    next request at once, so the accepted rate measures the server, not the generator.
    ``batch`` 1 posts single events to ``/api/events``, larger batches go to ``/api/events/batch``
    (what Segment/RudderStack clients do with ``/v1/batch``). Returns (events sent, events
    refused, accepted events/s, request latencies in ms).
    """
    import httpx

    interval = batch / rate
    n_requests = max(1, int(seconds * rate / batch))
    start = time.monotonic() + 0.2
    lock = threading.Lock()
    errors = 0
    sent = 0
    latencies: list[float] = []
    last_done = start

    def sender(index: int) -> None:
        nonlocal errors, sent, last_done
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
            for k in range(index, n_requests, senders):
                pause = start + k * interval - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                items = [
                    {
                        "name": "purchase",
                        "email": f"live{k}_{i}@bench.test",
                        "properties": {"currency": "EUR", "revenue": 10},
                    }
                    for i in range(batch)
                ]
                t0 = time.monotonic()
                try:
                    if batch == 1:
                        ok = client.post("/api/events", json=items[0]).status_code == 202
                    else:
                        ok = client.post("/api/events/batch", json={"batch": items}).status_code == 202
                except httpx.HTTPError:
                    ok = False
                t1 = time.monotonic()
                with lock:
                    latencies.append((t1 - t0) * 1000)
                    sent += batch
                    last_done = max(last_done, t1)
                    if not ok:
                        errors += batch

    log(f"live: offering {n_requests * batch} events at {rate}/s ({senders} senders, {batch} per request)")
    threads = [threading.Thread(target=sender, args=(i,)) for i in range(senders)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    achieved = (sent - errors) / max(last_done - start, 1e-3)
    return sent, errors, achieved, sorted(latencies)


def live_delay(
    rate: int,
    seconds: float,
    senders: int = 4,
    batch: int = 10,
    database_url: str | None = None,
    workers: int = 0,
    api_processes: int = 1,
) -> dict[str, Any]:
    """Events offered at ``rate``/s to a live `tidings serve`; acceptance -> membership delay.

    SQLite (a fresh file, one process: API + worker + refresher) unless ``database_url`` names a
    PostgreSQL database (a fresh schema in it; still one `tidings serve` process). ``workers``
    > 0: `tidings serve --no-worker` plus that many `tidings worker` processes (the scale-out
    setup; PostgreSQL). ``api_processes`` > 1: `tidings serve --api-processes N` (HTTP in N
    child processes, the worker in the parent).
    """
    import httpx

    from tidings.application.access.keys import create_key
    from tidings.application.segments.segments import create_segment, sync_indexes
    tmp = Path(tempfile.mkdtemp(prefix="tidings-segbench-"))
    pg_schema = None
    if database_url:
        pg_schema = f"bench_live_{uuid.uuid4().hex[:8]}"
        with create_engine(database_url).begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{pg_schema}"')
        sep = "&" if "?" in database_url else "?"
        url = f"{database_url}{sep}options=-csearch_path%3D{pg_schema}"
        eng = create_engine(database_url, schema=pg_schema)
    else:
        url = f"sqlite:///{tmp / 'live.db'}"
        eng = create_engine(url)
    upgrade(eng)
    now = datetime.now(UTC)
    _, key = create_key(SqlUnitOfWork(eng), "bench", ["admin"], now)
    create_segment(SqlSegmentStore(eng), "buyers", "Buyers", 'purchase(currency="EUR").count(30d) >= 1', now)
    for k, text in RULES.items():
        create_segment(SqlSegmentStore(eng), k, k, text, now)
    # the server's segment refresher would build them too: have them before measuring
    sync_indexes(SqlSegmentStore(eng))
    eng.dispose()
    port = _free_port()
    env = dict(
        os.environ,
        TIDINGS_DATABASE_URL=url,
        TIDINGS_LOG_LEVEL="WARNING",
        TIDINGS_SECRET_KEY="bench",
        TIDINGS_CATCHER_SMTP_PORT=str(_free_port()),
    )
    command = os.environ.get("TIDINGS_BENCH_SERVER", str(Path(sys.executable).parent / "tidings")).split()
    proc = subprocess.Popen(
        [
            *command,
            "serve",
            "--port",
            str(port),
            "--no-catcher",
            "--api-processes",
            str(api_processes),
            *(["--no-worker"] if workers else []),
        ],
        env=env,
        cwd=ROOT,
    )
    worker_procs = [subprocess.Popen([*command, "worker"], env=env, cwd=ROOT) for _ in range(workers)]
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("live server did not start")
            time.sleep(0.2)
        eng = create_engine(database_url, schema=pg_schema) if pg_schema and database_url else create_engine(url)
        backlog: list[int] = []  # queued contacts, sampled every 0.5 s: does the worker keep up?
        stop = threading.Event()

        def sample() -> None:
            from tidings.store.db import read_only

            while not stop.wait(0.5):
                with eng.connect() as c:  # a reader: no SQLite write lock taken from the server
                    conn = read_only(c)
                    backlog.append(int(conn.execute(sa.text("SELECT count(*) FROM contact_queue")).scalar_one()))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            sent, errors, achieved, latencies = offer_load(base, key, rate, seconds, senders, batch)
        finally:
            stop.set()
            sampler.join()
        deadline = time.monotonic() + float(os.environ.get("TIDINGS_BENCH_SETTLE_S", "60"))
        while time.monotonic() < deadline:
            with eng.connect() as conn:
                n_in = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM segment_memberships m JOIN segments s ON s.id = m.segment_id "
                        "WHERE s.key = 'buyers'"
                    )
                ).scalar_one()
            if n_in >= sent - errors:
                break
            time.sleep(0.5)
        with eng.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT e.received_at, m.entered_at FROM segment_memberships m "
                    "JOIN segments s ON s.id = m.segment_id AND s.key = 'buyers' "
                    "JOIN events e ON e.contact_id = m.contact_id AND e.name = 'purchase'"
                )
            ).all()
        eng.dispose()
        delays = sorted((_dt(b) - _dt(a)).total_seconds() * 1000 for a, b in rows)
        return {
            "membership_delay_p50_ms": round(delays[len(delays) // 2], 1) if delays else None,
            "membership_delay_p99_ms": round(delays[min(len(delays) - 1, int(len(delays) * 0.99))], 1)
            if delays
            else None,
            "live_backend": "postgresql" if pg_schema else "sqlite",
            "live_offered_rate": rate,
            "live_senders": senders,
            "live_batch": batch,
            "live_workers": workers,
            "live_api_processes": api_processes,
            "live_events": sent,
            "live_entries": len(delays),
            "live_missing": max(0, sent - errors - len(delays)),  # accepted, not entered within 60 s
            "live_rate": round(achieved),
            "live_errors": errors,
            "queue_max": max(backlog, default=0),
            "queue_median": sorted(backlog)[len(backlog) // 2] if backlog else 0,
            "request_p50_ms": round(latencies[len(latencies) // 2], 1) if latencies else None,
            "request_p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1)
            if latencies
            else None,
        }
    finally:
        for p in [proc, *worker_procs]:
            p.terminate()
        for p in [proc, *worker_procs]:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        if pg_schema and database_url:
            with create_engine(database_url).begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{pg_schema}" CASCADE')


def _dt(v: Any) -> datetime:
    return datetime.fromisoformat(v) if isinstance(v, str) else v


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ----------------------------------------------------------------------------- main


def run_postgres(args: Any, tag: str, sqlite_counts: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    name = f"bench_seg_{tag}"
    try:
        admin = create_engine(args.postgres_url)
        with admin.connect() as conn:
            exists = conn.exec_driver_sql(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = %(n)s", {"n": name}
            ).first()
        if args.reuse and exists:
            log(f"postgres: reusing schema {name}")
            peng = create_engine(args.postgres_url, schema=name)
        else:
            peng, name, admin = load_postgres(
                args.postgres_url, args.contacts, args.events, args.seed, name if args.reuse else None
            )
            out["postgres_load_s"] = round(time.perf_counter() - t0, 1)
    except sa.exc.OperationalError as exc:
        log(f"postgres unavailable: {exc}")
        return {"postgres_rule_ms": None}
    out["postgres_rule_ms"], pg_counts, out["postgres_rule_ids_ms"] = time_rules(peng, indexes=not args.no_attr_indexes)
    if not args.no_attr_indexes:
        out["postgres_hand_ms"] = time_hand_sql(peng, pg_counts)
    out["backends_agree"] = pg_counts == sqlite_counts
    peng.dispose()
    if not args.keep and not args.reuse:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
    admin.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--contacts", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--postgres-url", default=os.environ.get("TIDINGS_BENCH_POSTGRES_URL", DEFAULT_PG))
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--no-live", action="store_true")
    ap.add_argument("--rate", type=int, default=1000, help="events/s for the live membership-delay run")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--senders", type=int, default=4, help="concurrent clients offering the live load")
    ap.add_argument("--batch", type=int, default=10, help="events per request (1 = single events)")
    ap.add_argument("--live-postgres", action="store_true", help="run the live server on --postgres-url")
    ap.add_argument(
        "--live-workers",
        type=int,
        default=0,
        help="N > 0: serve --no-worker plus N `tidings worker` processes (PostgreSQL scale-out)",
    )
    ap.add_argument(
        "--live-api-processes", type=int, default=1, help="N > 1: serve --api-processes N (HTTP in N processes)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the generated databases")
    ap.add_argument("--reuse", metavar="DIR", help="keep the data in DIR (SQLite) / a named schema and reuse it")
    ap.add_argument("--no-rules", action="store_true", help="only the live membership-delay run")
    ap.add_argument(
        "--no-attr-indexes",
        action="store_true",
        help="rule phase without the attribute and event-property indexes saved segments get (A/B)",
    )
    args = ap.parse_args()
    result: dict[str, Any] = {
        "contacts": args.contacts,
        "events": args.events,
        "load_avg_start": round(os.getloadavg()[0], 1),
    }
    tag = f"{args.contacts}_{args.events}_{args.seed}"

    if args.no_rules:
        result.update(sqlite_rule_ms=None, postgres_rule_ms=None)
    else:
        tmp = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="tidings-segbench-"))
        tmp.mkdir(parents=True, exist_ok=True)
        db = tmp / f"bench_{tag}.db"
        t0 = time.perf_counter()
        if args.reuse and db.exists():
            log(f"sqlite: reusing {db}")
            eng = create_engine(f"sqlite:///{db}")
            for ix in schema.events.indexes:  # the schema's current indexes
                ix.create(eng, checkfirst=True)
        else:
            eng = load_sqlite(db, args.contacts, args.events, args.seed)
            result["sqlite_load_s"] = round(time.perf_counter() - t0, 1)
        result["sqlite_rule_ms"], result["rule_matches"], result["sqlite_rule_ids_ms"] = time_rules(
            eng, indexes=not args.no_attr_indexes
        )
        if not args.no_attr_indexes:
            result["sqlite_hand_ms"] = time_hand_sql(eng, result["rule_matches"])
        eng.dispose()
        if not args.keep and not args.reuse:
            for p in tmp.glob(f"{db.name}*"):
                p.unlink()
        if not args.no_postgres:
            result.update(run_postgres(args, tag, result["rule_matches"]))
        else:
            result["postgres_rule_ms"] = None

    if args.no_live:
        result.update(membership_delay_p50_ms=None, membership_delay_p99_ms=None, live="not measured")
    else:
        result.update(
            live_delay(
                args.rate,
                args.seconds,
                args.senders,
                args.batch,
                args.postgres_url if args.live_postgres else None,
                args.live_workers,
                args.live_api_processes,
            )
        )
    result["load_avg_end"] = round(os.getloadavg()[0], 1)  # a shared 2-core machine: context for the figures
    print(json.dumps(result))


if __name__ == "__main__":
    main()
