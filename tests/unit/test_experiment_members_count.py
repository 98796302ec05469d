"""Counting an experiment from its members (one first exposure per contact, counted per variant in
SQL; goal events paired with that exposure) gives the arms counting every split trace gave."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain.experiments.spec import Exposure, Outcome, count, count_members, spec_from_step

T0 = datetime(2026, 5, 1, tzinfo=UTC)
SPEC = spec_from_step(
    "j",
    "offer",
    {"variants": [{"name": "A", "next": "x"}, {"name": "B", "next": "x"}],
     "experiment": {"metric": "conversion", "event": "order.completed", "window": "3d"}},
    None,
)  # fmt: skip

passes = st.lists(st.tuples(st.integers(1, 12), st.sampled_from("AB"), st.integers(0, 96)), max_size=40)
events = st.lists(
    st.tuples(st.integers(1, 14), st.sampled_from(["order.completed", "page.viewed"]), st.integers(-24, 200)),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(passes, events)
def test_members_count_as_the_traces_did(raw: list[tuple[int, str, int]], evs: list[tuple[int, str, int]]) -> None:
    assert SPEC is not None
    exposures = [Exposure(c, v, T0 + timedelta(hours=h)) for c, v, h in raw]
    outcomes = [Outcome(c, n, T0 + timedelta(hours=h), {}) for c, n, h in evs]
    first: dict[int, Exposure] = {}
    for e in exposures:  # what experiment_members keeps: the first pass of each contact
        if e.contact_id not in first or e.at < first[e.contact_id].at:
            first[e.contact_id] = e
    exposed: dict[str, int] = {}
    for e in first.values():
        exposed[e.variant] = exposed.get(e.variant, 0) + 1
    # what the join gives: events of members from their pass on
    pairs = [(first[o.contact_id], o) for o in outcomes if o.contact_id in first and o.at >= first[o.contact_id].at]
    assert count_members(SPEC, exposed, pairs, journey_id=1) == count(SPEC, exposures, outcomes, journey_id=1)
