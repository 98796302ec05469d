"""`tidings serve --api-processes 2`: HTTP from two child processes, the worker in the parent.

The real command in a subprocess: a segment created through one HTTP process, events posted
through whichever process the connection lands on, and the parent's worker turning them into
memberships. Stopping the command stops every process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, interrupt, wait_for_http
from tidings.application.access.keys import create_key
from tidings.store.db import create_engine
from tidings.store.sql_uow import SqlUnitOfWork

ROOT = Path(__file__).resolve().parents[2]


def _env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TIDINGS_DATABASE_URL": db_url,
        "TIDINGS_SECRET_KEY": "processes-test",
        "TIDINGS_LOG_LEVEL": "WARNING",
        "TIDINGS_CATCHER_SMTP_PORT": str(free_port()),
        "HOME": str(tmp_path),
    }


def _parent(proc_dir: Path) -> int | None:
    try:
        stat = (proc_dir / "stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _is_http(proc_dir: Path) -> bool:
    try:
        return b"spawn_main" in (proc_dir / "cmdline").read_bytes()
    except OSError:
        return False


def _alive(proc_dir: Path) -> bool:
    try:
        state = (proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _tidings(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "tidings"), *args]


def test_api_processes_serve_http_and_the_parent_runs_the_worker(db_url: str, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    eng = create_engine(db_url)
    _, key = create_key(SqlUnitOfWork(eng), "e2e", ["admin"], datetime.now(UTC))
    eng.dispose()
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        _tidings("serve", "--port", str(port), "--no-catcher", "--api-processes", "2"),
        cwd=ROOT,
        env=_env(db_url, tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    h = {"Authorization": f"Bearer {key}"}
    children: list[Path] = []
    try:
        wait_for_http(proc, base, tmp_path / "serve.log")
        children = [  # the HTTP processes (multiprocessing's resource tracker, also a child, is not one)
            d for d in Path("/proc").iterdir() if d.name.isdigit() and _parent(d) == proc.pid and _is_http(d)
        ]
        assert len(children) >= 2, "expected two HTTP processes under the command"
        with httpx.Client(base_url=base, headers=h, timeout=30) as client:
            segment = {"key": "buyers", "name": "Buyers", "rule": "purchase.count(30d) >= 1"}
            r = client.post("/api/segments", json=segment)
            assert r.status_code == 201, r.text
        emails = [f"p{i}@x.test" for i in range(20)]
        for e in emails:  # a new connection each time (the kernel spreads them over the processes)
            r = httpx.post(f"{base}/api/events", headers=h, json={"name": "purchase", "email": e}, timeout=30)
            assert r.status_code == 202, r.text
        deadline = time.monotonic() + 30
        while True:  # no test clock here: the parent's worker runs on real time
            members = httpx.get(f"{base}/api/segments/buyers/members?limit=100", headers=h, timeout=30).json()
            if sorted(m["email"] for m in members["items"]) == sorted(emails):
                break
            assert time.monotonic() < deadline, members
            time.sleep(0.2)
    finally:
        try:
            interrupt(proc)
        finally:
            log.close()
    assert proc.returncode == 0, (tmp_path / "serve.log").read_text()  # a clean stop, not a kill
    # every HTTP process is gone with the command (none left running)
    left = [d for d in children if _alive(d)]
    assert left == [], [(d / "cmdline").read_bytes().replace(b"\0", b" ") for d in left]
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{base}/healthz", timeout=1)


def test_api_processes_refuse_the_test_clock(db_url: str, tmp_path: Path) -> None:
    r = subprocess.run(
        _tidings("serve", "--api-processes", "2", "--test-clock", "--port", str(free_port())),
        cwd=ROOT,
        env=_env(db_url, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0
    assert "--test-clock needs one process" in r.stdout + r.stderr
