"""Exports of events and messages: CSV and JSON Lines round-trip, time window, chunked reads,
formula cells neutralised; the same through the API and the CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tidings.application.ingest.exports import ROW_EXPORTS, export_rows
from tidings.store import exports_sql, schema

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def seed(engine: sa.Engine, events: int = 5) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(schema.events),
            [
                {
                    "contact_id": 1,
                    "name": "=cmd|' /C calc'!A0" if i == 0 else "page.viewed",
                    "properties": {"url": f"https://example.com/{i}", "title": "Сторінка ตัวอย่าง"},
                    "occurred_at": T0 + timedelta(hours=i),
                    "received_at": T0 + timedelta(hours=i),
                    "source": "api",
                    "value": float(i),
                }
                for i in range(events)
            ],
        )
        base = {
            "contact_id": 1,
            "channel": "email",
            "payload": {},
            "status": "sent",
            "next_attempt_at": T0,
            "created_at": T0,
        }
        conn.execute(
            sa.insert(schema.outbox),
            [
                {**base, "idempotency_key": "m1", "kind": "message", "subject": "+SUM(1,2) for you"},
                {
                    **base,
                    "idempotency_key": "m2",
                    "kind": "message",
                    "subject": "مرحبا",
                    "created_at": T0 + timedelta(days=2),
                },
                {**base, "idempotency_key": "w1", "kind": "webhook", "subject": None},
            ],
        )


def text(engine: sa.Engine, kind: str, fmt: str, **kw: Any) -> str:
    return "".join(export_rows(exports_sql.reader(engine), kind, fmt, kw.get("since"), kw.get("until")))


def test_events_csv_and_jsonl_round_trip(engine: sa.Engine) -> None:
    seed(engine)
    rows = list(csv.DictReader(io.StringIO(text(engine, "events", "csv"), newline="")))
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), key=int) and len(rows) == 5
    assert list(rows[0]) == list(ROW_EXPORTS["events"])
    assert rows[0]["name"] == "'=cmd|' /C calc'!A0"  # a formula made inert
    assert json.loads(rows[1]["properties"]) == {"url": "https://example.com/1", "title": "Сторінка ตัวอย่าง"}
    assert rows[2]["occurred_at"].startswith("2026-03-01T14:00")
    lines = [json.loads(x) for x in text(engine, "events", "jsonl").splitlines()]
    assert [x["id"] for x in lines] == [int(r["id"]) for r in rows]
    assert lines[3]["value"] == 3.0 and lines[3]["properties"]["url"] == "https://example.com/3"
    window = text(engine, "events", "jsonl", since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3))
    assert [json.loads(x)["value"] for x in window.splitlines()] == [1.0, 2.0]


def test_reads_are_chunked(engine: sa.Engine) -> None:
    seed(engine, events=7)
    chunks = list(exports_sql.row_chunks(engine, "events", ("id",), None, None, chunk=3))
    assert [len(c) for c in chunks] == [3, 3, 1]
    assert len({r["id"] for c in chunks for r in c}) == 7


def test_messages_only_messages_and_neutralised(engine: sa.Engine) -> None:
    seed(engine)
    rows = list(csv.DictReader(io.StringIO(text(engine, "messages", "csv"), newline="")))
    assert [r["subject"] for r in rows] == ["'+SUM(1,2) for you", "مرحبا"]
    later = text(engine, "messages", "jsonl", since=T0 + timedelta(days=1))
    assert [json.loads(x)["subject"] for x in later.splitlines()] == ["مرحبا"]


def test_api_streams_exports(api: Any, container: Any) -> None:
    seed(container.engine)
    r = api.get("/api/exports/events.csv", params={"since": "2026-03-01T13:00:00"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert len(list(csv.DictReader(io.StringIO(r.text, newline="")))) == 4
    r = api.get("/api/exports/messages.jsonl")
    assert r.status_code == 200 and len(r.text.splitlines()) == 2
    assert api.get("/api/exports/people.csv").status_code == 404
    assert api.get("/api/exports/events.xlsx").status_code == 404
    bad = api.get("/api/exports/events.csv", params={"since": "last week"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["loc"] == ["query", "since"]


def test_cli_exports(container: Any, db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tidings.cli.main import app

    seed(container.engine)
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    out = tmp_path / "ev.jsonl"
    runner = CliRunner()
    r = runner.invoke(app, ["export", "events", "--format", "jsonl", "--until", "2026-03-01 13:00", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert [json.loads(x)["value"] for x in out.read_text(encoding="utf-8").splitlines()] == [0.0]
    r = runner.invoke(app, ["export", "messages", "--format", "csv"])
    assert r.exit_code == 0 and "'+SUM(1,2) for you" in r.output
    bad = runner.invoke(app, ["export", "events", "--format", "xml"])
    assert bad.exit_code == 1 and "--format must be one of csv, jsonl" in bad.output
