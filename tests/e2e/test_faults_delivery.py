"""Fault injection on the real product: SIGKILLs and a SIGTERM lose no mail and repeat none.

`tidings serve` (SQLite) or two `tidings worker` processes (PostgreSQL) send a 3-email journey
to 300 contacts through a slow SMTP sink that cannot confirm anything (a remote relay), and are
killed at random moments (10 SIGKILLs, 1 SIGTERM), restarted each time. Afterwards every expected
message arrived exactly once or is listed as ``uncertain``, and the uncertain ones fit in the
hand-off window (SMTP connections per delivery loop) of each SIGKILL. The seed is printed and
written with the whole schedule to ``$TIDINGS_TEST_ARTIFACTS/faults-<backend>.json``; rerun a
schedule with ``TIDINGS_FAULT_SEED``. The long version: ``benchmarks/faults.py``.
"""

from __future__ import annotations

import os
import random

import pytest
import sqlalchemy as sa

from tests.conftest import ARTIFACTS
from tests.e2e.delivery_faults import GRACE_S, POOL, run

pytestmark = pytest.mark.slow


def test_kills_and_a_sigterm_lose_and_repeat_no_mail(db_url: str, engine: sa.Engine) -> None:
    seed = int(os.environ.get("TIDINGS_FAULT_SEED") or random.randrange(1_000_000))
    backend = "postgresql" if db_url.startswith("postgres") else "sqlite"
    logs = ARTIFACTS / f"faults-{backend}-{seed}"
    settle_s = float(os.environ.get("TIDINGS_FAULT_SETTLE_S", "60"))
    report = run(engine, db_url, logs, contacts=300, kills=10, seed=seed, settle_s=settle_s)
    print(f"fault run (seed {seed}): {report.as_json()}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"faults-{backend}.json").write_text(report.as_json())
    assert report.sigkills >= 10
    assert report.sigterm_exit_s is not None and report.sigterm_exit_s < GRACE_S + 5
    assert report.sigterm_returncode == 0, "SIGTERM: the process did not stop cleanly"
    assert report.duplicated == 0, f"messages arrived twice (seed {seed})"
    assert report.not_final == 0, f"rows never finished (seed {seed}): {report.statuses}"
    assert report.lost == 0, f"messages lost (seed {seed}): {report.as_json()}"
    assert report.expected == 900
    assert report.uncertain <= report.sigkills * POOL
