"""Personal data and retention as a client and the worker see them: a real HTTP server answers
the zip and the retention API; the worker's retention service (as `tidings serve` wires it)
applies the policy on its own and logs the run."""

from __future__ import annotations

import io
import json
import time
import zipfile
from datetime import timedelta

import httpx
import sqlalchemy as sa

from tests.conftest import LiveServer
from tests.integration import privacy_seed as seed
from tidings.application.access.keys import create_key
from tidings.application.privacy.retention import RetentionRunner, run_log, save_policy
from tidings.bootstrap import Container
from tidings.runtime import background_services
from tidings.store import schema
from tidings.store.retention_sql import retention_sessions


def test_zip_and_retention_over_http(live_server: LiveServer, container: Container) -> None:
    _, secret = create_key(container.uow(), "privacy", ["admin"], container.clock.now())
    now = container.clock.now()
    with container.engine.begin() as conn:
        cid = seed.known_contact(conn, now)["contact_id"]
        seed.event(conn, cid, now - timedelta(days=100))
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {secret}"}) as http:
        r = http.get(f"/api/contacts/{cid}/data-export")
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        z = zipfile.ZipFile(io.BytesIO(r.content))
        manifest = json.loads(z.read("manifest.json"))
        assert {f["name"]: f["rows"] for f in manifest["files"]}["events.jsonl"] == 4
        assert http.get("/api/contacts/424242/data-export").status_code == 404
        assert http.put("/api/retention", json={"events": 30}).status_code == 200
        assert http.post("/api/retention/dry-run").json()["counts"] == {"events": 1}
        assert http.post("/api/retention/run").json()["counts"] == {"events": 1}
        again = zipfile.ZipFile(io.BytesIO(http.get(f"/api/contacts/{cid}/data-export").content))
        assert len(again.read("events.jsonl").decode().splitlines()) == 3  # the recent ones stay


def test_the_worker_runs_the_policy_and_logs_it(container: Container) -> None:
    assert any(isinstance(s, RetentionRunner) for s in background_services(container, worker=True, catcher=False))
    now = container.clock.now()
    with container.engine.begin() as conn:
        seed.inbox(conn, now - timedelta(days=60))
        seed.inbox(conn, now)
    sessions = retention_sessions(container.engine)
    save_policy(sessions, {"inbox": 30}, now)
    runner = RetentionRunner(sessions, container.clock, every=0.05)
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while not run_log(sessions) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop()
    first = run_log(sessions)[-1]
    assert first["actor"] == "worker" and first["dry_run"] is False and first["counts"] == {"inbox": 1}
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.inbox)).scalar() == 1
