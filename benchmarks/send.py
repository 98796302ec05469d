"""Benchmark: personalised, tracked, DKIM-signed emails drained from the outbox into a real SMTP sink.

    .venv/bin/python benchmarks/send.py --messages 20000 [--connections 8] [--database-url URL]

The sink is an aiosmtpd server in a SEPARATE process that only counts. In the same run we measure
the raw ceiling: pre-built messages pushed by aiosmtplib to the same sink over the same number of
connections. The product path does everything a real send does: claim outbox rows in batches,
check consent/suppression/preferences, render the Jinja2 template for the contact, rewrite links
and add the open pixel (HMAC tokens), build MIME, sign with DKIM (RSA-2048), send, record the
outcome + message.sent event + enqueue the contact. The outbox is streamed in batches, so memory
stays flat however many messages there are. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from scratch import scratch_schema  # noqa: E402

from tidings.bootstrap import build  # noqa: E402
from tidings.channels.dkim import generate_key  # noqa: E402
from tidings.channels.registry import ChannelRegistry  # noqa: E402
from tidings.clock import ManualClock  # noqa: E402
from tidings.settings import Settings  # noqa: E402
from tidings.store import schema  # noqa: E402
from tidings.store.db import create_engine  # noqa: E402
from tidings.store.migrate import upgrade  # noqa: E402
from tidings.store.sql_uow import joined

TEMPLATE = """<html><body>
<h1>Hello {{ contact.first_name | default("there") }}!</h1>
<p>Your plan: {{ contact.plan | default("free") }}.
We picked these for you in {{ contact.city | default("your city") }}:</p>
<ul>{% for item in ["Shoes", "Hats", "Bags"] %}
<li><a href="https://shop.example.com/{{ item | lower }}?c={{ contact.id }}">{{ item }}</a></li>
{% endfor %}</ul>
<p><a href="https://shop.example.com/">Visit the shop</a></p>
<p style="font-size:12px;color:#888">You get this because you subscribed.
<a href="{{ message.unsubscribe_url }}">Unsubscribe</a> or
<a href="{{ message.preferences_url }}">manage preferences</a>.</p>
</body></html>"""


def run_sink(port: int, counter: Any, ready: Any, loop: str = "asyncio") -> None:
    """The SMTP sink process: plain aiosmtpd that accepts and counts, storing nothing."""
    asyncio.set_event_loop_policy(None)
    if loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            with counter.get_lock():  # type: ignore[attr-defined]
                counter.value += 1  # type: ignore[attr-defined]
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int | None = None) -> float:
    """User+system CPU seconds of a process (Linux /proc), to show where the time goes."""
    import os

    fields = Path(f"/proc/{pid or os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KB


def setup(engine: sa.Engine, n: int, now: datetime, chunk: int = 10_000) -> None:
    """n contacts with consent, one template, n pending outbox rows (inserted in chunks)."""
    from tidings.application.delivery.templates import save_template
    from tidings.domain.templates import TemplateSource

    with engine.begin() as conn:
        save_template(
            joined(conn),
            TemplateSource(
                key="bench",
                subject="{{ contact.first_name | default('Hi') }}, new for you",
                body=TEMPLATE,
                settings={"from": "Shop <news@shop.example.com>"},
            ),
            now,
        )
    for start in range(0, n, chunk):
        ids = range(start + 1, min(n, start + chunk) + 1)
        with engine.begin() as conn:
            conn.execute(
                sa.insert(schema.contacts),
                [
                    {
                        "id": i,
                        "email": f"c{i}@example.org",
                        "first_name": f"Name{i}",
                        "attributes": {"plan": "pro" if i % 3 else "free", "city": "Lyon"},
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in ids
                ],
            )
            conn.execute(
                sa.insert(schema.consents),
                [
                    {
                        "contact_id": i,
                        "channel": "email",
                        "status": "granted",
                        "source": "bench",
                        "recorded_at": now,
                        "proof": {},
                        "topics": {},
                    }
                    for i in ids
                ],
            )
            conn.execute(
                sa.insert(schema.outbox),
                [
                    {
                        "contact_id": i,
                        "idempotency_key": f"bench-{i}",
                        "kind": "message",
                        "channel": "email",
                        "category": "marketing",
                        "template": "bench",
                        "status": "pending",
                        "next_attempt_at": now,
                        "created_at": now,
                        "payload": {
                            "channel": "email",
                            "template": "bench",
                            "category": "marketing",
                            "data": {},
                        },
                    }
                    for i in ids
                ],
            )
        print(f"  setup: {ids[-1]:,}/{n:,} contacts and outbox rows", flush=True)


def setup_in_child(url: str, n: int, now: datetime) -> None:
    engine = create_engine(url)
    setup(engine, n, now)
    engine.dispose()


async def ceiling(provider: object, n: int, raw: list[bytes], connections: int) -> float:
    from tidings.channels.email import SmtpProvider

    assert isinstance(provider, SmtpProvider)
    queue_size = connections * 4
    sem = asyncio.Semaphore(queue_size)
    done = 0

    async def one(i: int) -> None:
        nonlocal done
        try:
            result = await provider.send_raw(
                "news@shop.example.com", f"c{i}@example.org", raw[i % len(raw)], f"raw-{i}"
            )
            if result.ok:
                done += 1
        finally:
            sem.release()

    t0 = time.perf_counter()
    tasks = []
    for i in range(n):
        await sem.acquire()
        tasks.append(asyncio.ensure_future(one(i)))
        if len(tasks) > 10_000:
            tasks = [t for t in tasks if not t.done()]
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    await provider.aclose()
    assert done == n, f"ceiling: only {done}/{n} accepted"
    return n / elapsed


def deliver_in_process(container: object, settings: Settings, batch: int, counter: object) -> int:
    """The product path: a Deliverer draining the outbox into the sink until it is empty."""
    from tidings.channels.delivery import Deliverer
    from tidings.channels.email import build_provider

    container.settings = settings  # type: ignore[attr-defined]

    async def go() -> int:
        provider = build_provider(container)  # type: ignore[arg-type]
        deliverer = Deliverer(container, ChannelRegistry({"email": provider}), batch_size=batch)  # type: ignore[arg-type]
        t = time.perf_counter()

        async def progress() -> None:
            while True:
                await asyncio.sleep(2)
                done = counter.value  # type: ignore[attr-defined]
                print(
                    f"  product: {done:,} received, {done / (time.perf_counter() - t):,.0f}/s, "
                    f"rss {peak_rss_mb():.0f} MB",
                    flush=True,
                )

        reporter = asyncio.ensure_future(progress()) if counter is not None else None
        try:
            return await deliverer.drain()
        finally:
            if reporter:
                reporter.cancel()
            deliverer.close()
            await provider.aclose()

    return asyncio.run(go())


def deliver_worker(settings: Settings, now: datetime, batch: int, results: mp.Queue) -> None:  # type: ignore[type-arg]
    """One delivery process (forked): its own engine and loop, sharing the outbox through the database."""
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    engine = create_engine(settings.database_url)
    container = build(settings, clock=ManualClock(now), engine=engine)
    handled = deliver_in_process(container, settings, batch, None)
    results.put((handled, cpu_seconds(), peak_rss_mb()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    ap.add_argument("--no-dkim", action="store_true")
    ap.add_argument("--workers", type=int, default=1, help="delivery processes sharing the outbox")
    ap.add_argument(
        "--ceiling-messages",
        type=int,
        default=50_000,
        help="messages pushed for the raw ceiling (a rate: no need to push a million)",
    )
    ap.add_argument(
        "--sink-loop",
        choices=["asyncio", "uvloop"],
        default="asyncio",
        help="event loop of the sink process (aiosmtpd's default is asyncio)",
    )
    args = ap.parse_args()

    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        loop_name = "uvloop"
    except ImportError:
        loop_name = "asyncio"

    tmp = Path(tempfile.mkdtemp(prefix="tidings-send-bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    if url.startswith("sqlite"):
        bench(args, url, tmp, loop_name)
    else:  # a scratch schema, dropped afterwards: the database others test on stays as it was
        with scratch_schema(url, "send") as scratch:
            bench(args, scratch, tmp, loop_name)


def bench(args: argparse.Namespace, url: str, tmp: Path, loop_name: str) -> None:
    n = args.messages
    key_file = tmp / "dkim.pem"
    key_file.write_bytes(generate_key())
    port = free_port()
    counter = mp.Value("q", 0)
    ready = mp.Event()
    sink = mp.get_context("fork").Process(
        target=run_sink, args=(port, counter, ready, args.sink_loop), daemon=True
    )
    sink.start()
    ready.wait(10)

    engine = create_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        if conn.execute(sa.select(sa.func.count()).select_from(schema.outbox)).scalar():
            sys.exit("the benchmark database must be empty")
    clock = ManualClock(datetime(2026, 6, 1, 9, 0, tzinfo=UTC))
    settings = Settings(
        database_url=url,
        secret_key="bench-secret",
        public_url="https://t.shop.example.com",
        smtp_url=f"smtp://127.0.0.1:{port}?pool={args.connections}&starttls=off",
        email_from="Shop <news@shop.example.com>",
        dkim_domain=None if args.no_dkim else "shop.example.com",
        dkim_selector="s1",
        dkim_key_file=None if args.no_dkim else str(key_file),
    )
    container = build(settings, clock=clock, engine=engine)
    print(
        f"send benchmark: {n:,} messages, {args.connections} SMTP connections, sender {loop_name}, "
        f"sink {args.sink_loop}, "
        f"{'SQLite' if url.startswith('sqlite') else 'PostgreSQL'}, "
        f"DKIM {'off' if args.no_dkim else 'rsa-2048'}",
        flush=True,
    )
    t0 = time.perf_counter()
    # setup runs in a child process: its memory is not the sender's.
    engine.dispose()
    filler = mp.get_context("fork").Process(target=setup_in_child, args=(url, n, clock.now()))
    filler.start()
    filler.join()
    assert filler.exitcode == 0, "setup failed"
    print(f"  setup took {time.perf_counter() - t0:.1f}s", flush=True)

    from tidings.channels.email import build_provider, render_bytes

    workers = max(1, args.workers)
    per_worker = replace(
        settings, smtp_url=f"smtp://127.0.0.1:{port}?pool={max(1, args.connections // workers)}&starttls=off"
    )
    before = counter.value
    sink0 = cpu_seconds(sink.pid)
    t = time.perf_counter()
    if workers == 1:
        cpu0 = cpu_seconds()
        handled = deliver_in_process(container, per_worker, args.batch, counter)
        cpu_product, worker_rss = cpu_seconds() - cpu0, peak_rss_mb()
    else:  # several delivery processes sharing the outbox, as several `tidings worker` would
        results: mp.Queue = mp.get_context("fork").Queue()  # type: ignore[type-arg]
        procs = [
            mp.get_context("fork").Process(
                target=deliver_worker, args=(per_worker, clock.now(), args.batch, results)
            )
            for _ in range(workers)
        ]
        engine.dispose()
        for proc in procs:
            proc.start()
        outs = [results.get() for _ in procs]
        for proc in procs:
            proc.join()
        handled = sum(o[0] for o in outs)
        cpu_product = sum(o[1] for o in outs)
        worker_rss = max(o[2] for o in outs)
    elapsed = time.perf_counter() - t
    rate = handled / elapsed
    sink_product = cpu_seconds(sink.pid) - sink0
    received = counter.value - before
    with engine.connect() as conn:
        sent = conn.execute(sa.select(sa.func.count()).where(schema.outbox.c.status == "sent")).scalar()
    assert sent == n and received == n, f"sent {sent}, received {received}, expected {n}"
    print(
        f"  product path: {rate:,.0f} emails/s ({handled:,} sent by {workers} delivery process(es), all "
        f"received by the sink); CPU per message: sender {cpu_product / n * 1000:.2f} ms, "
        f"sink {sink_product / n * 1000:.2f} ms",
        flush=True,
    )
    rss = worker_rss

    # the ceiling: messages built the same way beforehand (a sample, cycled), pushed raw.
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(schema.outbox).limit(200)).mappings()]
    from tidings.channels.prepare import message_from_rendered

    signer_provider = build_provider(container)
    raw = [
        render_bytes(m, default_from=settings.email_from, clock=clock, signer=signer_provider.signer)
        for m in (message_from_rendered(r) for r in rows)
        if m is not None
    ]
    before = counter.value
    cpu0, sink0 = cpu_seconds(), cpu_seconds(sink.pid)
    m = min(n, args.ceiling_messages)
    ceiling_rate = asyncio.run(ceiling(build_provider(container), m, raw, args.connections))
    cpu_raw, sink_raw = cpu_seconds() - cpu0, cpu_seconds(sink.pid) - sink0
    assert counter.value - before == m
    print(
        f"  raw ceiling: {ceiling_rate:,.0f} emails/s ({m:,} pre-built {len(raw[0]):,}-byte messages); "
        "CPU per message: "
        f"sender {cpu_raw / m * 1000:.2f} ms, sink {sink_raw / m * 1000:.2f} ms",
        flush=True,
    )
    ratio = rate / ceiling_rate
    print(f"  ratio {ratio:.0%}, peak RSS {max(rss, peak_rss_mb()):.0f} MB", flush=True)
    sink.terminate()
    print(
        json.dumps(
            {
                "messages": n,
                "connections": args.connections,
                "dkim": not args.no_dkim,
                "sink_loop": args.sink_loop,
                "workers": workers,
                "database": "sqlite" if url.startswith("sqlite") else "postgresql",
                "emails_per_s": round(rate, 1),
                "ceiling_emails_per_s": round(ceiling_rate, 1),
                "ratio": round(ratio, 3),
                "peak_rss_mb": round(max(rss, peak_rss_mb()), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
