"""The long fault-injection run: many random kill schedules against real processes.

    .venv/bin/python benchmarks/faults.py --schedules 100 [--database-url postgresql://...] \
        [--contacts 300] [--kills 10] [--seed 1]

Each schedule is one run of tests/e2e/delivery_faults.py on a fresh database (a temporary SQLite
file, or a fresh schema of the given PostgreSQL database, where two `tidings worker` processes
run): a 3-email journey through a slow SMTP sink that cannot confirm, ``--kills`` SIGKILLs at
random moments and one SIGTERM, restarting each time. Every run's report (seed, schedule, counts)
is printed as one JSON line; the last line sums them up: expected / arrived / uncertain /
duplicated / lost, and the largest uncertain count per SIGKILL against the hand-off window.
Exits non-zero if any run lost or duplicated a message or left more uncertain than its window.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.delivery_faults import POOL, Report, run  # noqa: E402
from tidings.store.db import create_engine, normalise_url  # noqa: E402
from tidings.store.migrate import upgrade  # noqa: E402


def one(database_url: str | None, work: Path, seed: int, contacts: int, kills: int) -> Report:
    if database_url is None:
        url = f"sqlite:///{work / f'faults-{seed}.db'}"
        engine = create_engine(url)
        upgrade(engine)
        try:
            return run(engine, url, work / f"logs-{seed}", contacts=contacts, kills=kills, seed=seed)
        finally:
            engine.dispose()
    name = f"faults_{seed}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(database_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    base = normalise_url(database_url)
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{name}"
    engine = create_engine(url)
    try:
        upgrade(engine)
        return run(engine, url, work / f"logs-{seed}", contacts=contacts, kills=kills, seed=seed)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        admin.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--schedules", type=int, default=100)
    ap.add_argument("--contacts", type=int, default=300)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1, help="first seed; schedule i uses seed + i")
    ap.add_argument("--database-url", default=None, help="PostgreSQL (two workers); default: SQLite files")
    args = ap.parse_args()
    totals = {"schedules": 0, "sigkills": 0, "sigterms": 0, "expected": 0, "arrived": 0, "uncertain": 0,
              "duplicated": 0, "lost": 0, "not_final": 0, "max_uncertain_per_run": 0, "window": POOL}
    bad: list[int] = []
    with tempfile.TemporaryDirectory(prefix="tidings-faults-") as tmp:
        for i in range(args.schedules):
            seed = args.seed + i
            report = one(args.database_url, Path(tmp), seed, args.contacts, args.kills)
            print(report.as_json(), flush=True)
            totals["schedules"] += 1
            totals["sigkills"] += report.sigkills
            totals["sigterms"] += len(report.kills) - report.sigkills
            for k in ("expected", "arrived", "uncertain", "duplicated", "lost", "not_final"):
                totals[k] += getattr(report, k)
            totals["max_uncertain_per_run"] = max(totals["max_uncertain_per_run"], report.uncertain)
            if report.duplicated or report.lost or report.not_final or report.uncertain > report.sigkills * POOL:
                bad.append(seed)
    totals["failed_seeds"] = bad  # type: ignore[assignment]
    totals["backend"] = "postgresql" if args.database_url else "sqlite"  # type: ignore[assignment]
    print(json.dumps(totals))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
