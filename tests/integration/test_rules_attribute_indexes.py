"""Saved segments get expression indexes on their attribute paths, and the compiled rule uses them."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tidings.domain.rules import parse_rule
from tidings.services import segments as svc
from tidings.store import schema
from tidings.store.rules_sql import attribute_indexes, compile_rule, ensure_attribute_indexes

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RULE = 'attributes.plan == "pro" and attributes.age >= 30'


def index_names(engine: sa.Engine) -> set[str]:
    sql = (
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contacts'"
        if engine.dialect.name == "sqlite"
        else "SELECT indexname FROM pg_indexes WHERE tablename = 'contacts' AND schemaname = current_schema()"
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
    svc.create_segment(engine, "pros", "Pros", RULE, NOW)
    assert wanted <= index_names(engine)
    svc.update_segment(engine, "pros", NOW, rule_source=RULE)  # again: IF NOT EXISTS
    svc.create_segment(engine, "pros2", "Pros 2", RULE, NOW)  # shared by another segment
    assert wanted <= index_names(engine)
    assert set(ensure_attribute_indexes(engine, parse_rule(RULE))) == wanted
    members = {m["id"] for m in svc.members(engine, "pros")["items"]}
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
