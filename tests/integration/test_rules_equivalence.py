"""Two evaluators, one meaning: random rules over random contacts, Python evaluate == SQL compile.

Runs on the backend of this test run (SQLite, or PostgreSQL with TIDINGS_TEST_DATABASE_URL).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidings.domain.rules import RuleError, evaluate, parse_rule, to_json, to_text
from tidings.store import schema
from tidings.store.rule_indexes import ensure_rule_indexes, existing_rule_indexes
from tidings.store.rules_sql import compile_rule, tune_connection
from tidings.store.snapshots import load_snapshot

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

scalars = st.sampled_from(
    [
        1,
        2.5,
        -3,
        0,
        "x",
        "xy",
        "ab",
        "",
        True,
        False,
        "2026-02-25",
        "2025-03-05T10:00:00",
        "1990-03-04",
        "2026-03-01 08:00:00",
    ]
)
attr_values = st.one_of(scalars, st.none(), st.just(["x", "y"]), st.just([1, "ab"]))
times = st.integers(min_value=0, max_value=60 * 24 * 40).map(lambda m: NOW - timedelta(minutes=m))
fine_times = st.tuples(times, st.sampled_from([0, 500_000, 999_999])).map(lambda t: t[0] + timedelta(microseconds=t[1]))
EVENT_NAMES = ["purchase", "visit", "message.opened", "segment.entered", "Order Completed"]

event_st = st.fixed_dictionaries(
    {
        "name": st.sampled_from(EVENT_NAMES),
        "occurred_at": fine_times,
        "value": st.one_of(st.none(), st.sampled_from([1.0, 5.0, 20.0, -2.0])),
        "properties": st.fixed_dictionaries(
            {},
            optional={
                "revenue": st.sampled_from([10, 55, 120, "9", True]),
                "template": st.sampled_from(["w", "x"]),
                "machine": st.booleans(),
            },
        ),
    }
)

contact_st = st.fixed_dictionaries(
    {
        "attrs": st.fixed_dictionaries(
            {}, optional={"a": attr_values, "b": attr_values, "n": st.fixed_dictionaries({"c": attr_values})}
        ),
        "score": st.sampled_from([0.0, 5.0, 10.0, 50.5]),
        "stage": st.sampled_from([None, "lead", "customer"]),
        "first_name": st.sampled_from([None, "Ann", "bob", "Åsa"]),
        "created_at": times,
        "tags": st.sets(st.sampled_from(["a", "b", "c"])),
        "consents": st.dictionaries(st.sampled_from(["email", "sms"]), st.sampled_from(["granted", "unsubscribed"])),
        "events": st.lists(event_st, max_size=6),
        "segments": st.sets(st.sampled_from(["s1", "s2"])),
        "journeys": st.lists(
            st.sampled_from(
                [
                    ("j1", "active", None),
                    ("j1", "ended", "converted"),
                    ("j2", "waiting", None),
                    ("j2", "ended", None),
                ]
            ),
            max_size=2,
        ),
    }
)

windows = st.sampled_from([None, "1h", "2d", "30d"])
durations = st.sampled_from(["1h", "2d", "30d", "400d", "3d"])


def _cmp(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    lit = {
        "number": st.sampled_from([0, 1, 2, 5.5, 10, 100, -1]),
        "string": st.sampled_from(["Ann", "b", "lead", "A"]),
        "any": scalars,
        "date": st.sampled_from(["2026-02-25T00:00:00Z", "2026-03-01T12:00:00Z"]),
    }[kind]
    ops = {
        "number": ["eq", "ne", "gt", "gte", "lt", "lte"],
        "string": ["eq", "ne", "gt", "lt", "contains", "starts_with"],
        "any": ["eq", "ne", "gt", "gte", "lt", "lte", "contains", "starts_with"],
        "date": ["gt", "lt"],
    }[kind]
    simple = st.builds(lambda op, v: {"op": op, "value": v}, st.sampled_from(ops), lit)
    lists = st.builds(
        lambda op, vs: {"op": op, "value": vs},
        st.sampled_from(["in", "not_in"]),
        st.lists(lit, min_size=1, max_size=3),
    )
    between = st.builds(
        lambda a, b: {"op": "between", "value": sorted([a, b]) if kind == "number" else [a, b]}, lit, lit
    )
    out = [simple, lists, between, st.sampled_from([{"op": "exists"}, {"op": "not_exists"}])]
    if kind in ("date", "any"):
        out.append(
            st.builds(
                lambda op, d: {"op": op, "value": d},
                st.sampled_from(["within_last", "more_than_ago", "anniversary_in"]),
                durations,
            )
        )
    return st.one_of(*out)


def _with(base: dict[str, Any], kind: str) -> st.SearchStrategy[dict[str, Any]]:
    return _cmp(kind).map(lambda c: {**base, **c})


agg_st = st.builds(
    lambda ev, agg, prop, win, where, human: {
        k: v
        for k, v in {
            "event": ev,
            "agg": agg,
            "property": prop if agg != "count" else None,
            "window": win,
            "where": where,
            "human": human,
        }.items()
        if v not in (None, {}, False)
    },
    st.sampled_from(EVENT_NAMES + ["*"]),
    st.sampled_from(["count", "sum", "min", "max", "first", "last"]),
    st.sampled_from([None, "revenue", "template"]),
    windows,
    st.sampled_from([{}, {"template": "w"}]),
    st.booleans(),
)


def _agg_cmp(d: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    if d["agg"] in ("count", "sum", "min", "max"):
        return _with(d, "number")
    return _with(d, "date" if "property" not in d else "any")


leaves = st.one_of(
    _with({"field": "score"}, "number"),
    _with({"field": "first_name"}, "string"),
    _with({"field": "lifecycle_stage"}, "string"),
    _with({"field": "created_at"}, "date"),
    st.sampled_from(["a", "b", "n.c"]).flatmap(lambda a: _with({"attribute": a}, "any")),
    st.sampled_from([{"tag": t} for t in "abz"]),
    st.sampled_from(
        [
            {"consent": ch, "op": op, "value": v}
            for ch in ("email", "sms")
            for op in ("eq", "ne")
            for v in ("granted", "unsubscribed")
        ]
    ),
    agg_st.flatmap(_agg_cmp),
    st.builds(
        lambda a, b, w: {"sequence": {"did": a, "not": b, "within": w}},
        st.sampled_from(EVENT_NAMES),
        st.sampled_from(EVENT_NAMES),
        st.sampled_from(["1h", "1d", "3m"]),
    ),
    st.sampled_from(
        [
            {"in_segment": "s1"},
            {"in_segment": "s2"},
            {"in_journey": "j1"},
            {"in_journey": "j2"},
            {"journey_state": "j1", "op": "eq", "value": "ended:converted"},
            {"journey_state": "j2", "op": "starts_with", "value": "ended"},
        ]
    ),
)


def _valid(d: dict[str, Any]) -> bool:
    try:
        parse_rule(d)
        return True
    except RuleError:
        return False


rules_st = st.recursive(
    leaves.filter(_valid),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
        inner.map(lambda x: {"not": x}),
    ),
    max_leaves=5,
)

TABLES = (
    "contacts",
    "contact_tags",
    "consents",
    "events",
    "segments",
    "segment_memberships",
    "journeys",
    "enrollments",
)


def _load(conn: sa.Connection, contacts: list[dict[str, Any]]) -> None:
    for t in TABLES:
        conn.execute(schema.metadata.tables[t].delete())
    seg_ids = {}
    for i, key in enumerate(["s1", "s2"], start=1):
        conn.execute(
            sa.insert(schema.segments).values(id=i, key=key, name=key, rule={}, created_at=NOW, updated_at=NOW)
        )
        seg_ids[key] = i
    j_ids = {}
    for i, key in enumerate(["j1", "j2"], start=1):
        conn.execute(
            sa.insert(schema.journeys).values(id=i, key=key, name=key, status="active", created_at=NOW, updated_at=NOW)
        )
        j_ids[key] = i
    for cid, c in enumerate(contacts, start=1):
        conn.execute(
            sa.insert(schema.contacts).values(
                id=cid,
                attributes=c["attrs"],
                score=c["score"],
                lifecycle_stage=c["stage"],
                first_name=c["first_name"],
                created_at=c["created_at"],
                updated_at=NOW,
            )
        )
        for t in c["tags"]:
            conn.execute(sa.insert(schema.contact_tags).values(contact_id=cid, tag=t, created_at=NOW))
        for ch, status in c["consents"].items():
            conn.execute(
                sa.insert(schema.consents).values(
                    contact_id=cid, channel=ch, status=status, recorded_at=NOW, proof={}, topics={}
                )
            )
        for e in c["events"]:
            conn.execute(sa.insert(schema.events).values(contact_id=cid, received_at=NOW, **e))
        for s in c["segments"]:
            conn.execute(
                sa.insert(schema.segment_memberships).values(contact_id=cid, segment_id=seg_ids[s], entered_at=NOW)
            )
        for key, status, reason in c["journeys"]:
            conn.execute(
                sa.insert(schema.enrollments).values(
                    contact_id=cid,
                    journey_id=j_ids[key],
                    version=1,
                    status=status,
                    end_reason=reason,
                    state={},
                    entered_at=NOW,
                    updated_at=NOW,
                )
            )


@pytest.mark.filterwarnings("ignore")
@settings(
    max_examples=int(os.environ.get("TIDINGS_RULES_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(contacts=st.lists(contact_st, min_size=1, max_size=5), rules=st.lists(rules_st, min_size=1, max_size=6))
def test_python_and_sql_agree(engine: sa.Engine, contacts: list[dict[str, Any]], rules: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        _load(conn, contacts)
    parsed = [parse_rule(doc) for doc in rules]
    for rule in parsed:  # the indexes saving it as a segment creates: the compiler then uses them
        ensure_rule_indexes(engine, rule)
    with engine.connect() as conn:
        snaps = [load_snapshot(conn, cid) for cid in range(1, len(contacts) + 1)]
        present = existing_rule_indexes(conn)
        for rule in parsed:
            assert parse_rule(to_text(rule)) == rule
            assert parse_rule(to_json(rule)) == rule
            py = {s.id for s in snaps if s is not None and evaluate(rule, s, NOW)}
            for indexes in ((), present):
                query = compile_rule(rule, engine.dialect.name, NOW, indexes=indexes)
                tune_connection(conn, query)  # PostgreSQL planner settings: same answer, other plan
                sql = set(conn.execute(query).scalars())
                assert sql == py, f"{to_text(rule)} (indexes {sorted(indexes)}): sql={sorted(sql)} python={sorted(py)}"
            conn.rollback()
