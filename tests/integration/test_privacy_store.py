"""Personal data export and retention on the test backend (SQLite, and PostgreSQL when set):
the zip opened and read back; a dry run counts what the run then deletes; nothing newer than a
cut-off and nothing protected goes; every run leaves a log row."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.integration import privacy_seed as seed
from tidings.application.privacy import retention
from tidings.application.privacy.data_export import UnknownContact, write_export
from tidings.clock import ManualClock
from tidings.domain.retention import InvalidPolicy
from tidings.store import schema
from tidings.store.data_export_sql import SqlDataExport
from tidings.store.retention_sql import retention_sessions


def test_export_zip_holds_every_file_with_counts(engine: sa.Engine, clock: ManualClock) -> None:
    now = clock.now()
    with engine.begin() as conn:
        cid = seed.known_contact(conn, now)["contact_id"]
        other = seed.contact(conn, now, email="bob@example.com")
        seed.event(conn, other, now)
    buf = io.BytesIO()
    with engine.connect() as conn:
        summary = write_export(SqlDataExport(conn), cid, buf, now, by="test")
    z = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    names = set(z.namelist())
    assert {"profile.json", "consents.json", "events.jsonl", "events.csv", "messages.jsonl", "messages.csv",
            "traces.jsonl", "tasks.json", "segments.json", "journeys.json", "scores.json", "manifest.json",
            "README.txt"} == names
    profile = json.loads(z.read("profile.json"))
    assert profile["email"] == "ann@example.com" and profile["tags"] == ["vip"]
    consent = json.loads(z.read("consents.json"))[0]
    assert consent["proof"]["ip"] == "203.0.113.9" and consent["proof"]["user_agent"] == "UA/1"
    assert consent["source"] == "form" and consent["recorded_at"].startswith(now.date().isoformat())
    events = [json.loads(line) for line in z.read("events.jsonl").decode().splitlines()]
    assert sorted(e["name"] for e in events) == ["Step 0", "Step 1", "Step 2"]  # not Bob's
    rows = list(csv.DictReader(io.StringIO(z.read("events.csv").decode())))
    assert len(rows) == 3 and all(r["properties"].startswith("{") for r in rows)
    messages = list(csv.DictReader(io.StringIO(z.read("messages.csv").decode())))
    assert messages[0]["subject"] == "Hello" and messages[0]["journey"] == "welcome"
    assert json.loads(z.read("messages.jsonl").decode())["rendered"] == {"text": "Hi Ann"}
    trace = json.loads(z.read("traces.jsonl").decode())
    assert trace["detail"] == {"because": "Signed Up"} and trace["journey"] == "welcome"
    assert json.loads(z.read("tasks.json"))[0]["title"] == "Call Ann"
    assert json.loads(z.read("segments.json"))[0]["key"] == "vips"
    manifest = json.loads(z.read("manifest.json"))
    counts = {f["name"]: f["rows"] for f in manifest["files"]}
    assert counts == summary.counts
    assert counts["events.jsonl"] == counts["events.csv"] == 3 and counts["messages.jsonl"] == 1
    assert manifest["contact_id"] == cid and manifest["generated_at"] == now.isoformat()
    assert "events.csv (3)" in z.read("README.txt").decode()
    assert {i.date_time[:3] for i in z.infolist()} == {(now.year, now.month, now.day)}  # streamed ones too


def test_export_csv_cells_cannot_run_as_formulas(engine: sa.Engine, clock: ManualClock) -> None:
    now = clock.now()
    with engine.begin() as conn:
        cid = seed.contact(conn, now, email="eve@example.com")
        conn.execute(sa.insert(schema.events).values(
            contact_id=cid, name="=cmd|' /C calc'!A0", properties={}, occurred_at=now, received_at=now))
    buf = io.BytesIO()
    with engine.connect() as conn:
        write_export(SqlDataExport(conn), cid, buf, now, by="test")
    row = next(csv.DictReader(io.StringIO(zipfile.ZipFile(buf).read("events.csv").decode())))
    assert row["name"].startswith("'=")


def test_export_of_an_unknown_contact_is_refused(engine: sa.Engine, clock: ManualClock) -> None:
    with engine.connect() as conn, pytest.raises(UnknownContact, match="no contact with id 999"):
        write_export(SqlDataExport(conn), 999, io.BytesIO(), clock.now(), by="test")


def _counts(engine: sa.Engine) -> dict[str, int]:
    tables = {"events": schema.events, "traces": schema.traces, "outbox": schema.outbox, "inbox": schema.inbox,
              "contacts": schema.contacts}
    with engine.connect() as conn:
        return {k: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() or 0)
                for k, t in tables.items()}


def test_retention_dry_run_counts_what_the_run_deletes_and_protects_the_rest(
    engine: sa.Engine, clock: ManualClock
) -> None:
    now = clock.now()
    old, recent = now - timedelta(days=800), now - timedelta(days=5)
    with engine.begin() as conn:
        jid = seed.journey(conn, now)
        ann = seed.contact(conn, old, email="ann@example.com")
        running = seed.enrolment(conn, ann, jid, old, "waiting")
        ended = seed.enrolment(conn, ann, jid, old, "ended")
        for _ in range(3):
            seed.event(conn, ann, old)                       # deleted
        seed.event(conn, ann, recent)                        # newer: kept
        seed.event(conn, ann, old, processed=False)          # the worker has not seen it: kept
        seed.trace(conn, ann, old, ended)                    # deleted
        seed.trace(conn, ann, old, running)                  # running enrolment: kept
        seed.trace(conn, ann, recent, ended)                 # newer: kept
        seed.outbox(conn, ann, old, "o-done", enrollment_id=ended)       # deleted
        seed.outbox(conn, ann, old, "o-pending", status="pending")       # not final: kept
        seed.outbox(conn, ann, old, "o-running", enrollment_id=running)  # running enrolment: kept
        dead = seed.outbox(conn, ann, old, "o-dead", status="dead")      # has a dead letter: kept
        conn.execute(sa.insert(schema.dead_letters).values(outbox_id=dead, contact_id=ann, reason="x",
                                                            created_at=old))
        seed.outbox(conn, ann, recent, "o-new")                          # newer: kept
        seed.inbox(conn, old)                                            # deleted
        seed.inbox(conn, recent)                                         # kept
        gone = seed.contact(conn, old, anonymous=True)                   # deleted, with its rows
        seed.event(conn, gone, old)
        seed.contact(conn, recent, anonymous=True)                       # recent: kept
        active = seed.contact(conn, old, anonymous=True)                 # recent activity: kept
        seed.event(conn, active, recent)
        seed.contact(conn, old, email="old@example.com", anonymous=True)  # has an identifier: kept
    sessions = retention_sessions(engine)
    policy = {"events": 30, "traces": 30, "outbox": 730, "inbox": 30, "anonymous_contacts": 30}
    retention.save_policy(sessions, policy, now)
    assert retention.load_policy(sessions).document() == policy

    before = _counts(engine)
    dry = retention.run_retention(sessions, clock, actor="test", dry_run=True)
    assert _counts(engine) == before  # a dry run deletes nothing
    expected = {"events": 4, "traces": 1, "outbox": 1, "inbox": 1, "anonymous_contacts": 1}
    assert dry.counts == expected  # events: Ann's 3 old + the anonymous contact's 1
    real = retention.run_retention(sessions, clock, actor="test", dry_run=False, batch=2)  # several batches
    assert real.counts == dry.counts
    after = _counts(engine)
    assert {k: before[k] - after[k] for k in before} == {
        "events": 4, "traces": 1, "outbox": 1, "inbox": 1, "contacts": 1}
    with engine.connect() as conn:
        keys = set(conn.execute(sa.select(schema.outbox.c.idempotency_key)).scalars())
        assert keys == {"o-pending", "o-running", "o-dead", "o-new"}
        assert conn.execute(sa.select(schema.contacts.c.id).where(schema.contacts.c.id == gone)).first() is None
        assert min(conn.execute(sa.select(schema.inbox.c.received_at)).scalars()) == recent
    log = retention.run_log(sessions)  # newest first
    assert [(r["id"], r["dry_run"], r["counts"], r["actor"]) for r in log] == [
        (real.log_id, False, expected, "test"), (dry.log_id, True, expected, "test")]
    assert log[0]["policy"] == policy
    again = retention.run_retention(sessions, clock, actor="test", dry_run=True)
    assert again.counts == {k: 0 for k in expected}


def test_retention_policy_is_off_by_default_and_checked(engine: sa.Engine, clock: ManualClock) -> None:
    sessions = retention_sessions(engine)
    assert not retention.load_policy(sessions).enabled
    assert retention.RetentionRunner(sessions, clock).run_once() is None  # nothing enabled: no log row
    assert retention.run_log(sessions) == []
    retention.set_days(sessions, "inbox", 7, clock.now())
    assert retention.load_policy(sessions).document()["inbox"] == 7
    with pytest.raises(InvalidPolicy, match="unknown kind"):
        retention.set_days(sessions, "contacts", 7, clock.now())
    with pytest.raises(InvalidPolicy, match="between"):
        retention.set_days(sessions, "events", 0, clock.now())
    with pytest.raises(InvalidPolicy, match="at least 730"):
        retention.set_days(sessions, "outbox", 365, clock.now())
    report = retention.RetentionRunner(sessions, clock).run_once()
    assert report is not None and report.actor == "worker" and report.counts == {"inbox": 0}
