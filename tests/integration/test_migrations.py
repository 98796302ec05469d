"""The migrations build exactly the schema the code declares, on every backend."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tidings.store import partitions, schema
from tidings.store.contact_search_sql import SQLITE_TABLES


def test_migrations_match_schema(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(ctx, schema.metadata)
    # Index/type reflection noise differs per backend; tables and columns must match exactly.
    structural = [d for d in diff if d[0] in {"add_table", "remove_table", "add_column", "remove_column"}]
    # the contact search's FTS5 table (SQLite) is no SQLAlchemy table: migration 0008 owns it
    structural = [d for d in structural if not (d[0] == "remove_table" and d[1].name in SQLITE_TABLES)]
    # PostgreSQL: the month and DEFAULT partitions of events and traces (migration 0022) are
    # tables of the database that no model declares; only those, found as partitions, are allowed
    with engine.connect() as conn:
        parts = {p.name for p in partitions.list_partitions(conn)}
    structural = [d for d in structural if not (d[0] == "remove_table" and d[1].name in parts)]
    assert structural == []


def test_events_and_traces_are_partitioned_by_month_on_postgresql(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        got = {t: partitions.partitioned(conn, t) for t in ("events", "traces")}
        pk = {
            t: conn.execute(
                sa.text("SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_index i"
                        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
                        " WHERE i.indrelid = to_regclass(:t) AND i.indisprimary"), {"t": t}
            ).scalar()
            for t in ("events", "traces")
        } if engine.dialect.name == "postgresql" else {}
    if engine.dialect.name != "postgresql":
        assert got == {"events": False, "traces": False}
        return
    assert got == {"events": True, "traces": True}
    assert pk == {"events": ["id", "occurred_at"], "traces": ["at", "id"]}


def test_every_per_contact_table_carries_contact_id() -> None:
    per_contact = {"contacts", "contact_aliases", "contact_tags", "consents", "events", "contact_queue",
                   "segment_memberships", "enrollments", "timers", "outbox", "traces", "tasks"}
    for name in per_contact - {"contacts"}:
        assert "contact_id" in schema.metadata.tables[name].c, name


def test_0003_keeps_rows_an_older_version_left_mid_send_as_handed_off(engine: sa.Engine) -> None:
    """Upgrading while an older version had rendered rows in `sending`: never resent blindly."""
    from datetime import UTC, datetime

    from alembic import command

    from tidings.store.migrate import alembic_config, upgrade

    command.downgrade(alembic_config(engine), "0002_control")
    try:
        now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        base = {"contact_id": 1, "kind": "message", "channel": "email", "payload": {}, "next_attempt_at": now,
                "created_at": now, "attempts": 1}
        old = sa.table("outbox", *(sa.column(c, schema.outbox.c[c].type)
                                   for c in ("idempotency_key", "status", "rendered", *base)))
        with engine.begin() as conn:
            conn.execute(sa.insert(old), [
                base | {"idempotency_key": "mid-send", "status": "sending", "rendered": {"message_ref": "m"}},
                base | {"idempotency_key": "done", "status": "sent", "rendered": {"message_ref": "d"}},
            ])
            conn.execute(sa.insert(old), [base | {"idempotency_key": "claimed", "status": "sending"}])  # not rendered
    finally:
        upgrade(engine)
    o = schema.outbox
    with engine.connect() as conn:
        got = dict(conn.execute(sa.select(o.c.idempotency_key, o.c.handed_off_at)).all())
    assert got == {"mid-send": now, "claimed": None, "done": None}


def test_0006_renames_stored_spec_event_names(engine: sa.Engine) -> None:
    """Events stored before the one vocabulary keep meaning what rules and recipes now say."""
    from datetime import UTC, datetime

    from alembic import command

    from tidings.store.migrate import alembic_config, upgrade

    command.downgrade(alembic_config(engine), "0005_experiments")
    try:
        now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        base = {"contact_id": 1, "properties": {}, "occurred_at": now, "received_at": now}
        with engine.begin() as conn:
            conn.execute(sa.insert(schema.events), [base | {"name": n} for n in ("Order Completed", "purchase")])
    finally:
        upgrade(engine)
    with engine.connect() as conn:
        names = conn.execute(sa.select(schema.events.c.name).order_by(schema.events.c.id)).scalars().all()
    assert names == ["order.completed", "purchase"]
