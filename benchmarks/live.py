"""Live traffic: a steady open-loop stream of real HTTP events into a running Tidings, journeys
reacting through a real SMTP sink, and how fast an event becomes an email (issue 20 item 1).

1. a fresh database (a temp SQLite file, or a fresh PostgreSQL schema on
   TIDINGS_TEST_DATABASE_URL / --database-url), migrated, with an admin key and a track key;
2. an SMTP sink in this process (aiosmtpd) that timestamps every message on arrival;
3. the server: ``tidings serve`` (SQLite: one process with the worker) or, with --split (the
   default on PostgreSQL), ``tidings serve --no-worker`` plus one ``tidings worker``, sending
   through ``TIDINGS_SMTP_URL`` to the sink;
4. over the API: two templates, a segment ``hot`` (``attributes.hot == true``) and two journeys —
   ``live.ping`` (one enrolment per event, key = its ``seq``) → an email "ping SEQ", and entering
   ``hot`` → an email "seg EMAIL";
5. a pool of contacts identified first (with emails), then --clients generator processes post
   ``/v1/batch`` every --tick seconds, open loop (a tick never waits for the previous answer),
   for --seconds at --rate events/s in total: ``track live.ping`` for pool users and, one call in
   --hot-every, an ``identify`` of a new user with ``hot: true``;
6. drain: wait until every expected email arrived (or nothing arrived for --drain-idle seconds).

Figures: sustained accepted events/s, /v1/batch ack p50/p99, accepted → email at the sink
p50/p99 (the ping emails), accepted → segment membership p50/p99 (``segment_memberships.entered_at``),
lost events (acknowledged, not stored), lost and duplicate emails. The last line is one JSON
object; the targets of the issue are echoed beside the figures, with the load average (this
machine is shared: read figures against it).

    .venv/bin/python benchmarks/live.py --quick                # 10 s at 200 ev/s on SQLite
    .venv/bin/python benchmarks/live.py --rate 1000 --seconds 60
    .venv/bin/python benchmarks/live.py --db postgres --rate 1000 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ingest import DEFAULT_PG, free_port, wait_ready  # noqa: E402
from scratch import scratch_schema  # noqa: E402

TARGETS = {"sustained_events_per_s": 1000, "event_to_email_p99_ms": 1000, "event_to_segment_p99_ms": 1000, "lost": 0}
PING = """
key: live-ping
triggers:
  - event: live.ping
    key: seq
settings:
  category: transactional
  reentry: per_key
steps:
  - id: send
    type: send
    channel: email
    template: live-ping
"""
HOT = """
key: live-hot
triggers:
  - segment_entered: hot
settings:
  category: transactional
steps:
  - id: send
    type: send
    channel: email
    template: live-seg
"""


# --------------------------------------------------------------------------- the SMTP sink


class Sink:
    """Every message's subject and arrival time (wall clock: the server's clock is the same)."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        at = time.time()
        subject = str(message_from_bytes(envelope.original_content or envelope.content).get("Subject", ""))
        with self.lock:
            self.arrivals.append((at, subject))
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)


# --------------------------------------------------------------------------- the load


def generator(
    base: str, key: str, seconds: float, rate: float, tick: float, hot_every: int, pool: int, out: Any, ident: int
) -> None:
    """Open loop: every ``tick`` a batch of ``rate * tick`` calls is posted without waiting for
    the previous one; returns (kind, id, sent, acked, status) per call."""
    import httpx

    rng = random.Random(ident)
    per_tick = max(1, round(rate * tick))
    records: list[tuple[str, str, float, float, int]] = []

    async def post(client: httpx.AsyncClient, items: list[tuple[str, str]], body: bytes) -> None:
        sent = time.time()
        try:
            r = await client.post("/v1/batch", content=body)
            status = r.status_code
        except httpx.HTTPError:
            status = 0
        acked = time.time()
        records.extend((kind, ident_, sent, acked, status) for kind, ident_ in items)

    async def run() -> None:
        import orjson

        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(
            base_url=base, auth=(key, ""), timeout=60, limits=limits, headers={"Content-Type": "application/json"}
        ) as client:
            tasks, n, t0 = [], 0, time.monotonic()
            for k in range(int(seconds / tick)):
                await asyncio.sleep(max(0.0, t0 + k * tick - time.monotonic()))
                calls, items = [], []
                for _ in range(per_tick):
                    n += 1
                    if hot_every and n % hot_every == 0:
                        email = f"hot-{ident}-{n}@bench.example"
                        calls.append(
                            {
                                "type": "identify",
                                "userId": f"hot-{ident}-{n}",
                                "messageId": f"live-h{ident}-{n}",
                                "traits": {"email": email, "hot": True},
                            }
                        )
                        items.append(("hot", email))
                    else:
                        seq = f"s{ident}-{n}"
                        calls.append(
                            {
                                "type": "track",
                                "userId": f"u-{rng.randrange(pool)}",
                                "event": "live.ping",
                                "messageId": f"live-{seq}",
                                "properties": {"seq": seq},
                            }
                        )
                        items.append(("ping", seq))
                tasks.append(asyncio.create_task(post(client, items, orjson.dumps({"batch": calls}))))
            await asyncio.gather(*tasks)

    asyncio.run(run())
    out.put(records)


# --------------------------------------------------------------------------- setup


def prepare(url: str) -> tuple[str, str]:
    """Migrate; an admin key and a track key."""
    from tidings.application.access.keys import create_key
    from tidings.store.db import create_engine
    from tidings.store.migrate import upgrade
    from tidings.store.sql_uow import SqlUnitOfWork

    eng = create_engine(url)
    upgrade(eng)
    now = datetime.now(UTC)
    admin = create_key(SqlUnitOfWork(eng), "live bench admin", ["admin"], now)[1]
    track = create_key(SqlUnitOfWork(eng), "live bench", ["track"], now)[1]
    eng.dispose()
    return admin, track


def install(base: str, admin: str, track: str, pool: int) -> None:
    import httpx

    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"}, timeout=60) as api:
        for key, subject in (("live-ping", "ping {{ data.variables.seq }}"), ("live-seg", "seg {{ contact.email }}")):
            r = api.put(f"/api/templates/{key}", json={"subject": subject, "body": "<p>live</p>"})
            assert r.status_code in (200, 201), r.text
        r = api.post("/api/segments", json={"key": "hot", "name": "Hot", "rule": "attributes.hot == true"})
        assert r.status_code == 201, r.text
        for doc in (PING, HOT):
            r = api.post("/api/journeys?publish=true", content=doc, headers={"Content-Type": "application/yaml"})
            assert r.status_code == 201, r.text
    with httpx.Client(base_url=base, auth=(track, ""), timeout=120) as v1:
        for start in range(0, pool, 500):
            batch = [
                {
                    "type": "identify",
                    "userId": f"u-{i}",
                    "messageId": f"pool-{i}",
                    "traits": {"email": f"u-{i}@bench.example"},
                }
                for i in range(start, min(pool, start + 500))
            ]
            r = v1.post("/v1/batch", json={"batch": batch})
            assert r.status_code == 200, r.text


def wait_quiet(url: str, timeout: float = 120) -> None:
    """Until the worker has taken every queued contact (the pool's identify calls)."""
    import sqlalchemy as sa

    from tidings.store import schema
    from tidings.store.db import create_engine

    eng = create_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with eng.connect() as conn:
                if not conn.execute(sa.select(sa.func.count()).select_from(schema.contact_queue)).scalar_one():
                    return
            time.sleep(0.5)
    finally:
        eng.dispose()


def stored(url: str, hot_emails: list[str]) -> tuple[set[str], dict[str, float]]:
    """Message ids of the stored live events; when each hot contact entered the segment."""
    import sqlalchemy as sa

    from tidings.store import schema
    from tidings.store.db import create_engine

    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            ids = set(
                conn.execute(
                    sa.select(schema.events.c.message_id).where(schema.events.c.message_id.like("live-%"))
                ).scalars()
            )
            c, m = schema.contacts, schema.segment_memberships
            rows = conn.execute(
                sa.select(c.c.email, m.c.entered_at).join(m, m.c.contact_id == c.c.id).where(c.c.email.like("hot-%"))
            ).all()
    finally:
        eng.dispose()
    entered = {str(e): at.replace(tzinfo=at.tzinfo or UTC).timestamp() for e, at in rows}
    return ids, {e: entered[e] for e in hot_emails if e in entered}


def stages(url: str, pings: dict[Any, float], arrivals: dict[str, list[float]]) -> dict[str, Any]:
    """Where an event's way to the sink spends its time, per ping email: acknowledged -> outbox row
    written by the worker (``created_at``) -> handed to the provider (``handed_off_at``) -> at the sink."""
    import sqlalchemy as sa

    from tidings.store import schema
    from tidings.store.db import create_engine

    def ts(at: Any) -> float:
        return float(at.replace(tzinfo=at.tzinfo or UTC).timestamp())

    o = schema.outbox
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            rows = conn.execute(
                sa.select(o.c.subject, o.c.created_at, o.c.handed_off_at).where(o.c.subject.like("ping %"))
            ).all()
    finally:
        eng.dispose()
    queued, claimed, smtp = [], [], []
    for subject, created, handed in rows:
        seq = str(subject).split(" ", 1)[1]
        if seq not in pings or handed is None or subject not in arrivals:
            continue
        queued.append(ts(created) - pings[seq])
        claimed.append(ts(handed) - ts(created))
        smtp.append(min(arrivals[subject]) - ts(handed))
    return {
        "ack_to_outbox_p50_ms": pct(queued, 0.5), "ack_to_outbox_p99_ms": pct(queued, 0.99),
        "outbox_to_handoff_p50_ms": pct(claimed, 0.5), "outbox_to_handoff_p99_ms": pct(claimed, 0.99),
        "handoff_to_sink_p50_ms": pct(smtp, 0.5), "handoff_to_sink_p99_ms": pct(smtp, 0.99),
    }


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * q))] * 1000, 1)


# --------------------------------------------------------------------------- the run


def run(url: str, args: argparse.Namespace, split: bool) -> dict[str, Any]:
    from aiosmtpd.controller import Controller

    admin, track = prepare(url)
    sink = Sink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    port = free_port()
    env = {
        **os.environ,
        "TIDINGS_DATABASE_URL": url,
        "TIDINGS_LOG_LEVEL": "WARNING",
        # pool: SMTP connections, also the delivery loop's hand-off window (docs/channels.md)
        "TIDINGS_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}?pool={args.smtp_pool}",
        "TIDINGS_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    exe = shutil.which("tidings", path=str(ROOT / ".venv" / "bin")) or "tidings"
    serve = [exe, "serve", "--port", str(port), "--no-catcher", "--smtp-port", str(free_port())]
    procs = [subprocess.Popen([*serve, "--no-worker"] if split else serve, env=env, stdout=subprocess.DEVNULL)]
    if split:
        procs.append(subprocess.Popen([exe, "worker"], env=env, stdout=subprocess.DEVNULL))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, procs[0])
        print(
            f"[live] server up ({'API + worker processes' if split else 'one process'}); "
            f"installing, identifying {args.pool} contacts",
            file=sys.stderr,
            flush=True,
        )
        install(base, admin, track, args.pool)
        wait_quiet(url)
        print(
            f"[live] streaming {args.rate:g} events/s for {args.seconds:g} s from {args.clients} processes",
            file=sys.stderr,
            flush=True,
        )
        out: Any = mp.Queue()
        gens = [
            mp.Process(
                target=generator,
                args=(
                    base,
                    track,
                    args.seconds,
                    args.rate / args.clients,
                    args.tick,
                    args.hot_every,
                    args.pool,
                    out,
                    i,
                ),
            )
            for i in range(args.clients)
        ]
        t0 = time.time()
        for g in gens:
            g.start()
        records = [r for _ in gens for r in out.get()]
        for g in gens:
            g.join()
        stream_s = time.time() - t0
        acked = [r for r in records if r[4] == 200]
        pings = {r[1]: r[3] for r in acked if r[0] == "ping"}
        hots = {r[1]: r[3] for r in acked if r[0] == "hot"}
        expected = len(pings) + len(hots)
        last, seen = time.time(), 0
        while sink.count() < expected and time.time() - last < args.drain_idle:
            time.sleep(0.5)
            if sink.count() != seen:
                seen, last = sink.count(), time.time()
            print(f"\r[live] draining: {sink.count():,}/{expected:,} emails", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        controller.stop()
    arrivals: dict[str, list[float]] = {}
    for at, subject in sink.arrivals:
        arrivals.setdefault(subject, []).append(at)
    email_lat = [min(arrivals[f"ping {s}"]) - t for s, t in pings.items() if f"ping {s}" in arrivals]
    seg_email_lat = [min(arrivals[f"seg {e}"]) - t for e, t in hots.items() if f"seg {e}" in arrivals]
    ids, entered = stored(url, list(hots))
    seg_lat = [entered[e] - t for e, t in hots.items() if e in entered]
    lost_events = sum(1 for seq in pings if f"live-{seq}" not in ids)  # acknowledged track calls not stored
    lost_emails = sum(1 for s in pings if f"ping {s}" not in arrivals) + sum(
        1 for e in hots if f"seg {e}" not in arrivals
    )
    duplicates = sum(len(v) - 1 for v in arrivals.values())
    acked_events = len(acked)
    return {
        "sustained_events_per_s": round(acked_events / stream_s),
        "offered_events_per_s": round(len(records) / stream_s),
        "refused_or_failed_calls": len(records) - acked_events,
        "ack_p50_ms": pct([r[3] - r[2] for r in acked], 0.5),
        "ack_p99_ms": pct([r[3] - r[2] for r in acked], 0.99),
        "event_to_email_p50_ms": pct(email_lat, 0.5),
        "event_to_email_p99_ms": pct(email_lat, 0.99),
        "event_to_segment_p50_ms": pct(seg_lat, 0.5),
        "event_to_segment_p99_ms": pct(seg_lat, 0.99),
        "event_to_segment_email_p99_ms": pct(seg_email_lat, 0.99),
        "lost": lost_events + lost_emails,
        "lost_events": lost_events,
        "lost_emails": lost_emails,
        "duplicate_emails": duplicates,
        "emails": len(sink.arrivals),
        "stages": stages(url, pings, arrivals),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--database-url", default=os.environ.get("TIDINGS_TEST_DATABASE_URL") or DEFAULT_PG)
    ap.add_argument("--rate", type=float, default=1000, help="events/s offered, all generators together")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=2, help="generator processes")
    ap.add_argument("--tick", type=float, default=0.1, help="seconds between batches of each generator")
    ap.add_argument("--hot-every", type=int, default=20, help="one call in N is an identify that enters the segment")
    ap.add_argument("--pool", type=int, default=2000, help="contacts identified before the stream")
    ap.add_argument("--smtp-pool", type=int, default=4, help="SMTP connections of the sender (product default 4)")
    ap.add_argument("--drain-idle", type=float, default=30, help="stop waiting after this long without an email")
    ap.add_argument(
        "--split",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="API and worker as separate processes (default: on PostgreSQL)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the SQLite database (to look into it)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 10 s at 200 events/s, 300 contacts")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.rate, args.pool = 10, 200, 300
    split = args.split if args.split is not None else args.db == "postgres"
    result: dict[str, Any] = {
        "db": args.db, "rate": args.rate, "seconds": args.seconds, "split": split, "smtp_pool": args.smtp_pool
    }
    if args.db == "sqlite":
        tmp = tempfile.mkdtemp(prefix="tidings-live-")
        try:
            result.update(run(f"sqlite:///{tmp}/live.db", args, split))
        finally:
            if args.keep:
                print(f"[live] database kept: {tmp}/live.db", file=sys.stderr)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    else:
        with scratch_schema(args.database_url, "live") as url:
            result.update(run(url, args, split))
    result["load_average"] = round(os.getloadavg()[0], 1)
    result["targets"] = TARGETS
    print(json.dumps(result))


if __name__ == "__main__":
    main()
