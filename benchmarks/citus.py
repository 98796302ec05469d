"""Benchmark: the same data on one plain PostgreSQL node and on the Citus cluster.

    .venv/bin/python benchmarks/citus.py [--contacts 200000 --events 2000000 --ingest 100000]
        [--plain-url postgresql://postgres@127.0.0.1:5432/test]
        [--citus-url postgresql://postgres@127.0.0.1:5440/test]

Needs ``scripts/citus.sh up`` (a coordinator and two workers on this machine). On each backend,
in a fresh schema migrated to head (on Citus migration 0023 distributes the tables):

1. load N contacts (tags, consents) and M events with ``benchmarks/segments.py``'s generator
   (seeded, the same rows on both);
2. rule counts: every rule of ``segments.RULES`` compiled by ``store.rules_sql`` as a refresh
   runs it, median ms of 5 counts (``segments.time_rules``), the counts compared between the two;
3. ingest: ``--ingest`` new events for existing contacts through the ingest hot path's insert
   (``store.ingest_sql.insert_events``, 1,000 rows per transaction): events/s.

The plain node is the ceiling this run compares with (same machine, same load). Both clusters
share this machine's cores, so the figures say what distribution costs and saves per query, not
what more machines would add. The last line is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import segments  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from tidings.store import ingest_sql  # noqa: E402

PLAIN = "postgresql://postgres@127.0.0.1:5432/test"
CITUS = "postgresql://postgres@127.0.0.1:5440/test"


def ingest_rate(eng: sa.Engine, n_contacts: int, n: int, seed: int) -> float:
    """Events/s through ``insert_events``, 1,000 per transaction."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        at = segments.NOW - timedelta(seconds=rng.random() * 86400)
        rows.append(
            {
                "contact_id": rng.randint(1, n_contacts),
                "name": "page_viewed",
                "properties": {"path": f"/p{i % 50}"},
                "occurred_at": at,
                "received_at": at,
                "message_id": f"bench-{seed}-{i}",
                "source": "bench",
                "value": None,
            }
        )
    t0 = time.perf_counter()
    for start in range(0, n, 1000):
        with eng.begin() as conn:
            ingest_sql.insert_events(conn, rows[start : start + 1000], known_new=True)
    return n / (time.perf_counter() - t0)


def measure(url: str, tag: str, args: argparse.Namespace) -> dict[str, Any]:
    segments.log(f"{tag}: loading {args.contacts} contacts, {args.events} events")
    t0 = time.perf_counter()
    eng, name, admin = segments.load_postgres(url, args.contacts, args.events, args.seed, name=f"bench_citus_{tag}")
    load_s = time.perf_counter() - t0
    try:
        with eng.connect() as conn:
            citus = conn.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'citus'").first() is not None
        rule_ms, counts, _ = segments.time_rules(eng)
        rate = ingest_rate(eng, args.contacts, args.ingest, args.seed)
        segments.log(f"{tag}: ingest {rate:.0f} events/s")
        return {"citus": citus, "load_s": round(load_s, 1), "rule_ms": rule_ms, "counts": counts,
                "ingest_events_per_s": round(rate)}
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=200_000)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--ingest", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--plain-url", default=PLAIN)
    ap.add_argument("--citus-url", default=CITUS)
    args = ap.parse_args()
    plain = measure(args.plain_url, "plain", args)
    cluster = measure(args.citus_url, "cluster", args)
    assert not plain["citus"] and cluster["citus"], "--plain-url must be plain PostgreSQL, --citus-url a coordinator"
    assert plain["counts"] == cluster["counts"], ("the rules count differently", plain["counts"], cluster["counts"])
    out = {
        "contacts": args.contacts,
        "events": args.events,
        "workers": 2,
        "plain_rule_ms": plain["rule_ms"],
        "citus_rule_ms": cluster["rule_ms"],
        "rule_ms_ratio": {k: round(cluster["rule_ms"][k] / max(plain["rule_ms"][k], 0.1), 2) for k in plain["rule_ms"]},
        "plain_ingest_events_per_s": plain["ingest_events_per_s"],
        "citus_ingest_events_per_s": cluster["ingest_events_per_s"],
        "plain_load_s": plain["load_s"],
        "citus_load_s": cluster["load_s"],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
