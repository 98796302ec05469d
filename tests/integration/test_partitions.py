"""Monthly partitions of events and traces (PostgreSQL) and idempotency through event_receipts
(both databases): rows land in their month or the DEFAULT partition, a message id is stored once
whichever month it claims, the migration keeps rows, retention drops exactly the old months, rule
indexes reach every partition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from tidings.domain.rules import parse_rule
from tidings.store import partitions, schema
from tidings.store.ingest_sql import insert_events
from tidings.store.migrate import alembic_config, upgrade
from tidings.store.retention_sql import SqlRetention, prune_receipts
from tidings.store.rule_indexes import ensure_rule_indexes, event_property_indexes, partition_index_name

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
E, T, R = schema.events, schema.traces, schema.event_receipts


def pg_only(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("partitions are PostgreSQL's")


def event(mid: str | None, at: datetime, contact_id: int = 1, name: str = "page.viewed") -> dict[str, Any]:
    return {"contact_id": contact_id, "name": name, "properties": {"template": "t1"}, "occurred_at": at,
            "received_at": at, "message_id": mid, "source": "api", "value": None}


def where_rows_are(conn: sa.Connection, table: str = "events") -> dict[str, int]:
    """partition name -> rows (tableoid of each row)."""
    rows = conn.execute(sa.text(f"SELECT tableoid::regclass::text, count(*) FROM {table} GROUP BY 1")).all()
    return {str(name).split(".")[-1]: int(n) for name, n in rows}


def test_a_message_id_is_stored_once_whichever_month_it_claims(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        partitions.ensure_partitions(conn, NOW)
        first = insert_events(conn, [event("m-1", NOW), event(None, NOW), event("m-2", NOW)])
    with engine.begin() as conn:  # the same ids again, dated other months (and the DEFAULT's past)
        again = insert_events(conn, [event("m-1", NOW + timedelta(days=40)),
                                     event("m-2", datetime(2001, 5, 1, tzinfo=UTC)),
                                     event("m-3", NOW + timedelta(days=40)), event("m-3", NOW)])
    assert first == {"m-1", "m-2", None} and again == {"m-3"}
    with engine.connect() as conn:
        mids = conn.execute(sa.select(E.c.message_id).order_by(E.c.id)).scalars().all()
        receipts = dict(conn.execute(sa.select(R.c.message_id, R.c.event_id)).all())
        ids = dict(conn.execute(sa.select(E.c.message_id, E.c.id).where(E.c.message_id.is_not(None))).all())
    assert mids == ["m-1", None, "m-2", "m-3"]
    assert receipts == ids  # each receipt names its stored event


def test_events_land_in_their_month_partition_or_the_default(engine: sa.Engine) -> None:
    pg_only(engine)
    with engine.begin() as conn:
        created = partitions.ensure_partitions(conn, NOW)
        assert partitions.ensure_partitions(conn, NOW) == []  # idempotent
        insert_events(conn, [event("a", NOW), event("b", NOW + timedelta(days=31)),
                             event("old", datetime(2001, 5, 1, tzinfo=UTC)),
                             event("far", datetime(2999, 1, 1, tzinfo=UTC))])
        conn.execute(sa.insert(T), [{"contact_id": 1, "stimulus": "event", "action": "enter", "detail": {}, "at": NOW}])
    assert {"events_y2026m03", "events_y2026m04", "events_y2026m05", "events_y2026m06"} <= set(created) | {
        p.name for p in partitions.list_partitions(engine.connect())
    }
    with engine.connect() as conn:
        assert where_rows_are(conn) == {"events_y2026m03": 1, "events_y2026m04": 1, "events_default": 2}
        assert where_rows_are(conn, "traces") == {"traces_y2026m03": 1}


def test_a_month_made_after_its_rows_arrived_takes_them_from_the_default(engine: sa.Engine) -> None:
    pg_only(engine)
    backdated = datetime(2024, 7, 9, tzinfo=UTC)
    with engine.begin() as conn:
        insert_events(conn, [event("x1", backdated), event("x2", backdated + timedelta(days=3))])
        assert where_rows_are(conn).get("events_default") == 2
        assert partitions.create_month(conn, "events", 2024, 7)
    with engine.connect() as conn:
        assert where_rows_are(conn) == {"events_y2024m07": 2}


def test_retention_drops_exactly_the_months_before_the_cutoff(engine: sa.Engine) -> None:
    pg_only(engine)
    months = [datetime(2025, m, 10, tzinfo=UTC) for m in (9, 10, 11, 12)]
    cutoff = datetime(2025, 11, 20, tzinfo=UTC)  # September and October end before it
    with engine.begin() as conn:
        for m in months:
            partitions.create_month(conn, "events", m.year, m.month)
        rows = [event(f"{m.month}-{i}", m + timedelta(days=i)) for m in months for i in range(3)]
        insert_events(conn, rows)
        conn.execute(sa.update(E).values(processed_at=E.c.occurred_at))
        # October holds an unprocessed event: retention must keep it, so October is not dropped whole
        insert_events(conn, [event("oct-pending", datetime(2025, 10, 1, tzinfo=UTC))])
    with engine.begin() as conn:
        dropped = SqlRetention(conn).delete_batch("events", cutoff, 1000)
    with engine.begin() as conn:
        after = SqlRetention(conn).delete_batch("events", cutoff, 1000)  # the rest, row-wise
        names = {p.name for p in partitions.list_partitions(conn)}
        left = sorted(conn.execute(sa.select(E.c.message_id)).scalars())
    assert dropped == 3 and "events_y2025m09" not in names  # September: gone whole
    assert {"events_y2025m10", "events_y2025m11", "events_y2025m12"} <= names
    assert after == 3 + 3  # October's processed rows and November's (all before the 20th)
    assert left == ["12-0", "12-1", "12-2", "oct-pending"]


def test_rule_indexes_reach_every_partition(engine: sa.Engine) -> None:
    pg_only(engine)
    rule = parse_rule('message.opened(template="t3").count(30d) >= 1')
    with engine.begin() as conn:
        partitions.ensure_partitions(conn, NOW)
    (ix,) = [str(i.name) for i in event_property_indexes(rule, "postgresql")]
    assert ensure_rule_indexes(engine, rule) == [ix]
    assert ensure_rule_indexes(engine, rule) == [ix]  # again: nothing to do
    with engine.connect() as conn:
        parts = [p.name for p in partitions.list_partitions(conn) if p.table == "events"]
        attached = set(conn.execute(
            sa.text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                    " WHERE i.inhparent = to_regclass(:n)"), {"n": ix}
        ).scalars())
        valid = conn.execute(sa.text("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:n)"),
                             {"n": ix}).scalar()
        partitions.create_month(conn, "events", 2030, 1)  # a later partition gets it by itself
        later = conn.execute(sa.text("SELECT count(*) FROM pg_inherits WHERE inhparent = to_regclass(:n)"),
                             {"n": ix}).scalar()
        conn.rollback()
    assert valid is True
    assert attached == {partition_index_name(p, ix) for p in parts}
    assert later == len(parts) + 1


def test_receipts_older_than_the_window_are_pruned(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        insert_events(conn, [event("old", NOW - timedelta(days=40)), event("new", NOW - timedelta(days=2))])
        assert prune_receipts(conn, NOW - timedelta(days=30)) == 1
        assert conn.execute(sa.select(R.c.message_id)).scalars().all() == ["new"]


def test_the_migration_keeps_rows_and_fills_the_receipts(engine: sa.Engine) -> None:
    command.downgrade(alembic_config(engine), "0021_experiment_members")
    try:
        with engine.begin() as conn:
            base = {"contact_id": 1, "properties": {}, "received_at": NOW, "source": "api", "name": "x"}
            conn.execute(sa.insert(E), [base | {"occurred_at": NOW - timedelta(days=90 * i), "message_id": f"m{i}"}
                                        for i in range(4)] + [base | {"occurred_at": NOW, "message_id": None}])
            conn.execute(sa.insert(T), [{"contact_id": 1, "stimulus": "event", "action": "enter", "detail": {},
                                         "at": NOW - timedelta(days=40 * i)} for i in range(3)])
            before = conn.execute(sa.select(E.c.id, E.c.message_id, E.c.occurred_at).order_by(E.c.id)).all()
    finally:
        upgrade(engine)
    with engine.begin() as conn:
        after = conn.execute(sa.select(E.c.id, E.c.message_id, E.c.occurred_at).order_by(E.c.id)).all()
        receipts = dict(conn.execute(sa.select(R.c.message_id, R.c.event_id)).all())
        assert conn.execute(sa.select(sa.func.count()).select_from(T)).scalar() == 3
        fresh = insert_events(conn, [event("m0", NOW), event("m9", NOW)])  # m0: seen before the upgrade
        newest = conn.execute(sa.select(sa.func.max(E.c.id))).scalar()
        spread = where_rows_are(conn) if engine.dialect.name == "postgresql" else {}
    assert after == before
    assert receipts == {mid: i for i, mid, _ in before if mid is not None}
    assert fresh == {"m9"} and newest > max(i for i, _, _ in before)  # the id sequence went along
    if engine.dialect.name == "postgresql":  # one partition per month that held rows
        assert spread == {"events_y2026m03": 3, "events_y2025m12": 1, "events_y2025m09": 1, "events_y2025m06": 1}


def test_the_partitions_cli_lists_ensures_and_drops_with_a_dry_run_first(
    engine: sa.Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from tidings.cli.main import app

    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    runner = CliRunner()

    def run(*args: str) -> str:
        r = runner.invoke(app, ["partitions", *args])
        assert r.exit_code == (0 if engine.dialect.name == "postgresql" else 1), r.output
        return r.output

    if engine.dialect.name != "postgresql":
        assert "PostgreSQL" in run("list")
        return
    with engine.begin() as conn:
        partitions.create_month(conn, "events", 2020, 1)
        insert_events(conn, [event("jan", datetime(2020, 1, 5, tzinfo=UTC))])
        conn.execute(sa.update(E).values(processed_at=E.c.occurred_at))
    run("ensure")
    assert "events_y2020m01" in run("list") and "DEFAULT" in run("list")
    assert "would drop" in run("drop", "--before", "2020-02", "--table", "events")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(E)).scalar() == 1  # a dry run
    assert "dropped" in run("drop", "--before", "2020-02", "--apply")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(E)).scalar() == 0
        assert "events_y2020m01" not in {p.name for p in partitions.list_partitions(conn)}


def test_the_worker_upkeep_makes_the_months_ahead_and_prunes_old_receipts(engine: sa.Engine, container: Any) -> None:
    from tidings.worker import PartitionMaintainer, worker_services

    assert any(isinstance(s, PartitionMaintainer) for s in worker_services(container))
    now = container.clock.now()
    with engine.begin() as conn:
        insert_events(conn, [event("stale", now - timedelta(days=31)), event("fresh", now - timedelta(days=29))])
    done = PartitionMaintainer(container).run_once()
    assert done["receipts_pruned"] == 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(R.c.message_id)).scalars().all() == ["fresh"]
        names = {p.name for p in partitions.list_partitions(conn)}
    if engine.dialect.name == "postgresql":
        assert {"events_y2026m03", "events_y2026m06", "traces_y2026m06"} <= names
    else:
        assert names == set() and done["created"] == []
