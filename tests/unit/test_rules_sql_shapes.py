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


def test_sqlite_all_any_not_become_set_algebra_postgres_keeps_subplans() -> None:
    rule = '(tag("a") or score > 80) and not (unsubscribed("email") or purchase.count(60d) >= 1)'
    assert "UNION" in sql(rule, "sqlite") and "EXCEPT" in sql(rule, "sqlite")
    pg = sql(rule, "postgresql")
    assert "EXCEPT" not in pg and "UNION" not in pg and "IN (SELECT" in pg


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
