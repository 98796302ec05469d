"""Benchmark: sales tasks — assignment with capacity, and the SLA escalation pass.

    .venv/bin/python benchmarks/tasks_sla.py [--tasks 5000] [--reps 20] [--postgres-url URL]

1. A fresh SQLite file (and PostgreSQL schema with --postgres-url), migrated; a team of --reps
   reps (``least_loaded``, a capacity that lets every task be placed), an SLA (due in 5m,
   escalate 10m later to a lead, team webhook).
2. Assignment: --tasks ``create_task`` calls for the team, one transaction each (what the task
   channel does per outbox row: lock the rotation, count the reps' open tasks, insert, notify).
3. Escalation: 15 minutes later, ``escalation_pass`` until nothing is left (500 a pass, one
   transaction each), timed end to end; every task is escalated exactly once.

The last line is one JSON object: <backend>_assign_per_s, <backend>_escalate_per_s.
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

from tidings.application.sales.escalation import escalation_pass  # noqa: E402
from tidings.application.sales.tasks import create_task, set_routing  # noqa: E402
from tidings.store import schema  # noqa: E402
from tidings.store.db import create_engine  # noqa: E402
from tidings.store.migrate import upgrade  # noqa: E402
from tidings.store.sql_uow import joined  # noqa: E402

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def run(url: str, tasks: int, reps: int) -> dict[str, float]:
    engine = create_engine(url)
    upgrade(engine)
    team = [f"rep{i:03d}@shop.test" for i in range(reps)]
    with engine.begin() as conn:
        set_routing(
            joined(conn),
            {
                "teams": {"north": team},
                "notify": {"north": {"webhook": "https://crm.example/hook"}},
                "assignment": {"north": {"strategy": "least_loaded", "max_open": tasks // reps + 1}},
                "sla": {"north": {"due_in": "5m", "escalate_after": "10m", "escalate_to": "lead@shop.test"}},
            },
            T0,
        )
        cid = conn.execute(
            sa.insert(schema.contacts).values(email="lead@example.org", attributes={}, created_at=T0, updated_at=T0)
        ).inserted_primary_key[0]
    start = time.perf_counter()
    for _ in range(tasks):
        with engine.begin() as conn:
            task = create_task(joined(conn), contact_id=int(cid), title="Call", team="north", now=T0)
            assert task["owner"] is not None
    assign_s = time.perf_counter() - start
    later = T0 + timedelta(minutes=15)
    escalated: list[int] = []
    start = time.perf_counter()
    while True:
        with engine.begin() as conn:
            batch = escalation_pass(joined(conn), later)
        if not batch:
            break
        escalated += batch
    escalate_s = time.perf_counter() - start
    assert len(escalated) == len(set(escalated)) == tasks
    engine.dispose()
    return {"assign_per_s": round(tasks / assign_s), "escalate_per_s": round(tasks / escalate_s)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tasks", type=int, default=5000)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--postgres-url")
    args = p.parse_args()
    out: dict[str, float | int] = {"tasks": args.tasks, "reps": args.reps}
    with tempfile.TemporaryDirectory() as tmp:
        for k, v in run(f"sqlite:///{Path(tmp) / 'bench.db'}", args.tasks, args.reps).items():
            out[f"sqlite_{k}"] = v
    if args.postgres_url:
        with scratch_schema(args.postgres_url, "bench") as url:
            for k, v in run(url, args.tasks, args.reps).items():
                out[f"postgres_{k}"] = v
    print(json.dumps(out))


if __name__ == "__main__":
    main()
