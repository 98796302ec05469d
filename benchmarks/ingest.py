"""Sustained ingest through /v1/batch against a real server, and the raw insert ceiling.

For SQLite (a temp file) and PostgreSQL (a fresh schema; TIDINGS_TEST_DATABASE_URL,
--postgres-url, default postgresql://postgres@127.0.0.1:5432/test; --no-postgres skips it):

1. start `tidings serve --no-worker --no-catcher` (uvicorn in a subprocess) on the database;
2. several client processes post /v1/batch with 500 track calls each (HTTP Basic write key,
   users drawn from a pool so contacts are created and found), for --seconds;
   a batch is counted when the server acknowledged it (200 = committed);
3. in the same run, our insert path's ceiling: the same rows (events + contact queue) inserted
   directly with SQLAlchemy Core, one transaction per 500, no HTTP, no validation;
4. and the database's physical ceiling for the same event rows into the same table and indexes:
   PostgreSQL ``COPY`` (``postgres_copy_ceiling_events_per_s``), SQLite executemany in
   transactions of 20,000 rows (``sqlite_bulk_ceiling_events_per_s``) — the figure issue 20 asks
   the HTTP path to reach 25% of.

The last line is one JSON object.

    .venv/bin/python benchmarks/ingest.py --seconds 20
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
USERS = 20_000


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_batch(prefix: str, seq: int, size: int, rng: random.Random) -> bytes:
    """A /v1/batch body like the Segment libraries send (users drawn from a pool)."""
    import orjson

    now = datetime.now(UTC).isoformat()
    return orjson.dumps(
        {
            "batch": [
                {
                    "type": "track",
                    "userId": f"user-{rng.randrange(USERS)}",
                    "event": rng.choice(EVENTS),
                    "properties": {
                        "sku": f"sku-{rng.randrange(500)}",
                        "price": rng.randrange(1, 200),
                        "currency": "EUR",
                    },
                    "timestamp": now,
                    "messageId": f"{prefix}-{seq:09d}-{i}",
                    "context": {"library": {"name": "bench", "version": "1"}, "ip": "203.0.113.7"},
                }
                for i in range(size)
            ],
            "sentAt": now,
        }
    )


class Bodies:
    """Cheap unique bodies: a few random templates, each request gets fresh message ids.

    The clients share the 2 cores with the server; building 500 random events per request in
    Python would measure the client, not Tidings.
    """

    def __init__(self, prefix: str, size: int, rng: random.Random) -> None:
        self.templates = [make_batch(prefix, 0, size, rng) for _ in range(8)]
        self.marker = f"{prefix}-{0:09d}-".encode()
        self.prefix = prefix

    def get(self, seq: int) -> bytes:
        body = self.templates[seq % len(self.templates)]
        return body.replace(self.marker, f"{self.prefix}-{seq:09d}-".encode())


EVENTS = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed", "Page Viewed"]


def client_loop(url: str, key: str, seconds: float, size: int, out: mp.Queue, seed: int) -> None:  # type: ignore[type-arg]
    import httpx

    rng = random.Random(seed)
    prefix = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    events = 0
    errors = 0
    seq = 0
    with httpx.Client(
        base_url=url, auth=(key, ""), timeout=60, headers={"Content-Type": "application/json"}
    ) as http:
        bodies = Bodies(prefix, size, rng)
        deadline = time.monotonic() + seconds
        body = bodies.get(seq)
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            r = http.post("/v1/batch", content=body)
            dt = time.perf_counter() - t0
            if r.status_code == 200 and r.json().get("accepted") == size:
                events += size
                latencies.append(dt)
            else:
                errors += 1
                if errors < 3:
                    print(f"  client error {r.status_code}: {r.text[:200]}", flush=True)
            seq += 1
            body = bodies.get(seq)
    out.put((events, latencies, errors))


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:  # type: ignore[type-arg]
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not start")


def prepare(url: str) -> str:
    """Migrate the database and create a track key; returns the key."""
    from tidings.application.access.keys import create_key
    from tidings.store.db import create_engine
    from tidings.store.migrate import upgrade
    from tidings.store.sql_uow import SqlUnitOfWork

    eng = create_engine(url)
    upgrade(eng)
    _, key = create_key(SqlUnitOfWork(eng), "bench", ["track"], datetime.now(UTC))
    eng.dispose()
    return key


def run_http(url: str, key: str, seconds: float, clients: int, size: int) -> tuple[float, float, int]:
    port = free_port()
    env = {**os.environ, "TIDINGS_DATABASE_URL": url, "TIDINGS_LOG_LEVEL": "WARNING"}
    exe = shutil.which("tidings", path=str(ROOT / ".venv" / "bin")) or "tidings"
    proc = subprocess.Popen(
        [exe, "serve", "--no-worker", "--no-catcher", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
        # warm up: create the user pool's first contacts, JIT caches, connection pools
        warm = mp.Process(target=client_loop, args=(base, key, 1.0, size, out, 999))
        warm.start()
        out.get()
        warm.join()
        procs = [
            mp.Process(target=client_loop, args=(base, key, seconds, size, out, i)) for i in range(clients)
        ]
        cpu0 = proc_cpu(proc.pid)
        t0 = time.perf_counter()
        for p in procs:
            p.start()
        results = [out.get() for _ in procs]
        elapsed = time.perf_counter() - t0
        server_cpu = proc_cpu(proc.pid) - cpu0
        for p in procs:
            p.join()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    events = sum(r[0] for r in results)
    lat = sorted(x for r in results for x in r[1])
    errors = sum(r[2] for r in results)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan")
    print(
        f"  server CPU {server_cpu:.1f} s for {events:,} events "
        f"({server_cpu / max(events, 1) * 1e6:.0f} us/event), "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    return events / elapsed, p99, errors


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc): the machine is shared, wall time is noisy."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def run_ceiling(url: str, seconds: float, size: int) -> float:
    """The same rows inserted directly: events (ON CONFLICT DO NOTHING) + queue, 500 per commit.

    It uses the fastest insert we have (store.ingest_sql, the driver's executemany on SQLite),
    so the ratio measures what validation, identity resolution and HTTP cost on top of it.
    """
    import sqlalchemy as sa

    from tidings.store import schema
    from tidings.store.db import create_engine
    from tidings.store.ingest_sql import IngestWriter, enqueue, insert_events

    eng = create_engine(url)
    with eng.connect() as conn:
        ids = list(conn.execute(sa.select(schema.contacts.c.id).limit(USERS)).scalars())
    writer = IngestWriter(eng)  # the same connection tuning the server uses
    rng = random.Random(7)
    prefix = uuid.uuid4().hex[:8]
    n = 0
    seq = 0
    deadline = time.monotonic() + seconds
    t0 = time.perf_counter()
    while time.monotonic() < deadline:
        now = datetime.now(UTC)
        rows = [
            {
                "contact_id": rng.choice(ids),
                "name": rng.choice(EVENTS),
                "properties": {
                    "sku": f"sku-{rng.randrange(500)}",
                    "price": rng.randrange(1, 200),
                    "currency": "EUR",
                },
                "occurred_at": now,
                "received_at": now,
                "message_id": f"c{prefix}-{seq}-{i}",
                "source": "bench",
                "value": None,
            }
            for i in range(size)
        ]
        with writer.begin() as conn:
            insert_events(conn, rows)
            enqueue(conn, [r["contact_id"] for r in rows], now)
        n += size
        seq += 1
    rate = n / (time.perf_counter() - t0)
    writer.close()
    eng.dispose()
    return rate


def _event_rows(ids: list[int], n: int, prefix: str, rng: random.Random) -> list[dict[str, object]]:
    now = datetime.now(UTC)
    return [
        {
            "contact_id": rng.choice(ids),
            "name": rng.choice(EVENTS),
            "properties": {"sku": f"sku-{rng.randrange(500)}", "price": rng.randrange(1, 200), "currency": "EUR"},
            "occurred_at": now,
            "received_at": now,
            "message_id": f"{prefix}-{i}",
            "source": "bench",
            "value": None,
        }
        for i in range(n)
    ]


def run_physical_ceiling(url: str, seconds: float) -> float:
    """The database's fastest bulk path for the same event rows, same table and indexes.

    PostgreSQL: ``COPY events (...) FROM STDIN`` through psycopg, 20,000 rows per COPY and commit.
    SQLite: one executemany of 20,000 rows per transaction. Rows are built before the clock starts.
    """
    import orjson
    import sqlalchemy as sa

    from tidings.store import schema
    from tidings.store.db import create_engine

    eng = create_engine(url)
    with eng.connect() as conn:
        ids = list(conn.execute(sa.select(schema.contacts.c.id).limit(USERS)).scalars())
    rng, chunk, n = random.Random(11), 20_000, 0
    batches = [_event_rows(ids, chunk, f"p{uuid.uuid4().hex[:8]}-{b}", rng) for b in range(8)]
    cols = ("contact_id", "name", "properties", "occurred_at", "received_at", "message_id", "source", "value")
    t0 = time.perf_counter()
    deadline = time.monotonic() + seconds
    for rows in batches:  # at most 8 chunks (160k rows): enough for a steady rate
        if time.monotonic() > deadline and n:
            break
        if eng.dialect.name == "postgresql":
            raw = eng.raw_connection()
            try:
                with raw.cursor() as cur, cur.copy(f"COPY events ({', '.join(cols)}) FROM STDIN") as copy:
                    for r in rows:
                        copy.write_row([orjson.dumps(r[c]).decode() if c == "properties" else r[c] for c in cols])
                raw.commit()
            finally:
                raw.close()
        else:
            with eng.begin() as conn:
                conn.execute(sa.insert(schema.events), rows)
        n += len(rows)
    rate = n / (time.perf_counter() - t0)
    eng.dispose()
    return rate


def bench_backend(name: str, url: str, args: argparse.Namespace) -> dict[str, float]:
    print(f"[{name}] preparing {url.split('@')[-1]}", flush=True)
    key = prepare(url)
    print(
        f"[{name}] HTTP: {args.clients} clients x /v1/batch of {args.batch} for {args.seconds}s", flush=True
    )
    rate, p99, errors = run_http(url, key, args.seconds, args.clients, args.batch)
    print(
        f"[{name}] {rate:,.0f} events/s through /v1/batch, batch ack p99 {p99:.1f} ms, {errors} errors",
        flush=True,
    )
    ceiling = run_ceiling(url, max(3.0, args.seconds / 2), args.batch)
    print(
        f"[{name}] ceiling {ceiling:,.0f} events/s (SQLAlchemy Core, no HTTP); ratio {rate / ceiling:.0%}",
        flush=True,
    )
    physical = run_physical_ceiling(url, max(3.0, args.seconds / 2))
    how = "COPY" if url.startswith("postgresql") else "executemany, 20,000 rows per transaction"
    print(f"[{name}] physical ceiling {physical:,.0f} events/s ({how}); ratio {rate / physical:.0%}", flush=True)
    return {"rate": rate, "ceiling": ceiling, "physical": physical, "p99": p99, "errors": errors}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--postgres-url", default=os.environ.get("TIDINGS_TEST_DATABASE_URL") or DEFAULT_PG)
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    result: dict[str, float | None] = {}
    tmp = tempfile.mkdtemp(prefix="tidings-bench-")
    try:
        s = bench_backend("sqlite", f"sqlite:///{tmp}/bench.db", args)
        result.update(
            sqlite_events_per_s=round(s["rate"]),
            sqlite_ceiling_events_per_s=round(s["ceiling"]),
            sqlite_ratio=round(s["rate"] / s["ceiling"], 3),
            sqlite_bulk_ceiling_events_per_s=round(s["physical"]),
            sqlite_ratio_to_bulk=round(s["rate"] / s["physical"], 3),
            batch_ack_p99_ms=round(s["p99"], 1),
            sqlite_errors=s["errors"],
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result.update(
        postgres_events_per_s=None, postgres_ceiling_events_per_s=None, postgres_copy_ceiling_events_per_s=None
    )
    result["load_average"] = round(os.getloadavg()[0], 1)
    if not args.no_postgres:
        from tidings.store.db import create_engine, normalise_url

        schema_name = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres_url)
        try:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema_name}"')
            url = normalise_url(args.postgres_url)
            url += ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema_name}"
            p = bench_backend("postgres", url, args)
            result.update(
                postgres_events_per_s=round(p["rate"]),
                postgres_ceiling_events_per_s=round(p["ceiling"]),
                postgres_ratio=round(p["rate"] / p["ceiling"], 3),
                postgres_copy_ceiling_events_per_s=round(p["physical"]),
                postgres_ratio_to_copy=round(p["rate"] / p["physical"], 3),
                postgres_batch_ack_p99_ms=round(p["p99"], 1),
                postgres_errors=p["errors"],
            )
        except Exception as exc:  # report, do not hide the SQLite figures
            print(f"[postgres] skipped: {exc}", flush=True)
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')
            admin.dispose()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
