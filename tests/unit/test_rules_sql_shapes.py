"""The compiler chooses the query shape: pinned index, set algebra on SQLite, bound parameters only."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.dialects import postgresql, sqlite

from tidings.domain.rules import parse_rule
from tidings.store.rules_sql import compile_rule

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def sql(text: str, dialect: str) -> str:
    d = sqlite.dialect() if dialect == "sqlite" else postgresql.dialect()
    return str(compile_rule(parse_rule(text), dialect, NOW).compile(dialect=d))


def test_sqlite_event_conditions_are_pinned_to_the_rule_index() -> None:
    q = sql('tag("vip") and purchase.count(30d) >= 2', "sqlite")
    assert "FROM events INDEXED BY ix_events_name_occurred_at_contact_id_value" in q
    assert "INTERSECT" in q and "GROUP BY events.contact_id" in q


def test_sqlite_all_any_not_become_set_algebra_postgres_semi_and_anti_joins() -> None:
    rule = '(tag("a") or score > 80) and not (unsubscribed("email") or purchase.count(60d) >= 1)'
    lite = sql(rule, "sqlite")
    # the compound itself, no probe of contacts per id; not (a or b) = EXCEPT a EXCEPT b
    assert lite.startswith("SELECT anon_1.contact_id") and "FROM contacts \nWHERE contacts.id IN" not in lite
    assert lite.count("EXCEPT SELECT") == 2 and "UNION" in lite
    pg = sql(rule, "postgresql")
    assert "EXCEPT" not in pg and "contacts.id IN (SELECT" in pg and "UNION" in pg
    assert pg.count("NOT (EXISTS (SELECT") == 2  # anti-joins, not hashed NOT IN subplans


def test_postgres_queries_carry_the_planner_settings_their_shape_needs() -> None:
    def planner(text: str) -> dict[str, str]:
        q = compile_rule(parse_rule(text), "postgresql", NOW)
        return dict(q.get_execution_options().get("tidings_planner", {}))

    assert planner('tag("a") or tag("b")') == {"enable_hashagg": "off", "enable_hashjoin": "off"}
    assert planner('not tag("a")') == {"enable_hashagg": "off", "enable_hashjoin": "off"}
    assert planner("purchase.sum(90d) > 500") == {"max_parallel_workers_per_gather": "0"}
    assert planner('attributes.plan == "pro"') == {}
    assert planner("score > 3 and not score > 9") == {}  # a column of contacts: a plain filter
    assert compile_rule(parse_rule('tag("a") or tag("b")'), "sqlite", NOW).get_execution_options() == {}


def test_user_values_are_bound_never_inlined() -> None:
    evil = "x'); DROP TABLE contacts; --"
    rule = {
        "any": [
            {"attribute": "plan", "op": "eq", "value": evil},
            {"event": "buy", "agg": "count", "where": {"note": evil}, "op": "gte", "value": 1},
            {"field": "email", "op": "starts_with", "value": evil},
        ]
    }
    for dialect in ("sqlite", "postgresql"):
        d = sqlite.dialect() if dialect == "sqlite" else postgresql.dialect()
        q = str(compile_rule(parse_rule(rule), dialect, NOW).compile(dialect=d))
        assert "DROP" not in q
