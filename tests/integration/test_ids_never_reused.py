"""A deleted contact's (segment's, template's) id is never given to a new one: events, merge
audits, traces and messages that name the old id must not come to name someone else.

SQLite needs AUTOINCREMENT for that (migration 0004, which also converts existing databases);
PostgreSQL identities never reuse a value.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tidings.store.db import create_engine
from tidings.store.migrate import upgrade
from tidings.store.segments_sql import SqlSegmentStore

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_api_never_gives_a_deleted_contacts_id_again(api: Any, engine: sa.Engine) -> None:
    from tidings.application.segments.segments import segment_id

    first = api.post("/api/contacts", json={"email": "first@example.org"}).json()["id"]
    newest = api.post("/api/contacts", json={"email": "newest@example.org"}).json()["id"]
    assert api.delete(f"/api/contacts/{newest}").status_code == 204
    again = api.post("/api/contacts", json={"email": "again@example.org"}).json()["id"]
    assert again not in (first, newest) and again > newest
    seg = {"key": "s1", "name": "S1", "rule": 'tag("vip")'}
    assert api.post("/api/segments", json=seg).status_code == 201
    sid = segment_id(SqlSegmentStore(engine), "s1")
    assert api.delete("/api/segments/s1").status_code == 204
    assert api.post("/api/segments", json=seg).status_code == 201
    assert (segment_id(SqlSegmentStore(engine), "s1") or 0) > (sid or 0)


def _sqlite_schema(eng: sa.Engine, table: str) -> str:
    with eng.connect() as conn:
        return str(conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).scalar())


def _index_names(eng: sa.Engine, table: str) -> set[str]:
    with eng.connect() as conn:
        return {r[1] for r in conn.exec_driver_sql(f"PRAGMA index_list('{table}')").all()}


def test_the_migration_converts_an_existing_sqlite_database(tmp_path: Path) -> None:
    eng = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(eng, "0001")  # a database made before the migration, with data in it
    assert "AUTOINCREMENT" not in _sqlite_schema(eng, "contacts")
    with eng.begin() as conn:
        for i in (1, 2, 3):
            conn.execute(
                sa.text(
                    "INSERT INTO contacts (id, email, attributes, score, anonymous, created_at, updated_at)"
                    " VALUES (:id, :email, '{}', 0, 0, :now, :now)"
                ),
                {"id": i, "email": f"c{i}@example.org", "now": NOW.isoformat()},
            )
    indexes = {t: _index_names(eng, t) for t in ("contacts", "segments", "templates")}
    upgrade(eng)
    for table in ("contacts", "segments", "templates"):
        assert "AUTOINCREMENT" in _sqlite_schema(eng, table), table
        assert _index_names(eng, table) == indexes[table], table  # unique constraints and indexes kept
    with eng.begin() as conn:
        assert [r[0] for r in conn.exec_driver_sql("SELECT email FROM contacts ORDER BY id")] == [
            "c1@example.org", "c2@example.org", "c3@example.org"
        ]
        conn.exec_driver_sql("DELETE FROM contacts WHERE id = 3")
        new_id = conn.execute(
            sa.text(
                "INSERT INTO contacts (email, attributes, score, anonymous, created_at, updated_at)"
                " VALUES ('c4@example.org', '{}', 0, 0, :now, :now) RETURNING id"
            ),
            {"now": NOW.isoformat()},
        ).scalar_one()
        assert new_id == 4
        dup = conn.begin_nested()
        try:  # the email is still unique after the table was rebuilt
            conn.exec_driver_sql(
                "INSERT INTO contacts (email, attributes, score, anonymous, created_at, updated_at)"
                " VALUES ('c1@example.org', '{}', 0, 0, '2026-03-02', '2026-03-02')"
            )
        except sa.exc.IntegrityError:
            dup.rollback()
        else:
            raise AssertionError("contacts.email is no longer unique")
    eng.dispose()
