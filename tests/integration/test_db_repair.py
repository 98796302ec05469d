"""`tidings db repair`: stored JSON that breaks the rule (written before it was enforced) is found and fixed.

The poisoned rows are written directly, as an older version (or a hand edit) left them: on
SQLite the JSON text holds NaN / Infinity / huge integers; PostgreSQL's jsonb refuses NaN, but
keeps integers beyond 64-bit and numbers like 1e400 that read back as infinity.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tidings.cli.main import app
from tidings.store import schema
from tidings.store.repair import json_columns, repair_json

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def poison(engine: sa.Engine) -> tuple[int, int]:
    """One clean contact, one poisoned contact with a poisoned event; returns their ids."""
    with engine.begin() as conn:
        clean, bad = (
            conn.execute(
                sa.insert(schema.contacts)
                .values(email=email, attributes={"plan": "pro", "n": 1}, created_at=NOW, updated_at=NOW)
                .returning(schema.contacts.c.id)
            ).scalar_one()
            for email in ("clean@x.test", "bad@x.test")
        )
        conn.execute(sa.insert(schema.events).values(contact_id=bad, name="order", properties={"total": 5},
                                                     occurred_at=NOW, received_at=NOW, message_id="m1",
                                                     source="api"))
        if engine.dialect.name == "sqlite":
            attributes = '{"plan": "pro", "score": NaN, "big": 100000000000000000000000000000, "s": "a\\u0000b"}'
            properties = '{"total": Infinity, "items": [1, -Infinity]}'
            conn.exec_driver_sql("UPDATE contacts SET attributes = ? WHERE id = ?", (attributes, bad))
            conn.exec_driver_sql("UPDATE events SET properties = ? WHERE message_id = 'm1'", (properties,))
        else:
            attributes = '{"plan": "pro", "score": 1e400, "big": 100000000000000000000000000000}'
            properties = '{"total": -1e400, "items": [1, 9223372036854775808]}'
            conn.exec_driver_sql("UPDATE contacts SET attributes = %s::jsonb WHERE id = %s", (attributes, bad))
            conn.exec_driver_sql("UPDATE events SET properties = %s::jsonb WHERE message_id = 'm1'", (properties,))
    return clean, bad


def raw(engine: sa.Engine, sql: str) -> Any:
    with engine.connect() as conn:
        return conn.exec_driver_sql(sql).scalar_one()


def test_every_json_column_is_scanned() -> None:
    names = {f"{t.name}.{c.name}" for t, c in json_columns()}
    assert {"contacts.attributes", "events.properties"} <= names


def test_repair_finds_fixes_and_reports(engine: sa.Engine) -> None:
    clean, bad = poison(engine)
    before = raw(engine, f"SELECT CAST(attributes AS TEXT) FROM contacts WHERE id = {bad}")

    dry = repair_json(engine, dry_run=True)
    assert dry.rows == 2 and not dry.unreadable
    paths = {(f.table, f.path) for f in dry.findings}
    assert ("contacts", "attributes.score") in paths and ("contacts", "attributes.big") in paths
    assert ("events", "properties.total") in paths
    assert all(f.key == {"id": bad} for f in dry.findings if f.table == "contacts")
    assert raw(engine, f"SELECT CAST(attributes AS TEXT) FROM contacts WHERE id = {bad}") == before

    done = repair_json(engine)
    assert done.rows == 2 and len(done.findings) == len(dry.findings)
    with engine.connect() as conn:
        attrs = conn.execute(sa.select(schema.contacts.c.attributes).where(schema.contacts.c.id == bad)).scalar_one()
        props = conn.execute(sa.select(schema.events.c.properties)).scalar_one()
        untouched = conn.execute(
            sa.select(schema.contacts.c.attributes).where(schema.contacts.c.id == clean)).scalar_one()
    assert attrs["plan"] == "pro" and attrs["score"] is None and attrs["big"] is None
    if engine.dialect.name == "sqlite":
        assert attrs["s"] == "ab"
        assert props == {"total": None, "items": [1, None]}
    else:
        assert props == {"total": None, "items": [1, None]}
    assert untouched == {"plan": "pro", "n": 1}
    assert repair_json(engine).rows == 0


def test_the_database_works_again_after_repair(engine: sa.Engine, api: Any) -> None:
    _, bad = poison(engine)
    repair_json(engine)
    r = api.post("/api/segments/preview", json={"rule": 'attributes.plan == "pro"'})
    assert r.status_code == 200 and r.json()["count"] == 2, r.text
    r = api.post("/api/segments", json={"key": "pro", "name": "Pro", "rule": 'attributes.plan == "pro"'})
    assert r.status_code == 201, r.text
    assert api.get(f"/api/contacts/{bad}").status_code == 200


def test_cli_dry_run_then_repair(engine: sa.Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    poison(engine)
    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    runner = CliRunner()
    r = runner.invoke(app, ["db", "repair", "--dry-run"])
    assert r.exit_code == 3, r.output
    assert "would fix 2 rows" in r.output and "attributes.score" in r.output
    r = runner.invoke(app, ["db", "repair"])
    assert r.exit_code == 0 and "fixed 2 rows" in r.output, r.output
    r = runner.invoke(app, ["db", "repair", "--dry-run"])
    assert r.exit_code == 0 and "would fix 0 rows" in r.output, r.output
