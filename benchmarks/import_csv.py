"""CSV import speed: `tidings import contacts` on a generated file (default 100,000 rows).

The file has emails, names, phones, tags, a consent column, two custom columns and 0.5% bad
rows. The import runs through the real CLI command in a subprocess, on a fresh SQLite file (and
on PostgreSQL with --postgres-url). The last line is one JSON object.

    .venv/bin/python benchmarks/import_csv.py --rows 100000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPU: list[float] = []
sys.path.insert(0, str(ROOT))


def make_csv(path: Path, rows: int) -> int:
    rng = random.Random(5)
    bad = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            ["Email", "First Name", "Last Name", "Phone", "Tags", "consent_email", "Plan", "City", "stage"]
        )
        for i in range(rows):
            email = f"person{i}@example{i % 50}.com"
            if i % 200 == 199:
                email = f"broken{i}@"  # rejected
                bad += 1
            area = (212, 310, 415, 617, 646, 718, 312, 202, 305, 512)[i % 10]
            phone = f"+1{area}{200 + (i // 10000) % 700}{i % 10000:04d}" if i % 3 == 0 else ""
            w.writerow(
                [
                    email,
                    f"First{i}",
                    f"Last{i}",
                    phone,
                    rng.choice(["vip;newsletter", "newsletter", ""]),
                    rng.choice(["yes", "no", ""]),
                    rng.choice(["free", "pro", "team"]),
                    rng.choice(["Oslo", "Lima", "Pune"]),
                    rng.choice(["lead", "customer", "subscriber"]),
                ]
            )
    return bad


def run(url: str, path: Path) -> float:
    """Wall seconds of the import command (its CPU seconds are printed: the machine is shared)."""
    import resource

    env = {**os.environ, "TIDINGS_DATABASE_URL": url}
    exe = shutil.which("tidings", path=str(ROOT / ".venv" / "bin")) or "tidings"
    subprocess.run([exe, "db", "upgrade"], env=env, check=True, capture_output=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [exe, "import", "contacts", str(path), "--tag", "bench"], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    CPU.append(cpu)
    print(f"  wall {elapsed:.1f} s, CPU {cpu:.1f} s (load average {os.getloadavg()[0]:.1f})", flush=True)
    print(proc.stdout.splitlines()[0] if proc.stdout else proc.stderr[-500:], flush=True)
    if proc.returncode != 0:
        raise RuntimeError(f"import failed ({proc.returncode}): {proc.stderr[-500:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--postgres-url", default=None, help="also import into a fresh schema of this database")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tidings-import-"))
    result: dict[str, float | int | None] = {"rows": args.rows}
    try:
        path = tmp / "contacts.csv"
        bad = make_csv(path, args.rows)
        result["rejected_expected"] = bad
        print(f"generated {args.rows} rows ({bad} bad) in {path}", flush=True)
        s = run(f"sqlite:///{tmp}/import.db", path)
        print(f"[sqlite] {args.rows} rows in {s:.1f} s ({args.rows / s:,.0f} rows/s)", flush=True)
        result["sqlite_seconds"] = round(s, 2)
        result["sqlite_rows_per_s"] = round(args.rows / s)
        result["sqlite_cpu_seconds"] = round(CPU[-1], 2)
        # the same file again: every row is an update
        s2 = run(f"sqlite:///{tmp}/import.db", path)
        print(f"[sqlite] re-import (all updates) in {s2:.1f} s", flush=True)
        result["sqlite_reimport_seconds"] = round(s2, 2)
        if args.postgres_url:
            from tidings.store.db import create_engine, normalise_url

            name = f"imp_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.postgres_url)
            with admin.begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
            try:
                url = normalise_url(args.postgres_url)
                url += ("&" if "?" in url else "?") + f"options=-csearch_path%3D{name}"
                p = run(url, path)
                print(f"[postgres] {args.rows} rows in {p:.1f} s", flush=True)
                result["postgres_seconds"] = round(p, 2)
            finally:
                with admin.begin() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
                admin.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
