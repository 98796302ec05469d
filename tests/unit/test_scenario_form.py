"""The scenario builder's pure core: typed values from text boxes, empty rows skipped, problems
named by the input they come from."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.scenario_form import EventRow, ScenarioForm, initial_form, scalar, to_scenario

DOC = parse_journey(
    "key: k\ntriggers:\n  - event: signed.up\nsteps:\n  - id: hello\n    type: send\n    channel: email\n"
    "    template: welcome\n"
)


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_integers_read_back(n: int) -> None:
    assert scalar(str(n)) == n and scalar(f'"{n}"') == str(n)


@given(st.text(alphabet=st.characters(categories=["L"]), min_size=1, max_size=20))
def test_words_stay_text(word: str) -> None:
    if word not in ("true", "false"):
        assert scalar(word) == word


def test_scalars() -> None:
    assert scalar("true") is True and scalar("false") is False and scalar("2.5") == 2.5
    assert scalar("nan") == "nan" and scalar("1e999") == "1e999"  # no non-finite numbers
    assert scalar(' "x" ') == "x" and scalar("") == ""
    assert scalar(str(2**63)) == str(2**63)  # beyond 64 bits: kept as typed, not rounded


def test_the_initial_form_follows_the_journey() -> None:
    form = initial_form(DOC)
    assert form.enter == "events" and [m.step for m in form.messages] == ["hello"]
    assert form.events[0].name == "signed.up" and form.events[-1].name == ""  # then an empty row
    tagged = parse_journey(
        "key: t\ntriggers:\n  - tag_added: vip\nsteps:\n  - id: n\n    type: wait\n    duration: 1d\n"
    )
    assert initial_form(tagged).enter == "manual" and initial_form(tagged).messages == []


def test_empty_rows_are_skipped_and_half_rows_named() -> None:
    form = ScenarioForm(
        email="a@b.test",
        attrs=[("", ""), ("", "orphan")],
        events=[EventRow(0, "x", "1h"), EventRow(5, "", "", [("", "")]), EventRow(7, "", "2d")],
    )
    scenario, problems = to_scenario(form)
    assert scenario["events"] == [{"name": "x", "at": "1h"}, {"name": "", "at": "2d"}]
    assert {p.field for p in problems} == {"attr-key-1", "ev-7-name"}
    form = ScenarioForm(enter="events")
    assert [p.field for p in to_scenario(form)[1]] == ["ev-0-name"]  # entering by events needs one
