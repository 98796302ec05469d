"""The rule language: parsing both forms, exact error locations, semantics, explain, dependencies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain.rules import (
    RuleError,
    dependencies,
    deps_from_events,
    evaluate,
    explain,
    matches_event,
    parse_contact_rule,
    parse_event_filter,
    parse_rule,
    to_json,
    to_text,
)
from tidings.domain.snapshot import ContactSnapshot, EventRecord

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ev(name: str, days_ago: float, value: float | None = None, **props: object) -> EventRecord:
    return EventRecord(name, NOW - timedelta(days=days_ago), props, value)


ANN = ContactSnapshot(
    id=1,
    email="ann@example.com",
    first_name="Ann",
    score=42.0,
    lifecycle_stage="customer",
    created_at=NOW - timedelta(days=365 - 3),
    attributes={
        "plan": "pro",
        "seats": 5,
        "trial": True,
        "interests": ["shoes", "hats"],
        "birthday": "1990-03-05",
        "address": {"city": "Berlin"},
        "nothing": None,
    },
    tags=frozenset({"vip"}),
    consents={"email": "granted", "sms": "unsubscribed"},
    events=(
        ev("purchase", 40, 30.0, revenue=30),
        ev("purchase", 10, 80.0, revenue=80),
        ev("purchase", 2, 50.0, revenue="50"),
        ev("cart_added", 4),
        ev("page_viewed", 1),
        ev("message.opened", 1, template="welcome", machine=True),
        ev("message.opened", 5, template="welcome", machine=False),
        ev("message.clicked", 0.5, template="promo", machine=False),
    ),
    segments=frozenset({"buyers"}),
    journeys={"welcome": "ended:converted", "nurture": "waiting"},
)

TRUE = [
    'purchase.count(30d) >= 2 and tag("vip") and not unsubscribed("email")',
    'event("purchase").sum("revenue") > 100',  # the text "50" is not a number: 30 + 80
    "purchase.sum() == 160",  # the value column
    'attributes.plan in ["pro", "team"]',
    'attributes.plan != "free"',
    "attributes.seats between 5 and 10",
    "attributes.trial == true",
    'attributes.interests contains "hats"',
    'attributes.address.city starts_with "Ber"',
    "attributes.missing not exists and attributes.nothing not exists",
    'email contains "@example"',
    "score > 40 and score <= 42",
    'lifecycle_stage == "customer"',
    "created_at anniversary in 3d",
    "attributes.birthday anniversary in 3d",
    "last_seen within last 2d",
    'event("purchase").last() within last 3d',
    'event("purchase").first("revenue") == 30',
    'event("purchase").max(30d) == 80',
    'message.opened(template="welcome", human=true).count(7d) == 1',
    'message.opened(template="welcome").count(7d) == 2',
    'did "cart_added" but not "purchase" within 1d',
    'in_segment("buyers") and in_journey("nurture") and not in_journey("welcome")',
    'journey_state("welcome") == "ended:converted"',
    'consent("sms") == "unsubscribed" and unsubscribed("sms")',
    'event("purchase")',  # did it ever
    'not (tag("a") or tag("b"))',
]
FALSE = [
    "purchase.count(1d) >= 1",
    'attributes.seats == "5"',  # typed by the literal: a number is not text
    "attributes.trial == 1",
    "attributes.missing == 1",
    'attributes.interests contains "sho"',  # list elements match whole
    'event("purchase").min("nothing") < 1000',  # no values: min is missing
    "last_seen more than 14d ago",
    'did "cart_added" but not "page_viewed" within 3d',
    'journey_state("other") starts_with "ended"',
    'consent("phone") == "granted"',
]


@pytest.mark.parametrize("text", TRUE)
def test_true_rules(text: str) -> None:
    assert evaluate(parse_rule(text), ANN, NOW) is True


@pytest.mark.parametrize("text", FALSE)
def test_false_rules(text: str) -> None:
    rule = parse_rule(text)
    assert evaluate(rule, ANN, NOW) is False
    assert evaluate(parse_rule({"not": to_json(rule)}), ANN, NOW) is True  # two-valued


@pytest.mark.parametrize("text", TRUE + FALSE)
def test_text_and_structured_forms_round_trip(text: str) -> None:
    rule = parse_rule(text)
    assert parse_rule(to_text(rule)) == rule
    assert parse_rule(to_json(rule)) == rule


@pytest.mark.parametrize(
    ("text", "column", "msg"),
    [
        ("score >", 8, "end of rule"),
        ("scor == 1", 1, "unknown field 'scor'"),
        ('tag("vip") and score == "high"', 25, "expected a number"),
        ("purchase.count(30x) >= 1", 18, "unexpected"),
        ('tag("vip") or consent("fax") == "granted"', 23, "unknown channel"),
        ('consent("email") == "maybe"', 21, "consent status"),
        ('event("purchase") > 1', 1, "say what to compute"),
        ("purchase.avg(3d) > 1", 1, "unknown function"),
        ("score ~ 3", 7, "unexpected character"),
        ("attributes.x anniversary in 3h", 29, "days or weeks"),
    ],
)
def test_text_errors_name_the_column(text: str, column: int, msg: str) -> None:
    with pytest.raises(RuleError) as exc:
        parse_rule(text)
    assert exc.value.column == column, str(exc.value)
    assert msg in exc.value.message


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"all": [{"tag": "a"}, {"field": "nope", "op": "eq", "value": 1}]}, ["all", 1, "field"]),
        ({"any": [{"not": {"attribute": "a", "op": "like", "value": 1}}]}, ["any", 0, "not", "op"]),
        ({"event": "buy", "agg": "count", "window": "30 days", "op": "gte", "value": 1}, ["window"]),
        ({"event": "buy", "agg": "sum", "op": "between", "value": [1]}, ["value"]),
        ({"all": []}, ["all"]),
        ({"tag": "a", "extra": 1}, ["extra"]),
        ({"sequence": {"did": "a", "not": "b", "within": "x"}}, ["sequence", "within"]),
    ],
)
def test_structured_errors_name_the_path(doc: dict[str, object], path: list[object]) -> None:
    with pytest.raises(RuleError) as exc:
        parse_rule(doc)
    assert exc.value.path == path


def test_event_filters() -> None:
    f = parse_event_filter('properties.total > 50 and properties.currency in ["EUR", "USD"]')
    assert matches_event(f, EventRecord("cart_abandoned", NOW, {"total": 60, "currency": "EUR"}), NOW)
    assert not matches_event(f, EventRecord("cart_abandoned", NOW, {"total": "60", "currency": "EUR"}), NOW)
    with pytest.raises(RuleError):
        parse_event_filter('tag("vip")')
    with pytest.raises(RuleError):
        parse_contact_rule("properties.total > 50")


def test_explain_lists_every_condition_with_value_and_result() -> None:
    out = explain(parse_rule('purchase.count(30d) >= 2 and not tag("vip")'), ANN, NOW)
    assert out[0] == {
        "path": [],
        "condition": 'event("purchase").count(30d) >= 2 and not tag("vip")',
        "result": False,
    }
    assert out[1] == {
        "path": ["all", 0],
        "condition": 'event("purchase").count(30d) >= 2',
        "value": 2,
        "result": True,
    }
    assert out[2]["condition"] == 'not tag("vip")' and out[2]["result"] is False
    assert out[3] == {"path": ["all", 1, "not"], "condition": 'tag("vip")', "value": ["vip"], "result": True}


def test_dependencies_and_change_hints() -> None:
    d = dependencies(
        parse_rule(
            'purchase.count(30d) >= 2 and tag("vip") and attributes.plan == "pro" '
            'and in_segment("x") and not unsubscribed("email")'
        )
    )
    assert d.events == {"purchase"} and d.tags == {"vip"} and d.attributes == {"plan"}
    assert d.segments == {"x"} and d.consents == {"email"} and d.time_relative
    assert not dependencies(parse_rule('attributes.plan == "pro"')).time_relative
    assert d.affected_by(deps_from_events([EventRecord("purchase", NOW)]))
    assert d.affected_by(deps_from_events([EventRecord("tag.added", NOW, {"tag": "vip"})]))
    assert not d.affected_by(deps_from_events([EventRecord("tag.added", NOW, {"tag": "other"})]))
    assert d.affected_by(
        deps_from_events([EventRecord("contact.updated", NOW, {"changed": {"attributes": {"plan": "x"}}})])
    )
    assert not d.affected_by(deps_from_events([EventRecord("contact.updated", NOW, {"changed": {"email": "x"}})]))
    # the spelling the change events really carry (domain/changes.py): "attributes.<key>"
    change = {"changed": {"attributes.plan": {"from": None, "to": "pro"}}}
    assert d.affected_by(deps_from_events([EventRecord("contact.updated", NOW, change)]))
    other = {"changed": {"attributes.size": {"from": None, "to": 3}}}
    assert not d.affected_by(deps_from_events([EventRecord("contact.updated", NOW, other)]))
    assert dependencies(parse_rule("last_seen within last 3d")).affected_by(
        deps_from_events([EventRecord("anything", NOW)])
    )


words = st.sampled_from(["a", "b", "plan", "x1"])
leaf = st.one_of(
    st.builds(lambda t: {"tag": t}, words),
    st.builds(
        lambda a, v: {"attribute": a, "op": "eq", "value": v},
        words,
        st.one_of(st.integers(-5, 5), st.text('ab"\\é ', max_size=4), st.booleans()),
    ),
    st.builds(
        lambda n, w, k: {"event": n, "agg": "count", "window": w, "op": "gte", "value": k},
        st.sampled_from(["purchase", "message.opened", "*"]),
        st.sampled_from(["1d", "12h", "2w"]),
        st.integers(0, 3),
    ),
)
rules = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: {"all": xs}),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: {"any": xs}),
        inner.map(lambda x: {"not": x}),
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(rules)
def test_any_structured_rule_prints_and_parses_back(doc: dict[str, object]) -> None:
    rule = parse_rule(doc)
    assert parse_rule(to_text(rule)) == rule
    assert parse_rule(to_json(rule)) == rule


def test_event_names_as_trackers_send_them() -> None:
    """Segment's spec names have spaces ("Order Completed"): rules can name them as strings, and
    they mean the dotted names ingest stores (one vocabulary: docs/tracking.md)."""
    shop = ContactSnapshot(
        id=2,
        events=(
            ev("order.completed", 3, 120.0, currency="EUR"),
            ev("order.completed", 40, 80.0, currency="EUR"),
            ev("cart.viewed", 5),
        ),
    )
    for text, expected in (
        ('event("Order Completed").count(30d) >= 1', True),
        ('event("Order Completed", currency="EUR").sum(90d) > 150', True),
        ('did "Cart Viewed" but not "Order Completed" within 1d', True),
        ('did "Order Completed" but not "Cart Viewed" within 40d', False),  # the 40-day-old order was followed
    ):
        rule = parse_rule(text)
        assert parse_rule(to_text(rule)) == rule and parse_rule(to_json(rule)) == rule
        assert evaluate(rule, shop, NOW) is expected, text
    assert parse_rule({"event": "Order Completed", "agg": "count", "op": "gte", "value": 1}) == parse_rule(
        "order.completed.count() >= 1"
    )
    assert parse_rule('event("Order Created").count() >= 1').target.event == "Order Created"  # not a spec name
    for bad, column in (('event(" Order").count() >= 1', 7), ('event("").count() >= 1', 7)):
        with pytest.raises(RuleError) as exc:
            parse_rule(bad)
        assert exc.value.column == column and "bad event name" in exc.value.message
    with pytest.raises(RuleError) as exc:
        parse_rule({"event": "a\x00b", "agg": "count", "op": "gte", "value": 1})
    assert exc.value.path == ["event"]
