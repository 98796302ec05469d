"""The delivery fault harness: real `tidings serve` / `tidings worker` processes killed at random.

Used by tests/e2e/test_faults_delivery.py (short, in the default suite) and benchmarks/faults.py
(long, on demand). One *run*:

- a real SMTP sink (aiosmtpd, in this process) that takes 10-20 ms per message and can NOT confirm
  anything: the product sends to it as to a remote relay (``TIDINGS_SMTP_URL``), so a message the
  sender may have handed over before dying can only become ``uncertain``;
- a 3-email journey (send, wait 2 s, send, wait 2 s, send) to ``contacts`` contacts;
- SQLite: one `tidings serve`; PostgreSQL: two `tidings worker` processes;
- ``kills`` SIGKILLs, each at a random moment once sending has resumed after the last restart,
  then one SIGTERM; every stopped process is restarted at once;
- then waits until every outbox row is final and counts: expected, arrived, duplicated,
  uncertain, lost (expected, neither arrived nor listed as uncertain).

The seed and every kill (when, which process, which signal, messages so far) are in the returned
report, which callers print and write to ``$TIDINGS_TEST_ARTIFACTS``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiosmtpd.controller import Controller

from tests.conftest import free_port
from tests.integration.channels_helpers import add_contact, add_template
from tests.integration.journey_support import add_event
from tidings.application.journeys import journeys as js
from tidings.store import schema
from tidings.store.sql_uow import joined

ROOT = Path(__file__).resolve().parents[2]
TIDINGS = Path(sys.executable).parent / "tidings"
JOURNEY = """
key: drip
triggers: [{event: signed_up}]
settings: {category: transactional}
steps:
  - {id: one, type: send, channel: email, template: drip-1}
  - {id: w1, type: wait, duration: 2}
  - {id: two, type: send, channel: email, template: drip-2}
  - {id: w2, type: wait, duration: 2}
  - {id: three, type: send, channel: email, template: drip-3}
"""
#: SMTP connections per delivery loop (``pool=`` of TIDINGS_SMTP_URL): the hand-off window.
POOL = 4
LEASE_S = 2
GRACE_S = 10


class SlowSink:
    """aiosmtpd handler: waits 10-20 ms per message (a relay's latency), then records it."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.received: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.rng.uniform(0.010, 0.020))
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append((rcpt, str(msg["Subject"])))
        return "250 OK"

    def count(self) -> int:
        with self._lock:
            return len(self.received)


@dataclass
class Report:
    backend: str
    seed: int
    contacts: int
    expected: int = 0
    arrived: int = 0
    #: expected but never arrived at the sink (uncertain or lost)
    missing: int = 0
    duplicated: int = 0
    uncertain: int = 0
    lost: int = 0
    not_final: int = 0
    window: int = POOL
    kills: list[dict[str, Any]] = field(default_factory=list)
    sigterm_exit_s: float | None = None
    sigterm_returncode: int | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def sigkills(self) -> int:
        return sum(1 for k in self.kills if k["signal"] == "SIGKILL")

    def as_json(self) -> str:
        return json.dumps(asdict(self) | {"sigkills": self.sigkills}, sort_keys=True)


class Fleet:
    """The product processes of one run: start, kill, restart; logs to files."""

    def __init__(self, db_url: str, smtp_port: int, logs: Path, *, workers: int, extra_env: dict[str, str]) -> None:
        self.db_url = db_url
        self.logs = logs
        self.env = {
            **os.environ,
            "TIDINGS_DATABASE_URL": db_url,
            "TIDINGS_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}?starttls=off&pool={POOL}",
            "TIDINGS_SECRET_KEY": "fault-secret",
            "TIDINGS_LOG_LEVEL": "WARNING",
            "TIDINGS_DELIVERY_LEASE": str(LEASE_S),
            "TIDINGS_SHUTDOWN_GRACE": str(GRACE_S),
            **extra_env,
        }
        self.env.pop("TIDINGS_TEST_CLOCK", None)
        self.workers = workers
        self.procs: list[subprocess.Popen[bytes]] = []
        self.log_of: dict[int, Path] = {}
        self.started = 0

    def _command(self) -> list[str]:
        if self.workers == 1:  # SQLite: the embedded default, everything in one `tidings serve`
            return [str(TIDINGS), "serve", "--port", str(free_port()), "--no-catcher"]
        return [str(TIDINGS), "worker"]

    def spawn(self) -> subprocess.Popen[bytes]:
        self.started += 1
        path = self.logs / f"process-{self.started:03d}.log"
        log = open(path, "wb")  # noqa: SIM115
        p = subprocess.Popen(self._command(), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.log_of[p.pid] = path
        return p

    def wait_ready(self, i: int, limit_s: float = 60) -> None:
        """Until process ``i`` has started its services (the line serve/worker print then)."""
        path, end = self.log_of[self.procs[i].pid], time.monotonic() + limit_s
        while time.monotonic() < end:
            text = path.read_text(errors="replace")
            if "Tidings on" in text or "worker running" in text:
                return
            time.sleep(0.05)
        raise AssertionError(f"process {i} did not start; see {path}")

    def start(self) -> None:
        self.procs = [self.spawn() for _ in range(self.workers)]

    def stop(self, i: int, sig: signal.Signals, timeout: float) -> tuple[float, int | None]:
        p = self.procs[i]
        t0 = time.monotonic()
        if p.poll() is None:
            p.send_signal(sig)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait(10)
        return time.monotonic() - t0, rc

    def restart(self, i: int) -> None:
        self.procs[i] = self.spawn()

    def check_alive(self) -> None:
        for p in self.procs:
            assert p.poll() is None, f"a process died by itself (exit {p.returncode}); logs in {self.logs}"

    def shutdown(self) -> None:
        for i in range(len(self.procs)):
            self.stop(i, signal.SIGTERM, GRACE_S + 10)


def seed_data(
    engine: sa.Engine, contacts: int, *, now: datetime | None = None, journey: str = JOURNEY, prefix: str = "c"
) -> list[str]:
    """Templates drip-1..3 ("Drip 1".."Drip 3"), contacts PREFIX<i>@example.org, the journey
    published and every contact signed up (queued for the worker)."""
    now = now or datetime.now(UTC)
    for i in (1, 2, 3):
        add_template(engine, now, f"drip-{i}", subject=f"Drip {i}")
    emails = [f"{prefix}{i}@example.org" for i in range(contacts)]
    ids = [add_contact(engine, now, email=e) for e in emails]
    with engine.begin() as conn:
        js.publish(joined(conn), now, text=journey)
        for cid in ids:
            add_event(conn, cid, "signed_up", now)
    return emails


def _settled(engine: sa.Engine, expected: int) -> bool:
    o = schema.outbox
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(o)).scalar_one()
        open_rows = conn.execute(
            sa.select(sa.func.count()).where(o.c.status.in_(("pending", "sending")))
        ).scalar_one()
    return total >= expected and open_rows == 0


def _wait_for_progress(sink: SlowSink, fleet: Fleet, since: int, limit_s: float) -> None:
    end = time.monotonic() + limit_s
    while sink.count() <= since and time.monotonic() < end:
        time.sleep(0.02)


def run(
    engine: sa.Engine, db_url: str, logs: Path, *, contacts: int, kills: int, seed: int, settle_s: float = 90
) -> Report:
    backend = "postgresql" if db_url.startswith("postgres") else "sqlite"
    report = Report(backend=backend, seed=seed, contacts=contacts)
    rng = random.Random(seed)
    t0 = time.monotonic()
    emails = seed_data(engine, contacts)
    sink = SlowSink(seed)
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    logs.mkdir(parents=True, exist_ok=True)
    fleet = Fleet(db_url, port, logs, workers=2 if backend == "postgresql" else 1, extra_env={})
    try:
        fleet.start()
        schedule = [signal.SIGKILL] * kills
        schedule.insert(rng.randrange(1, kills + 1), signal.SIGTERM)  # one graceful stop among them
        for sig in schedule:
            victim = rng.randrange(len(fleet.procs))
            fleet.wait_ready(victim)
            _wait_for_progress(sink, fleet, sink.count(), 15)  # sending has resumed...
            time.sleep(rng.uniform(0.0, 0.6))  # ...then a random moment
            before = sink.count()
            took, rc = fleet.stop(victim, sig, GRACE_S + 10)
            report.kills.append(
                {"at_s": round(time.monotonic() - t0, 2), "process": victim, "signal": sig.name, "arrived": before}
            )
            if sig is signal.SIGTERM:
                report.sigterm_exit_s, report.sigterm_returncode = round(took, 2), rc
            fleet.restart(victim)
        deadline = time.monotonic() + settle_s  # a guard against a hang, not a timing assertion
        while not _settled(engine, 3 * contacts) and time.monotonic() < deadline:
            fleet.check_alive()
            time.sleep(0.2)
    finally:
        fleet.shutdown()
        controller.stop()
    report.seconds = round(time.monotonic() - t0, 1)
    _count(engine, report, emails, sink)
    return report


def _count(engine: sa.Engine, report: Report, emails: list[str], sink: SlowSink) -> None:
    o = schema.outbox
    with engine.connect() as conn:
        rows = conn.execute(sa.select(o.c.recipient, o.c.template, o.c.status)).all()
    status_of = {(r.recipient, f"Drip {r.template[-1]}"): r.status for r in rows if r.template}
    got = Counter(sink.received)
    expected = {(e, f"Drip {i}") for e in emails for i in (1, 2, 3)}
    report.expected = len(expected)
    report.arrived = len(set(got) & expected)
    report.missing = report.expected - report.arrived
    report.duplicated = sum(n - 1 for n in got.values() if n > 1)
    report.uncertain = sum(1 for s in status_of.values() if s == "uncertain")
    report.lost = sum(1 for k in expected if k not in got and status_of.get(k) != "uncertain")
    report.not_final = sum(1 for s in status_of.values() if s in ("pending", "sending"))
    report.statuses = dict(Counter(r.status for r in rows))
