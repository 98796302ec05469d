"""Benchmark: a journey report over many contacts and engagement events, and the rollup hook's pace.

    .venv/bin/python benchmarks/analytics.py [--contacts 1000000] [--events 10000000] [--days 365]
        [--postgres-url URL] [--no-sqlite]

On a fresh database (SQLite temp file; PostgreSQL in a fresh schema when --postgres-url is given):

1. one journey (5 send steps, 2 versions, a 10 % control group), ``--contacts`` contacts, one
   enrolment each, one outbox row per message (``--events`` / 2.5 messages; the stream stops at
   ``--events``), written straight into the tables with the bulk path (executemany, 20,000 rows
   per transaction);
2. engagement events per message (sent; human and Apple-MPP opens; human and scanner clicks;
   a few unsubscribes, bounces and conversions), spread over ``--days`` days, streamed in chunks:
   each chunk is inserted into ``events`` (``insert_events_per_s``) and fed to the product's
   rollup hook (``application/analytics/rollups.feed`` on ``store/analytics.SqlAnalytics``) in
   batches of 500 events per transaction, as the worker does (``feed_events_per_s``; the target
   is 1,000/s); the journey's step-to-step moves go through ``add_edges`` once per day;
3. the journey report (``application/analytics/reports.journey_report``: totals, series by day,
   per step, per version, the funnel per edge, and the control group's lift over every entrant),
   median of 5: ``journey_report_ms`` (target < 1,000 ms); the same without the control group
   (``journey_report_rollups_ms``: rollup rows only). Ceiling measured in the same run: one
   ``count(*)`` over the events of the journey's messages (``events_count_ms``), what any report
   that scanned raw events would pay at least.

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
from collections.abc import Iterator
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
ROWS_PER_TX = 20_000
#: fewer than the ~3 events a message gets on average, so the stream reaches --events
EVENTS_PER_MESSAGE = 2.5
START = datetime(2026, 1, 1, tzinfo=UTC)


def _bulk(engine: sa.Engine, table: sa.Table, rows: Iterator[dict[str, Any]]) -> int:
    n = 0
    chunk: list[dict[str, Any]] = []
    for r in rows:
        chunk.append(r)
        if len(chunk) >= ROWS_PER_TX:
            with engine.begin() as conn:
                conn.execute(sa.insert(table), chunk)
            n += len(chunk)
            chunk = []
    if chunk:
        with engine.begin() as conn:
            conn.execute(sa.insert(table), chunk)
        n += len(chunk)
    return n


def _setup(engine: sa.Engine, contacts: int, days: int) -> int:
    now = START
    doc = {"key": "bench", "settings": {"control_group": 10}, "steps": [{"id": s, "type": "send"} for s in STEPS]}
    with engine.begin() as conn:
        jid = int(
            conn.execute(
                sa.insert(schema.journeys)
                .values(key="bench", name="bench", status="active", current_version=1, created_at=now, updated_at=now)
                .returning(schema.journeys.c.id)
            ).scalar_one()
        )
        for v in (1, 2):
            conn.execute(
                sa.insert(schema.journey_versions).values(
                    journey_id=jid, version=v, document=doc, source="", checksum="x", published_at=now
                )
            )
    _bulk(
        engine,
        schema.contacts,
        ({"id": i, "email": f"c{i}@bench.test", "attributes": {}, "created_at": now, "updated_at": now}
         for i in range(1, contacts + 1)),
    )
    rng = random.Random(3)
    _bulk(
        engine,
        schema.enrollments,
        (
            {"contact_id": i, "journey_id": jid, "version": 1 + i % 2, "status": "ended", "end_reason": "completed",
             "step_id": STEPS[-1], "state": {}, "entered_at": now + timedelta(days=rng.randrange(days)),
             "updated_at": now}
            for i in range(1, contacts + 1)
        ),
    )
    return jid


def _messages(engine: sa.Engine, jid: int, messages: int, contacts: int, days: int) -> None:
    rng = random.Random(7)
    _bulk(
        engine,
        schema.outbox,
        (
            {"id": i, "contact_id": 1 + rng.randrange(contacts), "idempotency_key": f"bench:{i}", "kind": "message",
             "channel": "email", "template": f"t-{STEPS[i % 5]}", "journey_id": jid, "journey_version": 1 + i % 2,
             "step_id": STEPS[i % 5], "payload": {}, "status": "sent", "next_attempt_at": START, "created_at": START,
             "sent_at": START + timedelta(days=rng.randrange(days), seconds=rng.randrange(86400))}
            for i in range(1, messages + 1)
        ),
    )


def _events_of(m: dict[str, Any], rng: random.Random) -> list[EventRecord]:
    p = {"message_id": m["id"], "channel": "email", "template": m["template"], "step": m["step_id"]}
    at = m["sent_at"]
    out = [EventRecord("message.sent", at, p)]
    if rng.random() < 0.02:
        return [*out, EventRecord("message.bounced", at, {**p, "bounce_type": "hard"})]
    if rng.random() < 0.35:
        out.append(EventRecord("message.opened", at + timedelta(seconds=1), {**p, "machine": True}))
    for _ in range(rng.choice((0, 1, 2, 3))):
        out.append(EventRecord("message.opened", at + timedelta(hours=2), {**p, "machine": False}))
    if rng.random() < 0.15:
        out.append(EventRecord("message.clicked", at + timedelta(hours=2), {**p, "machine": False}))
    if rng.random() < 0.05:
        out.append(EventRecord("message.clicked", at + timedelta(seconds=3), {**p, "machine": True}))
    if rng.random() < 0.005:
        out.append(EventRecord("message.unsubscribed", at + timedelta(hours=3), p))
    if rng.random() < 0.01:
        conv = {"journey": "bench", "step": m["step_id"], "revenue": 20.0, "attributed_to": {"message_id": m["id"]}}
        out.append(EventRecord("journey.converted", at + timedelta(hours=4), conv, 20.0))
    return out


def _stream(engine: sa.Engine, target: int) -> dict[str, float]:
    """Events per message, chunk by chunk: insert into ``events``, then feed the rollup hook."""
    o = schema.outbox
    rng = random.Random(11)
    done, sent, insert_s, feed_s, after = 0, 0, 0.0, 0.0, 0
    while done < target:
        with engine.connect() as conn:
            msgs = [
                dict(r)
                for r in conn.execute(
                    sa.select(o.c.id, o.c.contact_id, o.c.template, o.c.step_id, o.c.sent_at)
                    .where(o.c.id > after).order_by(o.c.id).limit(5000)
                ).mappings()
            ]
        if not msgs:
            break
        after = int(msgs[-1]["id"])
        evs: list[tuple[int, EventRecord]] = []
        for m in msgs:
            evs.extend((int(m["contact_id"]), e) for e in _events_of(m, rng))
        evs = evs[: target - done]
        t = time.perf_counter()
        rows = [
            {"contact_id": cid, "name": e.name, "properties": dict(e.properties), "occurred_at": e.occurred_at,
             "received_at": e.occurred_at, "value": e.value, "processed_at": e.occurred_at}
            for cid, e in evs
        ]
        with engine.begin() as conn:
            conn.execute(sa.insert(schema.events), rows)
        insert_s += time.perf_counter() - t
        t = time.perf_counter()
        plain = [e for _, e in evs]
        for k in range(0, len(plain), BATCH):
            with engine.begin() as conn:
                rollups.feed(SqlAnalytics(conn), plain[k : k + BATCH])
        feed_s += time.perf_counter() - t
        sent += sum(e.name == "message.sent" for e in plain)
        done += len(evs)
    return {"events": done, "sent": sent, "insert_s": insert_s, "feed_s": feed_s}


def _edges(engine: sa.Engine, jid: int, contacts: int, days: int) -> None:
    per_day = max(1, contacts // days)
    rows = []
    for d in range(days):
        day = (START + timedelta(days=d)).date().isoformat()
        for v in (1, 2):
            chain = ["", *STEPS, ""]
            for a, b in zip(chain, chain[1:], strict=False):
                rows.append({"day": day, "journey_id": jid, "journey_version": v, "src": a, "dst": b,
                             "moved": per_day // 2})
    with engine.begin() as conn:
        SqlAnalytics(conn).add_edges(rows)


def _median_ms(fn: Any, n: int = 5) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return round(statistics.median(times) * 1000, 1)


def run(url: str, contacts: int, events: int, days: int, label: str, schema_name: str | None = None) -> dict[str, Any]:
    engine = create_engine(url, schema=schema_name) if schema_name else create_engine(url)
    upgrade(engine)
    t0 = time.perf_counter()
    jid = _setup(engine, contacts, days)
    _messages(engine, jid, max(1, int(events / EVENTS_PER_MESSAGE)) + 100, contacts, days)
    setup_s = time.perf_counter() - t0
    s = _stream(engine, events)
    _edges(engine, jid, contacts, days)
    with engine.connect() as conn:
        conn.execute(sa.text("ANALYZE"))
        repo = SqlAnalytics(conn)
        data = reports.journey_report(repo, "bench", reports.Range())
        full_ms = _median_ms(lambda: reports.journey_report(repo, "bench", reports.Range()))
        j = dict(repo.journey("bench") or {})
        rollups_ms = _median_ms(lambda: reports.journey_report(_NoHoldout(repo), "bench", reports.Range()))
        e = schema.events
        opened = sa.select(sa.func.count()).select_from(e).where(e.c.name == "message.opened")
        count_ms = _median_ms(lambda: conn.execute(opened).scalar(), 3)
        rows = conn.execute(sa.select(sa.func.count()).select_from(schema.analytics_daily)).scalar_one()
    assert data["totals"]["sent"] == s["sent"], (data["totals"]["sent"], s["sent"])
    assert data["control_group"]["treated_contacts"] + data["control_group"]["control_contacts"] == contacts
    assert j["control_group"] == 10.0
    engine.dispose()
    return {
        f"{label}_contacts": contacts,
        f"{label}_events": s["events"],
        f"{label}_setup_s": round(setup_s, 1),
        f"{label}_insert_events_per_s": round(s["events"] / s["insert_s"]),
        f"{label}_feed_events_per_s": round(s["events"] / s["feed_s"]),
        f"{label}_journey_report_ms": full_ms,
        f"{label}_journey_report_rollups_ms": rollups_ms,
        f"{label}_events_count_ms": count_ms,
        f"{label}_rollup_rows": int(rows),
        f"{label}_report_under_1s": full_ms < 1000,
        f"{label}_feed_keeps_up_1000_per_s": s["events"] / s["feed_s"] >= 1000,
    }


class _NoHoldout:
    """The repository with the journey's control group hidden: the report from rollup rows only."""

    def __init__(self, repo: SqlAnalytics) -> None:
        self._repo = repo

    def journey(self, key: str) -> Any:
        j = self._repo.journey(key)
        return None if j is None else {**j, "control_group": 0}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--contacts", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--postgres-url", default=None)
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    out: dict[str, Any] = {}
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            out |= run(f"sqlite:///{tmp}/bench.db", args.contacts, args.events, args.days, "sqlite")
        print(json.dumps(out), file=sys.stderr)
    if args.postgres_url:
        name = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres_url)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
        try:
            out |= run(args.postgres_url, args.contacts, args.events, args.days, "postgresql", name)
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
            admin.dispose()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
