"""Saved segments get the optional indexes their rules need (attribute paths, event properties),
the compiled rule uses them, and they go when no segment needs them."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tidings.application.segments import segments as svc
from tidings.bootstrap import Container
from tidings.domain.rules import parse_rule
from tidings.store import schema
from tidings.store.rule_indexes import (
    attribute_indexes,
    ensure_rule_indexes,
    event_property_indexes,
    existing_rule_indexes,
)
from tidings.store.rules_sql import compile_rule, event_index_name, tune_connection
from tidings.store.segments_sql import SqlSegmentStore

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RULE = 'attributes.plan == "pro" and attributes.age >= 30'


def index_names(engine: sa.Engine, table: str = "contacts") -> set[str]:
    sql = (
        f"SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}'"
        if engine.dialect.name == "sqlite"
        else f"SELECT indexname FROM pg_indexes WHERE tablename = '{table}' AND schemaname = current_schema()"
    )
    with engine.connect() as conn:
        return {str(n) for n in conn.exec_driver_sql(sql).scalars()}


def add(engine: sa.Engine, email: str, attributes: dict[str, object]) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                sa.insert(schema.contacts)
                .values(email=email, attributes=attributes, created_at=NOW, updated_at=NOW)
                .returning(schema.contacts.c.id)
            ).scalar_one()
        )


def test_saving_a_segment_creates_its_attribute_indexes_idempotently(engine: sa.Engine) -> None:
    wanted = {str(ix.name) for ix in attribute_indexes(parse_rule(RULE), engine.dialect.name)}
    assert wanted and all(n.startswith("ix_contacts_attr_") for n in wanted)
    ids = {
        "pro31": add(engine, "a@x.test", {"plan": "pro", "age": 31}),
        "pro30f": add(engine, "b@x.test", {"plan": "pro", "age": 30.0}),
        "pro_text_age": add(engine, "c@x.test", {"plan": "pro", "age": "40"}),
        "pro_list": add(engine, "d@x.test", {"plan": ["pro"], "age": 50}),
        "free": add(engine, "e@x.test", {"plan": "free", "age": 50}),
        "pro_true": add(engine, "f@x.test", {"plan": "pro", "age": True}),
    }
    svc.create_segment(SqlSegmentStore(engine), "pros", "Pros", RULE, NOW)
    assert not wanted & index_names(engine)  # saving answers at once; the indexes follow
    svc.sync_indexes(SqlSegmentStore(engine))
    assert wanted <= index_names(engine)
    svc.update_segment(SqlSegmentStore(engine), "pros", NOW, rule_source=RULE)  # again: IF NOT EXISTS
    svc.create_segment(SqlSegmentStore(engine), "pros2", "Pros 2", RULE, NOW)  # shared by another segment
    svc.sync_indexes(SqlSegmentStore(engine))
    assert wanted <= index_names(engine)
    assert set(ensure_rule_indexes(engine, parse_rule(RULE))) == wanted
    members = {m["id"] for m in svc.members(SqlSegmentStore(engine), "pros")["items"]}
    assert members == {ids["pro31"], ids["pro30f"]}
    if engine.dialect.name == "sqlite":
        q = compile_rule(parse_rule(RULE), "sqlite", NOW).compile(
            dialect=sqlite.dialect(), compile_kwargs={"render_postcompile": True}
        )
        with engine.connect() as conn:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(q), tuple(q.params.values())).all()
        assert any("USING INDEX ix_contacts_attr_plan_age" in str(row) for row in plan), plan


def test_only_name_pattern_paths_are_inlined_and_values_stay_bound() -> None:
    rule = parse_rule({"all": [{"attribute": "plan", "op": "eq", "value": "x'); DROP TABLE contacts; --"}]})
    for dialect, d in (("sqlite", sqlite.dialect()), ("postgresql", postgresql.dialect())):
        q = str(compile_rule(rule, dialect, NOW).compile(dialect=d))
        assert "DROP" not in q and ("'$.\"plan\"'" in q or "'plan'" in q)
    assert attribute_indexes(parse_rule('score > 3 and tag("a")'), "sqlite") == []


ENGAGED = 'message.opened(template="t3", human=true).count(14d) >= 1'


def event(engine: sa.Engine, contact: int, name: str, props: dict[str, object], days_ago: float = 1) -> None:
    from datetime import timedelta

    at = NOW - timedelta(days=days_ago)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(schema.events).values(
                contact_id=contact, name=name, properties=props, occurred_at=at, received_at=at
            )
        )


def test_event_property_index_is_created_used_and_keeps_the_meaning(engine: sa.Engine) -> None:
    rule = parse_rule(ENGAGED)
    (ix,) = event_property_indexes(rule, engine.dialect.name)
    assert str(ix.name).startswith("ix_events_prop_message_opened_template")
    ids = {k: add(engine, f"{k}@x.test", {}) for k in ("yes", "machine", "old", "other", "number", "clicked")}
    event(engine, ids["yes"], "message.opened", {"template": "t3", "machine": False})
    event(engine, ids["machine"], "message.opened", {"template": "t3", "machine": True})
    event(engine, ids["old"], "message.opened", {"template": "t3"}, days_ago=20)
    event(engine, ids["other"], "message.opened", {"template": "t4"})
    event(engine, ids["number"], "message.opened", {"template": 3})
    event(engine, ids["clicked"], "message.clicked", {"template": "t3"})
    with engine.connect() as conn:
        before = set(conn.execute(compile_rule(rule, engine.dialect.name, NOW)).scalars())
    svc.create_segment(SqlSegmentStore(engine), "engaged", "Engaged", ENGAGED, NOW)
    svc.sync_indexes(SqlSegmentStore(engine))
    assert str(ix.name) in index_names(engine, "events")
    with engine.connect() as conn:
        present = existing_rule_indexes(conn)
        q = compile_rule(rule, engine.dialect.name, NOW, indexes=present)
        after = set(conn.execute(q).scalars())
    assert str(ix.name) in present
    assert before == after == {ids["yes"]}
    assert {m["id"] for m in svc.members(SqlSegmentStore(engine), "engaged")["items"]} == {ids["yes"]}
    if engine.dialect.name == "sqlite":
        c = q.compile(dialect=sqlite.dialect(), compile_kwargs={"render_postcompile": True})
        with engine.connect() as conn:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(c), tuple(c.params.values())).all()
        assert any(f"USING INDEX {ix.name}" in str(row) for row in plan), plan


def test_unused_rule_indexes_are_dropped_shared_ones_kept(engine: sa.Engine) -> None:
    attr = {str(ix.name) for ix in attribute_indexes(parse_rule(RULE), engine.dialect.name)}
    (ev,) = [str(ix.name) for ix in event_property_indexes(parse_rule(ENGAGED), engine.dialect.name)]
    svc.create_segment(SqlSegmentStore(engine), "a", "A", RULE, NOW)
    svc.create_segment(SqlSegmentStore(engine), "b", "B", RULE, NOW)
    svc.create_segment(SqlSegmentStore(engine), "e", "E", ENGAGED, NOW)
    svc.sync_indexes(SqlSegmentStore(engine))
    assert attr <= index_names(engine) and ev in index_names(engine, "events")
    svc.delete_segment(SqlSegmentStore(engine), "a")
    svc.sync_indexes(SqlSegmentStore(engine))
    assert attr <= index_names(engine)  # still needed by b
    svc.update_segment(SqlSegmentStore(engine), "b", NOW, rule_source='tag("vip")')
    assert attr <= index_names(engine)  # dropped after the save, not by it
    svc.sync_indexes(SqlSegmentStore(engine))
    assert not attr & index_names(engine)  # nobody needs them now
    assert ev in index_names(engine, "events")
    svc.delete_segment(SqlSegmentStore(engine), "e")
    svc.sync_indexes(SqlSegmentStore(engine))
    assert ev not in index_names(engine, "events")
    assert "ix_events_name_occurred_at_contact_id_value" in index_names(engine, "events")  # ours only


def test_the_segment_refresher_builds_and_drops_the_indexes_after_saves(container: Container) -> None:
    from tidings.application.segments.segment_refresher import SegmentRefresher

    engine = container.engine
    attr = {str(ix.name) for ix in attribute_indexes(parse_rule(RULE), engine.dialect.name)}
    refresher = SegmentRefresher(container.segments, container.clock)
    refresher.index_check_every = 0
    assert refresher.sync_indexes_if_changed() == 1  # once at start
    assert refresher.sync_indexes_if_changed() == 0  # nothing changed since
    svc.create_segment(SqlSegmentStore(engine), "a", "A", RULE, NOW)
    assert not attr & index_names(engine)
    assert refresher.sync_indexes_if_changed() == 1
    assert attr <= index_names(engine)
    assert refresher.sync_indexes_if_changed() == 0
    svc.update_segment(SqlSegmentStore(engine), "a", NOW, rule_source='tag("vip")')
    assert refresher.sync_indexes_if_changed() == 1
    assert not attr & index_names(engine)
    svc.update_segment(SqlSegmentStore(engine), "a", NOW, rule_source=RULE)
    svc.delete_segment(SqlSegmentStore(engine), "a")  # changed, then gone: nothing to build
    assert refresher.sync_indexes_if_changed() == 1
    assert not attr & index_names(engine)


def test_event_names_that_are_not_literal_safe_get_no_index_and_stay_bound() -> None:
    # the parser already refuses such names (EVENT_RE); the compiler does not rely on it
    from tidings.domain.rules.ast import Compare, EventAgg

    for name in ("Order Completed", "x'); DROP TABLE events; --"):
        ev = EventAgg(name, "count", where=(("sku", "a"),))
        rule = Compare(ev, "gte", 1)
        assert event_index_name(ev, "sqlite") is None
        assert event_property_indexes(rule, "postgresql") == []
        fake = {f"ix_events_prop_{x}" for x in ("", "x")}
        q = str(compile_rule(rule, "sqlite", NOW, indexes=fake).compile(dialect=sqlite.dialect()))
        assert "DROP" not in q and "Order" not in q


def test_postgres_planner_settings_apply_to_the_rule_transaction(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        return
    q = compile_rule(parse_rule('tag("a") or not tag("b")'), "postgresql", NOW)
    with engine.connect() as conn:
        tune_connection(conn, q)
        assert conn.exec_driver_sql("SHOW enable_hashagg").scalar() == "off"
        conn.execute(q).all()
        conn.rollback()
        assert conn.exec_driver_sql("SHOW enable_hashagg").scalar() == "on"  # SET LOCAL: this transaction only
