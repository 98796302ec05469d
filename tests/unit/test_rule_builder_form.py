"""The rule builder's tree: rule -> tree -> rule is the identity (and the text form too)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain.rules import RuleError, parse_rule, to_text
from tidings.domain.rules.builder import builder_to_rule, builder_to_structured, rule_to_builder

words = st.sampled_from(["a", "b", "plan", "x1", "vip"])
leaf = st.one_of(
    st.builds(lambda t: {"tag": t}, words),
    st.builds(
        lambda a, op, v: {"attribute": a, "op": op, "value": v},
        words,
        st.sampled_from(["eq", "ne"]),
        st.one_of(st.integers(-5, 5), st.text('ab"\\é ', max_size=4), st.booleans()),
    ),
    st.builds(lambda a: {"attribute": a, "op": "in", "value": ["x", "y"]}, words),
    st.builds(lambda f: {"field": f, "op": "exists"}, st.sampled_from(["email", "phone", "first_name"])),
    st.builds(lambda c, v: {"consent": c, "op": "eq", "value": v}, st.sampled_from(["email", "sms"]),
              st.sampled_from(["granted", "denied"])),
    st.builds(
        lambda n, w, k: {"event": n, "agg": "count", "window": w, "op": "gte", "value": k},
        st.sampled_from(["purchase", "message.opened", "*"]),
        st.sampled_from(["1d", "12h", "2w"]),
        st.integers(0, 3),
    ),
    st.builds(lambda s: {"in_segment": s}, words),
    st.builds(lambda s: {"sequence": {"did": "cart_added", "not": "purchase", "within": s}},
              st.sampled_from(["1d", "2h"])),
)
rules = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
        inner.map(lambda x: {"not": x}),
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(rules)
def test_rule_tree_rule_is_identity(doc: dict) -> None:
    rule = parse_rule(doc)
    tree = json.loads(json.dumps(rule_to_builder(rule)))  # the page holds it as JSON
    assert builder_to_rule(tree) == rule
    assert parse_rule(to_text(builder_to_rule(tree))) == rule


def test_tree_shapes() -> None:
    rule = parse_rule('tag("vip") and not (purchase.count(30d) >= 2 or attributes.plan == "pro")')
    tree = rule_to_builder(rule)
    assert tree["type"] == "group" and tree["match"] == "all"
    assert tree["items"][0] == {"type": "condition", "rule": {"tag": "vip"}}
    assert tree["items"][1]["type"] == "not" and tree["items"][1]["item"]["match"] == "any"


@pytest.mark.parametrize(
    ("tree", "path"),
    [
        ({"type": "group", "match": "some", "items": []}, ["match"]),
        ({"type": "group", "match": "all", "items": []}, ["items"]),
        ({"type": "group", "match": "all", "items": [{"type": "x"}]}, ["items", 0, "type"]),
        ({"type": "not", "item": {"type": "condition", "rule": {}}}, ["item", "rule"]),
        ({"type": "condition", "rule": {"all": []}}, ["rule"]),
    ],
)
def test_bad_trees_name_the_path(tree: dict, path: list) -> None:
    with pytest.raises(RuleError) as err:
        builder_to_structured(tree)
    assert err.value.path == path


def test_a_bad_condition_is_the_languages_own_error() -> None:
    with pytest.raises(RuleError, match="unknown operator"):
        builder_to_rule({"type": "condition", "rule": {"attribute": "plan", "op": "is", "value": 1}})
