"""domain/sales/assignment: capacity, strategies, SLA parsing, escalation exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain.sales.assignment import (
    RoutingProblem,
    TeamAssignment,
    TeamSla,
    default_due,
    due_for_escalation,
    escalation_at,
    parse_assignment,
    parse_sla,
    pick_rep,
    rotation,
)

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
REPS = st.lists(st.sampled_from([f"r{i}@shop.test" for i in range(8)]), min_size=1, max_size=6, unique=True)


def test_rotation_goes_on_after_the_last_rep_even_when_they_left() -> None:
    reps = ["a@x", "b@x", "c@x"]
    assert rotation(reps, None, 0) == ["a@x", "b@x", "c@x"]
    assert rotation(reps, "b@x", 7) == ["c@x", "a@x", "b@x"]
    assert rotation(reps, "bb@x", 0) == ["c@x", "a@x", "b@x"]  # bb left: the next in order
    assert rotation(["z@x", "a@x"], "gone@x", 3) == ["a@x", "z@x"]  # unsorted list: the counter
    assert rotation([], "a@x", 0) == []


def test_round_robin_skips_reps_at_capacity_and_nobody_when_all_are() -> None:
    policy = TeamAssignment(max_open=2, reps={"b@x": 1})
    reps = ["a@x", "b@x", "c@x"]
    assert pick_rep(reps, last="a@x", count=1, load={"b@x": 1}, policy=policy) == "c@x"
    assert pick_rep(reps, last="a@x", count=1, load={"b@x": 0}, policy=policy) == "b@x"
    full = {"a@x": 2, "b@x": 1, "c@x": 5}
    assert pick_rep(reps, last=None, count=0, load=full, policy=policy) is None
    assert pick_rep([], last=None, count=0, load={}, policy=policy) is None
    assert pick_rep(reps, last=None, count=0, load=full, policy=TeamAssignment()) == "a@x"  # no limit


def test_least_loaded_takes_the_emptiest_rep_with_room_ties_in_rotation_order() -> None:
    policy = TeamAssignment(strategy="least_loaded", max_open=3)
    reps = ["a@x", "b@x", "c@x"]
    assert pick_rep(reps, last=None, count=0, load={"a@x": 2, "b@x": 1, "c@x": 1}, policy=policy) == "b@x"
    assert pick_rep(reps, last="b@x", count=0, load={"a@x": 2, "b@x": 1, "c@x": 1}, policy=policy) == "c@x"
    assert pick_rep(reps, last=None, count=0, load={"a@x": 0, "b@x": 3, "c@x": 3}, policy=policy) == "a@x"


@settings(max_examples=200, deadline=None)
@given(
    reps=REPS,
    loads=st.lists(st.integers(0, 6), min_size=8, max_size=8),
    max_open=st.none() | st.integers(0, 5),
    strategy=st.sampled_from(["round_robin", "least_loaded"]),
    n=st.integers(1, 30),
)
def test_never_over_capacity_and_someone_whenever_someone_has_room(
    reps: list[str], loads: list[int], max_open: int | None, strategy: Any, n: int
) -> None:
    policy = TeamAssignment(strategy=strategy, max_open=max_open)
    load = {r: loads[i] for i, r in enumerate(reps)}
    last: str | None = None
    for count in range(n):
        pick = pick_rep(reps, last=last, count=count, load=load, policy=policy)
        room = [r for r in reps if max_open is None or load[r] < max_open]
        if pick is None:
            assert room == []
            break
        assert pick in room
        if strategy == "least_loaded":
            assert load[pick] == min(load[r] for r in room)
        load[pick] += 1
        last = pick
    assert all(max_open is None or load[r] <= max(max_open, loads[i]) for i, r in enumerate(reps))


@settings(max_examples=200, deadline=None)
@given(reps=REPS, full=st.sets(st.integers(0, 5)), rounds=st.integers(1, 5))
def test_round_robin_is_fair_among_the_available_reps(reps: list[str], full: set[int], rounds: int) -> None:
    """Without limits on them, the reps with room get the same number of tasks, to one."""
    at_cap = {r for i, r in enumerate(reps) if i in full}
    policy = TeamAssignment(reps=dict.fromkeys(at_cap, 0))
    available = [r for r in reps if r not in at_cap]
    got: Counter[str] = Counter()
    last: str | None = None
    for count in range(rounds * max(len(available), 1) + 1):
        pick = pick_rep(reps, last=last, count=count, load={}, policy=policy)
        if not available:
            assert pick is None
            return
        assert pick is not None and pick not in at_cap
        got[pick] += 1
        last = pick
    assert max(got[r] for r in available) - min(got[r] for r in available) <= 1


def test_parse_assignment_and_sla_with_field_paths() -> None:
    a = parse_assignment("north", {"strategy": "least_loaded", "max_open": 5, "reps": {"ann@x": 2}})
    assert (a.strategy, a.capacity("ann@x"), a.capacity("bob@x")) == ("least_loaded", 2, 5)
    s = parse_sla("north", {"due_in": "5m", "escalate_after": "1h30m", "escalate_to": "lead@x"})
    assert s == TeamSla(timedelta(minutes=5), timedelta(minutes=90), "lead@x", False)
    bad: list[tuple[Any, Any, str]] = [
        (parse_assignment, {"strategy": "random"}, "assignment.north.strategy"),
        (parse_assignment, {"max_open": -1}, "assignment.north.max_open"),
        (parse_assignment, {"max_open": True}, "assignment.north.max_open"),
        (parse_assignment, {"reps": {"ann": 1}}, "assignment.north.reps.ann"),
        (parse_assignment, {"reps": {"ann@x": None}}, "assignment.north.reps.ann@x"),
        (parse_assignment, {"capacity": 3}, "assignment.north.capacity"),
        (parse_assignment, [], "assignment.north"),
        (parse_sla, {"due_in": "soon"}, "sla.north.due_in"),
        (parse_sla, {"due_in": "-5m"}, "sla.north.due_in"),
        (parse_sla, {"escalate_after": "400d"}, "sla.north.escalate_after"),
        (parse_sla, {"escalate_after": "10m", "escalate_to": "lead"}, "sla.north.escalate_to"),
        (parse_sla, {"escalate_to": "lead@x"}, "sla.north.escalate_after"),
        (parse_sla, {"escalate_after": "10m", "reassign": True}, "sla.north.escalate_to"),
        (parse_sla, {"escalate_after": "10m", "reassign": "yes"}, "sla.north.reassign"),
        (parse_sla, {"due": "5m"}, "sla.north.due"),
    ]
    for parse, value, field in bad:
        with pytest.raises(RoutingProblem) as err:
            parse("north", value)
        assert err.value.field == field, (value, err.value.field)


def test_sla_due_time_and_escalation_time() -> None:
    sla = TeamSla(due_in=timedelta(minutes=5), escalate_after=timedelta(minutes=10))
    assert default_due(T0, sla) == T0 + timedelta(minutes=5)
    assert default_due(T0, None) is None and default_due(T0, TeamSla()) is None
    task = {"id": 1, "status": "open", "due_at": T0, "escalated_at": None, "team": "north"}
    assert escalation_at(task, sla) == T0 + timedelta(minutes=10)
    assert escalation_at(task | {"status": "done"}, sla) is None
    assert escalation_at(task | {"due_at": None}, sla) is None
    assert escalation_at(task | {"escalated_at": T0}, sla) is None
    assert escalation_at(task, TeamSla(due_in=timedelta(minutes=5))) is None
    assert due_for_escalation([task], {"north": sla}, T0 + timedelta(minutes=9)) == []
    assert due_for_escalation([task], {"north": sla}, T0 + timedelta(minutes=10)) == [1]
    assert due_for_escalation([task | {"team": "south"}], {"north": sla}, T0 + timedelta(days=1)) == []


@settings(max_examples=200, deadline=None)
@given(
    dues=st.lists(st.none() | st.integers(-30, 60), min_size=1, max_size=10),
    done=st.sets(st.integers(0, 9)),
    ticks=st.lists(st.integers(0, 20), min_size=1, max_size=12),
)
def test_each_task_is_escalated_exactly_once_when_overdue_past_the_delay(
    dues: list[int | None], done: set[int], ticks: list[int]
) -> None:
    """Passes at increasing times, each marking what it escalated: at most once per task, and
    every open task past due + delay by the last pass is escalated."""
    sla = TeamSla(escalate_after=timedelta(minutes=10))
    tasks = [
        {"id": i, "team": "north", "status": "done" if i in done else "open", "escalated_at": None,
         "due_at": T0 + timedelta(minutes=d) if d is not None else None}
        for i, d in enumerate(dues)
    ]
    escalated: Counter[int] = Counter()
    now = T0
    for tick in ticks:
        now += timedelta(minutes=tick)
        for task_id in due_for_escalation(tasks, {"north": sla}, now):
            escalated[task_id] += 1
            tasks[task_id]["escalated_at"] = now
    assert all(n == 1 for n in escalated.values())
    for t in tasks:
        overdue = t["status"] == "open" and t["due_at"] is not None and t["due_at"] + sla.escalate_after <= now
        assert (t["id"] in escalated) == overdue


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
KEYS = st.sampled_from(["due_in", "escalate_after", "escalate_to", "reassign", "strategy", "max_open", "reps"])


@settings(max_examples=300, deadline=None)
@given(value=JSON | st.dictionaries(KEYS, JSON, max_size=4))
def test_any_json_is_parsed_or_refused_with_a_field_path(value: Any) -> None:
    for parse in (parse_assignment, parse_sla):
        try:
            parse("north", value)
        except RoutingProblem as exc:
            assert exc.field.startswith(("assignment.north", "sla.north"))
