"""The journey builder's JSON form: document -> builder form -> document is the identity, for
every shipped recipe and for generated documents; the YAML it writes reads back equal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain.journeys.builder import builder_yaml, from_builder, to_builder
from tidings.domain.journeys.document import build_journey, parse_journey
from tidings.domain.journeys.model import JourneyError
from tidings.domain.journeys.yamlines import dump, load, plain

RECIPES = sorted((Path(__file__).parents[2] / "tidings" / "recipes").glob("*/journey.yaml"))


def _through_browser(form: dict) -> dict:
    return json.loads(json.dumps(form))  # what the page posts back is JSON


@pytest.mark.parametrize("path", RECIPES, ids=[p.parent.name for p in RECIPES])
def test_every_recipe_round_trips(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    data = plain(load(text))
    form = _through_browser(to_builder(load(text)))
    back = from_builder(form)
    assert back == data
    assert list(back) == list(data)  # the keys keep their order
    assert plain(load(builder_yaml(form))) == data
    assert parse_journey(builder_yaml(form)).raw == parse_journey(text).raw


def test_layout_is_kept_and_positions_of_deleted_steps_go() -> None:
    text = RECIPES[0].read_text(encoding="utf-8")
    form = to_builder(load(text))
    first = form["steps"][0]["id"]
    form["layout"] = {first: [10, 20.5], "gone": [1, 2]}
    doc = parse_journey(builder_yaml(form))
    assert doc.raw["layout"] == {first: [10, 20.5]}
    assert to_builder(load(builder_yaml(form)))["layout"] == {first: [10, 20.5]}


def test_bad_layout_and_bad_forms_are_refused() -> None:
    text = RECIPES[0].read_text(encoding="utf-8")
    with pytest.raises(JourneyError, match=r"layout position is \[x, y\]"):
        parse_journey(text + "layout: {x: [1]}\n")
    for bad in (None, [], {"journey": {}, "steps": {}}, {"journey": {"steps": []}, "steps": []}):
        with pytest.raises(JourneyError):
            from_builder(bad)


scalars = st.one_of(
    st.text(alphabet="ab09:.-+eE \"'#yTrufalsenNo~\n\x85\u2028\t,[]{}&*!|>%@`?", max_size=6),
    st.text(max_size=5),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.none(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(alphabet="abc_09", min_size=1, max_size=4), inner, max_size=3),
    ),
    max_leaves=8,
)
step_ids = st.text(alphabet="abcxyz0129-_", min_size=1, max_size=6).filter(lambda s: s[0].isalnum() and s != "end")


@st.composite
def documents(draw: st.DrawFn) -> dict:
    ids = draw(st.lists(step_ids, min_size=1, max_size=5, unique=True))
    steps = []
    for i, sid in enumerate(ids):
        kind = draw(st.sampled_from(["send", "wait", "update_contact", "exit", "webhook"]))
        step: dict = {"id": sid, "type": kind}
        if kind == "send":
            step |= {"channel": "email", "template": draw(st.sampled_from(["welcome", "09", "yes"]))}
            if draw(st.booleans()):
                step["data"] = draw(
                    st.dictionaries(st.text(alphabet="abc", min_size=1, max_size=3), values, max_size=3)
                )
        elif kind == "wait":
            step["duration"] = draw(st.sampled_from(["1d", "2h", "30m", 3600]))
        elif kind == "update_contact":
            step["set"] = draw(
                st.dictionaries(st.text(alphabet="xyz", min_size=1, max_size=3), values, min_size=1, max_size=2)
            )
        elif kind == "webhook":
            step |= {"url": "https://example.com/h", "body": draw(values)}
        if kind != "exit" and draw(st.booleans()):
            step["next"] = draw(st.sampled_from([*ids, "end"]))
        if draw(st.booleans()):
            step["note"] = draw(st.text(max_size=8))
        steps.append(step)
    doc: dict = {"key": "generated", "name": draw(st.text(alphabet="Ab é:#", min_size=1, max_size=8))}
    doc["triggers"] = [{"event": draw(st.sampled_from(["signed_up", "order.completed"]))}]
    parts = [("steps", steps)]
    if draw(st.booleans()):
        parts.append(("settings", {"reentry": draw(st.sampled_from(["never", "after_exit", {"after_days": 3}]))}))
    if draw(st.booleans()):
        parts.append(("layout", {sid: [draw(st.integers(0, 900)), draw(st.integers(0, 900))] for sid in ids}))
    if draw(st.booleans()):
        parts.append(("description", draw(st.text(max_size=10))))
    for k, v in draw(st.permutations(parts)):
        doc[k] = v
    return doc


@settings(max_examples=80, deadline=None)
@given(documents())
def test_generated_documents_round_trip(doc: dict) -> None:
    form = _through_browser(to_builder(doc))
    back = from_builder(form)
    assert back == doc and list(back) == list(doc)
    text = builder_yaml(form)
    assert load(text) == doc
    try:
        parsed = build_journey(load(text))
    except JourneyError:
        return  # a generated graph may be invalid (unreachable steps): the data still round-trips
    assert parsed.raw == doc


@settings(max_examples=150, deadline=None)
@given(values)
def test_dump_reads_back_equal(value: object) -> None:
    assert load(dump({"v": value})) == {"v": value}
