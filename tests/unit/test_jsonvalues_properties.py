"""Properties of the JSON rule (tidings/domain/jsonvalues.py) and of the names rule."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain import jsonvalues
from tidings.domain.names import control_problem
from tidings.domain.rules import RuleError, parse_rule
from tidings.domain.rules.limits import MAX_CONDITIONS, MAX_DEPTH

in_range_ints = st.integers(min_value=jsonvalues.INT64_MIN, max_value=jsonvalues.INT64_MAX)
in_range_floats = st.floats(allow_nan=False, allow_infinity=False, min_value=-(2.0**63), max_value=2.0**63,
                            exclude_max=True)
clean_text = st.text().filter(lambda s: "\x00" not in s)
storable = st.recursive(
    st.none() | st.booleans() | in_range_ints | in_range_floats | clean_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(clean_text, children, max_size=4),
    max_leaves=20,
)
bad_scalar = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.integers(min_value=jsonvalues.INT64_MAX + 1) | st.integers(max_value=jsonvalues.INT64_MIN - 1),
    st.floats(min_value=2.0**63, allow_infinity=False) | st.floats(max_value=-(2.0**63) * 1.001,
                                                                   allow_infinity=False),
    st.text().map(lambda s: s + "\x00"),
)


@given(storable)
def test_storable_values_pass_and_round_trip_through_json_text(value: Any) -> None:
    assert jsonvalues.problems(value) == []
    assert jsonvalues.loads(json.dumps(value)) == value
    fixed, changes = jsonvalues.repaired(value)
    assert changes == [] and fixed == value


@st.composite
def poisoned(draw: st.DrawFn) -> tuple[Any, list[Any]]:
    """A storable document with one bad scalar planted at a known path."""
    doc = draw(st.dictionaries(clean_text, storable, max_size=3))
    path: list[Any] = []
    node: Any = doc
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(["a", "b", 0]))
        child: Any = {} if isinstance(key, str) else []
        if isinstance(node, dict):
            key = str(key)
            node[key] = child
        else:
            node.append(child)
            key = len(node) - 1
        path.append(key)
        node = child
    bad = draw(bad_scalar)
    if isinstance(node, dict):
        node["x"] = bad
        path.append("x")
    else:
        node.append(bad)
        path.append(len(node) - 1)
    return doc, path


@given(poisoned())
def test_a_bad_scalar_is_found_at_its_path_and_repaired_to_a_storable_value(case: tuple[Any, list[Any]]) -> None:
    doc, path = case
    found = jsonvalues.problems(doc, ["body"])
    assert [p.path for p in found] == [["body", *path]]
    with pytest.raises(jsonvalues.JsonRefused) as exc:
        jsonvalues.check(doc)
    assert exc.value.problems[0].path == path
    fixed, changes = jsonvalues.repaired(doc)
    assert [c.path for c in changes] == [path]
    assert jsonvalues.is_storable(fixed)


@given(poisoned())
def test_text_holding_an_offence_is_always_suspect(case: tuple[Any, list[Any]]) -> None:
    """The fast path (no walk when the text is not suspect) never lets an offence through."""
    text = json.dumps(case[0])
    assert jsonvalues.suspect(text) and jsonvalues.suspect(text.encode())
    with pytest.raises(jsonvalues.JsonRefused):
        jsonvalues.loads(text)


@given(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-2e308"]), st.lists(st.sampled_from(["a", "b"]),
                                                                                      max_size=4))
def test_json_text_spelling_nan_or_infinity_is_malformed_with_the_path(token: str, keys: list[str]) -> None:
    text = token
    for key in reversed(keys):
        text = f'{{"{key}": {text}}}'
    with pytest.raises(jsonvalues.JsonRefused) as exc:
        jsonvalues.loads(text, ["body"])
    assert exc.value.malformed and exc.value.problems[0].path == ["body", *keys]


@given(st.integers(min_value=1, max_value=10**6))
def test_integers_just_outside_the_range_are_refused_in_text(offset: int) -> None:
    for number in (jsonvalues.INT64_MAX + offset, jsonvalues.INT64_MIN - offset):
        with pytest.raises(jsonvalues.JsonRefused) as exc:
            jsonvalues.loads(f'{{"n": [{number}]}}')
        assert not exc.value.malformed and exc.value.problems[0].path == ["n", 0]


def test_nesting_deeper_than_the_limit_is_refused_without_recursion() -> None:
    deep: Any = 1
    for _ in range(jsonvalues.MAX_DEPTH + 1):
        deep = [deep]
    assert [p.message for p in jsonvalues.problems(deep)] == [jsonvalues.TOO_DEEP]
    very_deep: Any = 1
    for _ in range(100_000):  # far beyond Python's recursion limit: the walk is iterative
        very_deep = {"a": very_deep}
    assert jsonvalues.problems(very_deep)[0].message == jsonvalues.TOO_DEEP


@given(st.text(min_size=1).filter(lambda s: any(ord(c) < 32 or 127 <= ord(c) <= 159 for c in s)))
def test_names_with_control_characters_are_refused(name: str) -> None:
    assert control_problem(name) is not None


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126)))
def test_printable_names_pass(name: str) -> None:
    assert control_problem(name) is None


@settings(max_examples=25)
@given(st.integers(min_value=MAX_CONDITIONS + 1, max_value=30_000), st.sampled_from(["and", "or"]))
def test_long_rules_are_refused_naming_the_limit(n: int, op: str) -> None:
    with pytest.raises(RuleError, match="at most"):
        parse_rule(f" {op} ".join(['tag("a")'] * n))


@settings(max_examples=25)
@given(st.integers(min_value=MAX_DEPTH + 1, max_value=5_000))
def test_deep_rules_are_refused_naming_the_limit(depth: int) -> None:
    with pytest.raises(RuleError, match="at most"):
        parse_rule("(" * depth + 'tag("a")' + ")" * depth)
    structured: Any = {"tag": "a"}
    for _ in range(depth):
        structured = {"not": structured}
    with pytest.raises(RuleError, match="at most"):
        parse_rule(structured)


def test_rules_within_the_limits_parse() -> None:
    assert parse_rule(" and ".join(['tag("a")'] * MAX_CONDITIONS))
    assert parse_rule("(" * (MAX_DEPTH - 1) + 'tag("a")' + ")" * (MAX_DEPTH - 1)) is not None


@pytest.mark.parametrize("depth", [jsonvalues.MAX_DEPTH - 1, jsonvalues.MAX_DEPTH, jsonvalues.MAX_DEPTH + 1])
def test_the_parser_and_the_walk_agree_on_depth(depth: int) -> None:
    """Text the parser accepts is never too deep for the walk (so the fast path may skip it)."""
    for inner in ("", "1", "{}"):
        text = "[" * depth + inner + "]" * depth
        try:
            value = jsonvalues.from_json(text)
        except ValueError:
            continue
        assert jsonvalues.problems(value) == [], (depth, inner)
