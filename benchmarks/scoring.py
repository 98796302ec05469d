"""Benchmark: lead scoring — events scored per second, and decay over many contacts.

    .venv/bin/python benchmarks/scoring.py [--contacts 1000000] [--events 20000] [--postgres-url URL]

1. A fresh SQLite file (and PostgreSQL schema with --postgres-url), migrated; one model with a
   capped behaviour rule, a plain one, a profile rule and a half-life decay published.
2. Scoring: ``score_events`` on batches of 200 contacts × 5 events (what the worker's hook does
   per batch, in one transaction), --events events in all. Ceiling, same run: the pure arithmetic
   alone (``apply_event`` + ``explain``, no storage) over the same events.
3. Decay: --contacts scores seeded in bulk (each with two decaying rule tallies), then one
   ``decay_pass`` 30 days later, timed end to end (read, recompute, write back in pages of 5000).

The last line is one JSON object: <backend>_events_per_s, pure_events_per_s,
<backend>_decay_contacts_per_s, <backend>_decay_s (and the projection to 1M contacts).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from scratch import scratch_schema  # noqa: E402

from tidings.application.scoring.scores import decay_pass, score_events  # noqa: E402
from tidings.domain.scoring.model import parse_scoring_model  # noqa: E402
from tidings.domain.scoring.score import ScoreState, apply_event, explain  # noqa: E402
from tidings.domain.snapshot import ContactSnapshot, EventRecord  # noqa: E402
from tidings.store import schema  # noqa: E402
from tidings.store.db import create_engine  # noqa: E402
from tidings.store.migrate import upgrade  # noqa: E402
from tidings.store.scoring_sql import SqlScoring  # noqa: E402

MODEL = """\
key: bench
name: Bench
behaviour:
  - {id: pricing, event: page.viewed, where: 'properties.path == "/pricing"', points: 5, cap: {points: 15, per: 7d}}
  - {id: demo, event: demo.requested, points: 30}
profile:
  - {id: size, when: attributes.company_size >= 50, points: 20}
decay: {half_life: 30d}
thresholds:
  - {stage: mql, at: 50}
  - {stage: sql, at: 80}
"""
T0 = datetime(2026, 6, 1, tzinfo=UTC)


def _events(cid: int, i: int) -> list[EventRecord]:
    at = T0 + timedelta(minutes=i)
    return [
        EventRecord("page.viewed", at, {"path": "/pricing"}, id=i * 10 + 1),
        EventRecord("page.viewed", at, {"path": "/blog"}, id=i * 10 + 2),
        EventRecord("demo.requested", at, {}, id=i * 10 + 3),
        EventRecord("page.viewed", at, {"path": "/pricing"}, id=i * 10 + 4),
        EventRecord("message.opened", at, {}, id=i * 10 + 5),
    ]


def pure(events: int) -> float:
    model = parse_scoring_model(MODEL)
    snap = ContactSnapshot(id=1, attributes={"company_size": 80})
    start = time.perf_counter()
    for i in range(events // 5):
        state = ScoreState()
        for e in _events(1, i):
            state, _ = apply_event(model, state, e, T0)
        explain(model, state, snap, T0)
    return events / (time.perf_counter() - start)


def run(url: str, contacts: int, events: int) -> dict[str, float]:
    engine = create_engine(url)
    upgrade(engine)
    now = T0
    with engine.begin() as conn:
        conn.execute(
            sa.insert(schema.contacts),
            [
                {"email": f"b{i}@x.test", "attributes": {"company_size": i % 100}, "created_at": now, "updated_at": now}
                for i in range(contacts)
            ],
        )
        ids = [int(x) for x in conn.execute(sa.select(schema.contacts.c.id).order_by(schema.contacts.c.id)).scalars()]
        repo = SqlScoring(conn)
        model = repo.save_model("bench", "Bench", MODEL, now)
    # 1. scoring in worker-sized batches
    n_batches = max(1, events // (200 * 5))
    start = time.perf_counter()
    for b in range(n_batches):
        batch = ids[(b * 200) % len(ids) : (b * 200) % len(ids) + 200]
        with engine.begin() as conn:
            repo = SqlScoring(conn)
            snaps = {c: ContactSnapshot(id=c, attributes={"company_size": c % 100}) for c in batch}
            score_events(repo, snaps, {c: _events(c, b) for c in batch}, now)
    scored = n_batches * 200 * 5
    events_per_s = scored / (time.perf_counter() - start)
    # 2. decay over every contact (seed the rest in bulk)
    state = {
        "rules": {
            "demo": {"raw": 30, "count": 1, "value": 30, "as_of": now.isoformat(), "recent": []},
            "pricing": {"raw": 10, "count": 2, "value": 10, "as_of": now.isoformat(), "recent": []},
        },
        "bank": 40,
        "last_activity": now.isoformat(),
        "stage": None,
    }
    with engine.begin() as conn:
        conn.execute(sa.delete(schema.contact_scores))
        for i in range(0, len(ids), 20000):
            conn.execute(
                sa.insert(schema.contact_scores),
                [
                    {
                        "contact_id": c,
                        "model_id": model.id,
                        "score": 60.0,
                        "profile": 20.0,
                        "stage": "mql",
                        "state": state,
                        "behaviour": 40.0,
                        "behaviour_at": now,
                        "updated_at": now,
                    }
                    for c in ids[i : i + 20000]
                ],
            )
    start = time.perf_counter()
    with engine.begin() as conn:
        report = decay_pass(SqlScoring(conn), now + timedelta(days=30))
    decay_s = time.perf_counter() - start
    assert report.changed == len(ids), (report.changed, len(ids))
    engine.dispose()
    return {
        "events_per_s": round(events_per_s),
        "decay_s": round(decay_s, 2),
        "decay_contacts_per_s": round(len(ids) / decay_s),
        "decay_1m_projected_s": round(1_000_000 / (len(ids) / decay_s), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--contacts", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--postgres-url", default=None)
    args = ap.parse_args()
    out: dict[str, float | int] = {"contacts": args.contacts, "events": args.events}
    out["pure_events_per_s"] = round(pure(args.events))
    print(f"pure arithmetic: {out['pure_events_per_s']:,} events/s", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        r = run(f"sqlite:///{Path(tmp) / 'bench.db'}", args.contacts, args.events)
    out.update({f"sqlite_{k}": v for k, v in r.items()})
    print(f"sqlite: {r}", file=sys.stderr)
    if args.postgres_url:
        with scratch_schema(args.postgres_url, "bench") as url:
            r = run(url, args.contacts, args.events)
        out.update({f"postgres_{k}": v for k, v in r.items()})
        print(f"postgres: {r}", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
