"""The migrations build exactly the schema the code declares, on every backend."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tidings.store import schema


def test_migrations_match_schema(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(ctx, schema.metadata)
    # Index/type reflection noise differs per backend; tables and columns must match exactly.
    structural = [d for d in diff if d[0] in {"add_table", "remove_table", "add_column", "remove_column"}]
    assert structural == []


def test_every_per_contact_table_carries_contact_id() -> None:
    per_contact = {"contacts", "contact_aliases", "contact_tags", "consents", "events", "contact_queue",
                   "segment_memberships", "enrollments", "timers", "outbox", "traces", "tasks"}
    for name in per_contact - {"contacts"}:
        assert "contact_id" in schema.metadata.tables[name].c, name
