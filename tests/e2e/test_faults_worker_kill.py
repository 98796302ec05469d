"""Fault injection: SIGKILL real worker processes at random points; every message arrives once.

A journey sends three emails an hour apart to each contact through the real delivery loop and
a real SMTP server (the built-in catcher, in this process). Worker processes (journey worker +
delivery loop) are killed with SIGKILL at random moments while the shared file clock moves
forward, then restarted. At the end the catcher must hold exactly one copy of every expected
message. On PostgreSQL two workers run side by side (and are killed independently).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import free_port
from tests.e2e.delivery_faults import seed_data
from tidings.bootstrap import Container, build
from tidings.clock import ManualClock
from tidings.settings import Settings
from tidings.store import schema

pytestmark = pytest.mark.slow

CONTACTS = 60
JOURNEY = """
key: drip
triggers: [{event: signed_up}]
settings: {category: transactional}
steps:
  - {id: one, type: send, channel: email, template: drip-1}
  - {id: w1, type: wait, duration: 1h}
  - {id: two, type: send, channel: email, template: drip-2}
  - {id: w2, type: wait, duration: 1h}
  - {id: three, type: send, channel: email, template: drip-3}
"""
ROOT = Path(__file__).resolve().parents[2]


def _start(db_url: str, clock_file: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # stderr to a file: an unread pipe would fill up and block a chatty worker
    log = open(clock_file.parent / f"worker-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.fault_worker", db_url, str(clock_file), str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


def _kill(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
    p.wait(10)


def _set_clock(clock: ManualClock, clock_file: Path, delta: timedelta) -> None:
    clock.advance(delta)
    tmp = clock_file.with_suffix(".tmp")
    tmp.write_text(clock.now().isoformat())
    os.replace(tmp, clock_file)


def _inbox(c: Container) -> list[tuple[str, str]]:
    with c.engine.connect() as conn:
        return [
            (r.recipient, r.subject) for r in conn.execute(sa.select(schema.inbox.c.recipient, schema.inbox.c.subject))
        ]


def _state(c: Container) -> dict[str, object]:
    with c.engine.connect() as conn:
        o, e = schema.outbox, schema.enrollments
        return {
            "outbox": dict(conn.execute(sa.select(o.c.status, sa.func.count()).group_by(o.c.status)).all()),
            "enrollments": dict(conn.execute(sa.select(e.c.status, sa.func.count()).group_by(e.c.status)).all()),
            "timers": conn.execute(sa.select(sa.func.count()).select_from(schema.timers)).scalar_one(),
            "queued": conn.execute(sa.select(sa.func.count()).select_from(schema.contact_queue)).scalar_one(),
        }


def _done(c: Container) -> bool:
    with c.engine.connect() as conn:
        ended = conn.execute(sa.select(sa.func.count()).where(schema.enrollments.c.status == "ended")).scalar_one()
        unsent = conn.execute(sa.select(sa.func.count()).where(schema.outbox.c.status != "sent")).scalar_one()
    return ended == CONTACTS and unsent == 0 and len(_inbox(c)) >= 3 * CONTACTS


def test_sigkilled_workers_lose_and_repeat_nothing(
    db_url: str, engine: sa.Engine, clock: ManualClock, tmp_path: Path
) -> None:
    from tidings.runtime import catcher_service

    workers = 2 if db_url.startswith("postgres") else 1
    port = free_port()
    container = build(
        Settings(database_url=db_url, secret_key="fault-secret", catcher_port=port),
        clock=clock,
        engine=engine,
    )
    emails = seed_data(engine, CONTACTS, now=clock.now(), journey=JOURNEY, prefix="f")
    clock_file = tmp_path / "clock"
    _set_clock(clock, clock_file, timedelta(0))
    catcher = catcher_service(container)
    catcher.start()
    rng = random.Random(4)
    procs: list[subprocess.Popen[bytes]] = []
    kills = 0
    try:
        procs = [_start(db_url, clock_file, port) for _ in range(workers)]
        deadline = time.monotonic() + 150  # a guard against a hang, not a timing assertion
        # three phases (send one, +1h send two, +1h send three), several kills in each
        for phase in range(3):
            for _ in range(3):
                time.sleep(rng.uniform(0.4, 1.6))
                victim = rng.randrange(len(procs))
                _kill(procs[victim])
                kills += 1
                print(f"kill {kills} in phase {phase}: {len(_inbox(container))} messages so far")
                procs[victim] = _start(db_url, clock_file, port)
            # let the leases of killed workers run out, then move on to the next send
            _set_clock(clock, clock_file, timedelta(hours=1) if phase < 2 else timedelta(minutes=1))
        while not _done(container):
            assert time.monotonic() < deadline, (
                f"not done: {len(_inbox(container))} of {3 * CONTACTS} arrived; {_state(container)}"
            )
            for p in procs:
                assert p.poll() is None, f"a worker died by itself; logs in {tmp_path}"
            time.sleep(0.2)
            _set_clock(clock, clock_file, timedelta(minutes=1))
    finally:
        for p in procs:
            _kill(p)
        catcher.stop()
    got = Counter(_inbox(container))
    expected = {(e, f"Drip {i}") for e in emails for i in (1, 2, 3)}
    assert set(got) == expected
    assert [k for k, n in got.items() if n > 1] == [], "a message arrived twice"
    assert kills == 9
    with engine.connect() as conn:
        keys = conn.execute(sa.select(schema.outbox.c.idempotency_key)).scalars().all()
    assert len(keys) == len(set(keys)) == 3 * CONTACTS
