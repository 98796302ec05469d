"""The pure scoring core: documents refused with line and rule id, and the score arithmetic."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain.scoring.model import ScoringError, parse_scoring_model
from tidings.domain.scoring.score import (
    ScoreState,
    apply_event,
    behaviour_anchor,
    behaviour_points,
    decayed_from,
    explain,
    move_stage,
    stage_bands,
)
from tidings.domain.snapshot import ContactSnapshot, EventRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)

DOC = """\
key: b2b
name: B2B leads
behaviour:
  - id: pricing
    label: pricing page views
    event: Page Viewed
    where: properties.path == "/pricing"
    points: 5
    cap: {points: 15, per: 7d}
  - id: demo
    event: demo.requested
    points: 30
  - id: unsub
    event: message.unsubscribed
    points: -10
profile:
  - id: size
    label: company size
    when: attributes.company_size >= 50
    points: 20
  - id: competitor
    when: email contains "@rival.example"
    points: -50
decay: {half_life: 30d}
thresholds:
  - {stage: mql, at: 50}
  - {stage: sql, at: 80, demote_below: 60}
writes_contact: true
"""


def ev(name: str, at: datetime, **props: object) -> EventRecord:
    return EventRecord(name=name, occurred_at=at, properties=props)


def test_document_parses_with_spec_names_canonical() -> None:
    m = parse_scoring_model(DOC)
    assert [r.id for r in m.behaviour] == ["pricing", "demo", "unsub"]
    assert m.behaviour[0].cap_points == 15 and m.behaviour[0].cap_period == timedelta(days=7)
    assert m.stages == ("lead", "mql", "sql") and m.thresholds[1].demote_below == 60
    assert m.writes_contact


@pytest.mark.parametrize(
    ("text", "needle", "line", "rule"),
    [
        ("key: x\nbehaviour:\n  - id: a\n    event: e\n    points: 0\n", "must not be 0", 5, "a"),
        ("key: x\nbehaviour:\n  - id: a\n    points: 3\n", "event is required", 3, "a"),
        ("key: x\nbehaviour:\n  - id: a\n    event: e\n    points: 1\n    cap: {points: 5}\n", "cap is", 6, "a"),
        ("key: x\nprofile:\n  - id: p\n    when: attributes.x >>> 3\n    points: 2\n", "when does not parse", 4, "p"),
        (
            "key: x\nbehaviour:\n  - {id: a, event: e, points: 1}\n  - {id: a, event: f, points: 1}\n",
            "duplicate rule id",
            4,
            "a",
        ),
        (
            "key: x\nbehaviour:\n  - {event: e, points: 1}\nthresholds:\n  - {stage: vip, at: 3}\n",
            "stage must be one of",
            5,
            None,
        ),
        (
            "key: x\nbehaviour:\n  - {event: e, points: 1}\nthresholds:\n  - {stage: mql, at: 50}\n"
            "  - {stage: sql, at: 40}\n",
            "must be above",
            4,
            None,
        ),
        ("key: x\nbehaviour:\n  - {event: e, points: 1}\ndecay: {half_life: 0d}\n", "positive", 4, None),
        ("key: x\nbogus: 1\nbehaviour:\n  - {event: e, points: 1}\n", "unknown field 'bogus'", 2, None),
        ("key: x\n", "at least one", 1, None),
    ],
)
def test_bad_documents_say_what_and_where(text: str, needle: str, line: int, rule: str | None) -> None:
    with pytest.raises(ScoringError) as exc:
        parse_scoring_model(text)
    hits = [p for p in exc.value.problems if needle in p.message]
    assert hits, exc.value.problems
    assert hits[0].line == line
    assert hits[0].step_id == rule


def test_explanation_sums_parts_and_decay() -> None:
    m = parse_scoring_model(DOC)
    s = ScoreState()
    for i in range(5):  # five pricing views in a day: capped at 15
        s, _ = apply_event(m, s, ev("Page Viewed", T0 + timedelta(hours=i), path="/pricing"), T0)
    s, _ = apply_event(m, s, ev("demo.requested", T0 + timedelta(hours=6)), T0)
    s, _ = apply_event(m, s, ev("Page Viewed", T0 + timedelta(hours=7), path="/blog"), T0)  # no match
    contact = ContactSnapshot(id=1, email="a@b.example", attributes={"company_size": 120})
    now = T0 + timedelta(hours=6)
    e = explain(m, s, contact, now)
    assert {p.rule_id: p.points for p in e.parts} == {"pricing": 15, "demo": 30, "size": 20}
    assert e.score == pytest.approx(65 + e.decay, abs=0.01)
    assert -0.2 < e.decay < 0  # a few hours of a 30-day half-life
    later = explain(m, s, contact, T0 + timedelta(days=30, hours=6))
    assert later.score == pytest.approx(20 + 45 / 2, abs=0.2)  # behaviour halved, profile kept
    assert later.sentence().startswith(f"{later.score:g} = +30 demo.requested, +20 company size, +15 pricing")
    assert "decay" in later.sentence()


def test_cap_is_per_period_and_refills() -> None:
    m = parse_scoring_model(DOC)
    s = ScoreState()
    given_points = []
    for day in (0, 1, 2, 3, 8, 9):
        s, awards = apply_event(m, s, ev("Page Viewed", T0 + timedelta(days=day), path="/pricing"), T0)
        given_points.append(awards[0].points)
    assert given_points == [5, 5, 5, 0, 5, 5]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 60 * 24 * 40), st.sampled_from(["demo.requested", "message.unsubscribed"])),
        min_size=1,
        max_size=25,
    ),
    st.randoms(),
)
def test_half_life_total_is_order_free_and_exact(items: list[tuple[int, str]], rnd: object) -> None:
    m = parse_scoring_model(DOC)
    events = [ev(name, T0 + timedelta(minutes=mins)) for mins, name in items]
    shuffled = list(events)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    now = T0 + timedelta(days=45)
    totals = []
    for seq in (events, shuffled):
        s = ScoreState()
        for e in seq:
            s, _ = apply_event(m, s, e, now)
        totals.append(behaviour_points(m, s, now)[0])
    pts = {"demo.requested": 30.0, "message.unsubscribed": -10.0}
    expected = sum(pts[e.name] * math.pow(0.5, (now - e.occurred_at) / timedelta(days=30)) for e in events)
    assert totals[0] == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert totals[1] == pytest.approx(expected, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 60 * 24 * 30), min_size=1, max_size=40))
def test_cap_never_exceeded_in_any_window(minutes: list[int]) -> None:
    m = parse_scoring_model(DOC)
    s = ScoreState()
    awarded: list[tuple[datetime, float]] = []
    for mins in sorted(minutes):
        at = T0 + timedelta(minutes=mins)
        s, awards = apply_event(m, s, ev("Page Viewed", at, path="/pricing"), at)
        awarded += [(a.at, a.points) for a in awards if a.points]
    for start, _ in awarded:
        window = sum(p for a, p in awarded if start <= a < start + timedelta(days=7))
        assert window <= 15


LINEAR = "key: l\nbehaviour:\n  - {id: v, event: visit, points: 10}\ndecay: {points: 4, per: 7d, after: 7d}\n"


def test_linear_decay_counts_inactive_periods_and_stops_at_zero() -> None:
    m = parse_scoring_model(LINEAR)
    s, _ = apply_event(m, ScoreState(), ev("visit", T0), T0)
    s, _ = apply_event(m, s, ev("visit", T0 + timedelta(days=1)), T0)
    day = T0 + timedelta(days=1)
    assert behaviour_points(m, s, day + timedelta(days=13))[0] == 20  # 13 days idle: 6 past the grace
    assert behaviour_points(m, s, day + timedelta(days=14))[0] == 16
    assert behaviour_points(m, s, day + timedelta(days=28))[0] == 8
    assert behaviour_points(m, s, day + timedelta(days=400))[0] == 0
    s, _ = apply_event(m, s, ev("visit", day + timedelta(days=28)), T0)  # activity banks the decayed level
    assert behaviour_points(m, s, day + timedelta(days=28))[0] == 18


def test_stages_move_up_never_down_unless_a_rule_says() -> None:
    m = parse_scoring_model(DOC)
    assert move_stage(m, None, 10) == (None, [])
    stage, crossed = move_stage(m, "lead", 85)
    assert stage == "sql" and [(c.stage, c.previous) for c in crossed] == [("mql", "lead"), ("sql", "mql")]
    assert move_stage(m, "mql", 10) == ("mql", [])  # no demote rule on mql
    stage, crossed = move_stage(m, "sql", 59)
    assert stage == "mql" and crossed[0].direction == "down"
    assert move_stage(m, "sql", 61) == ("sql", [])
    assert move_stage(m, "customer", 99) == ("customer", [])  # a stage the model does not own


def test_state_round_trips_through_json() -> None:
    m = parse_scoring_model(DOC)
    s = ScoreState(stage="mql")
    for i in range(3):
        s, _ = apply_event(m, s, ev("Page Viewed", T0 + timedelta(hours=i), path="/pricing"), T0)
    assert ScoreState.from_dict(s.to_dict()) == s


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 60 * 24 * 40), st.sampled_from(["demo.requested", "message.unsubscribed"])),
        max_size=20,
    ),
    st.sampled_from([DOC, LINEAR.replace("visit", "demo.requested"), DOC.replace("decay: {half_life: 30d}\n", "")]),
    st.integers(0, 60 * 24 * 90),
)
def test_the_anchor_alone_gives_the_decayed_points_later(items: list[tuple[int, str]], doc: str, later: int) -> None:
    """What the decay pass reads (one number and a time) equals the full state's arithmetic."""
    m = parse_scoring_model(doc)
    s = ScoreState()
    for mins, name in sorted(items):
        s, _ = apply_event(m, s, ev(name, T0 + timedelta(minutes=mins)), T0)
    value, at = behaviour_anchor(m, s)
    now = T0 + timedelta(days=40, minutes=later)
    assert decayed_from(m, value, at, now) == pytest.approx(behaviour_points(m, s, now)[0], rel=1e-9, abs=1e-9)


@settings(max_examples=80, deadline=None)
@given(st.sampled_from([None, "lead", "mql", "sql"]), st.floats(-100, 200, allow_nan=False))
def test_a_score_inside_its_band_never_moves_stage(stage: str | None, score: float) -> None:
    """The decay pass reads only scores outside their band: inside, move_stage must keep the stage."""
    m = parse_scoring_model(DOC)
    bands = {s: (lo, hi) for s, lo, hi in stage_bands(m)}
    lo, hi = bands[stage]
    inside = (lo is None or score >= lo) and (hi is None or score < hi)
    moved = move_stage(m, stage, score)[0] != stage
    assert moved == (not inside)
