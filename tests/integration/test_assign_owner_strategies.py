"""assign_owner strategies (services/batch.assign_owner): round robin through a team's reps
(users.team or the reps configured with `tidings tasks team`), fair, durable across worker
restarts and shared by concurrent workers; least loaded unchanged; task steps naming a team."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import sqlalchemy as sa

from tests.integration.journey_support import add_contact, add_event, drain, publish
from tidings.application.sales import tasks
from tidings.bootstrap import Container
from tidings.clock import ManualClock
from tidings.store import schema
from tidings.store.sql_uow import joined
from tidings.worker import JourneyWorker

ASSIGN = """
key: assign
triggers:
  - event: lead.created
settings:
  allow_owned: true
steps:
  - id: give
    type: assign_owner
    team: {team}
    strategy: {strategy}
"""

TASK = """
key: call
triggers:
  - event: lead.hot
settings:
  allow_owned: true
steps:
  - id: call
    type: task
    title: Call them
    team: north
"""


def _user(conn: sa.Connection, email: str, team: str, now: Any) -> None:
    conn.execute(
        sa.insert(schema.users).values(
            email=email, password_hash="x", role="marketer", team=team, created_at=now, password_changed_at=now
        )
    )


def _owners(conn: sa.Connection, ids: list[int]) -> list[str | None]:
    c = schema.contacts
    by = dict(conn.execute(sa.select(c.c.id, c.c.owner).where(c.c.id.in_(ids))).all())
    return [by[i] for i in ids]


def _leads(container: Container, clock: ManualClock, n: int, start: int = 0) -> list[int]:
    ids = []
    for i in range(start, start + n):
        with container.engine.begin() as conn:
            cid = add_contact(conn, clock.now(), f"lead{i}@example.org")
            add_event(conn, cid, "lead.created", clock.now())
        ids.append(cid)
    return ids


def test_round_robin_rotates_configured_reps_durably_across_restarts(
    container: Container, clock: ManualClock
) -> None:
    with container.engine.begin() as conn:
        teams = {"north": ["ann@shop.test", "bob@shop.test", "cat@shop.test"]}
        tasks.set_routing(joined(conn), {"teams": teams}, clock.now())
    publish(container, ASSIGN.format(team="north", strategy="round_robin"))
    first = _leads(container, clock, 4)
    drain(JourneyWorker(container))
    second = _leads(container, clock, 3, start=4)
    drain(JourneyWorker(container))  # a new worker (a restart) carries on where the last one stopped
    with container.engine.connect() as conn:
        owners = _owners(conn, first + second)
    assert owners == ["ann@shop.test", "bob@shop.test", "cat@shop.test", "ann@shop.test",
                      "bob@shop.test", "cat@shop.test", "ann@shop.test"]  # fmt: skip
    # round robin does not look at load: least loaded would have given everyone to the idle rep
    with container.engine.begin() as conn:
        for _ in range(3):
            tasks.create_task(joined(conn), contact_id=first[0], title="busy", owner="ann@shop.test", now=clock.now())
    more = _leads(container, clock, 2, start=7)
    drain(JourneyWorker(container))
    with container.engine.connect() as conn:
        assert _owners(conn, more) == ["bob@shop.test", "cat@shop.test"]


def test_round_robin_follows_team_changes_and_prefers_users(container: Container, clock: ManualClock) -> None:
    with container.engine.begin() as conn:
        tasks.set_routing(joined(conn), {"teams": {"north": ["zed@shop.test"]}}, clock.now())
        for email in ("ann@shop.test", "bob@shop.test"):
            _user(conn, email, "north", clock.now())
    publish(container, ASSIGN.format(team="north", strategy="round_robin"))
    ids = _leads(container, clock, 3)
    w = JourneyWorker(container)
    drain(w)
    with container.engine.begin() as conn:
        assert _owners(conn, ids) == ["ann@shop.test", "bob@shop.test", "ann@shop.test"]
        _user(conn, "abe@shop.test", "north", clock.now())  # joins, sorts first
    ids = _leads(container, clock, 3, start=3)
    drain(w)
    with container.engine.connect() as conn:
        # the pointer names the last rep (ann): the rotation goes on after her
        assert _owners(conn, ids) == ["bob@shop.test", "abe@shop.test", "ann@shop.test"]


def test_least_loaded_is_unchanged(container: Container, clock: ManualClock) -> None:
    with container.engine.begin() as conn:
        for email in ("ann@shop.test", "bob@shop.test"):
            _user(conn, email, "north", clock.now())
    publish(container, ASSIGN.format(team="north", strategy="least_loaded"))
    with container.engine.begin() as conn:
        other = add_contact(conn, clock.now(), "other@example.org")
        tasks.create_task(joined(conn), contact_id=other, title="busy", owner="ann@shop.test", now=clock.now())
    ids = _leads(container, clock, 3)
    drain(JourneyWorker(container))
    with container.engine.connect() as conn:
        # ann has an open task: bob first; then even (1 each): ties go to the earliest user
        assert _owners(conn, ids) == ["bob@shop.test", "ann@shop.test", "bob@shop.test"]


def test_concurrent_round_robin_is_fair_and_never_fails(container: Container, clock: ManualClock) -> None:
    with container.engine.begin() as conn:
        tasks.set_routing(joined(conn), {"teams": {"east": ["a@shop.test", "b@shop.test"]}}, clock.now())
    picks: list[str | None] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            for _ in range(10):
                with container.engine.begin() as conn:
                    pick = tasks.next_in_team(joined(conn), "east", clock.now(), purpose="owner")
                with lock:
                    picks.append(pick)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Counter(picks) == Counter({"a@shop.test": 20, "b@shop.test": 20})
    with container.engine.connect() as conn:
        value = conn.execute(
            sa.select(schema.app_state.c.value).where(schema.app_state.c.key == "owner_rr:east")
        ).scalar_one()
        assert value["n"] == 40
        # tasks keep their own pointer
        assert tasks.next_in_team(joined(conn), "east", clock.now()) == "a@shop.test"


def test_a_task_step_naming_a_team_routes_within_that_team(container: Container, clock: ManualClock) -> None:
    with container.engine.begin() as conn:
        for email in ("ann@shop.test", "bob@shop.test"):
            _user(conn, email, "north", clock.now())
        outsider = add_contact(conn, clock.now(), "o@example.org", owner="ae-jane@shop.test")
        insider = add_contact(conn, clock.now(), "i@example.org", owner="bob@shop.test")
        for cid in (outsider, insider):
            add_event(conn, cid, "lead.hot", clock.now())
    publish(container, TASK)
    drain(JourneyWorker(container))
    with container.engine.begin() as conn:
        o = schema.outbox
        rows = conn.execute(sa.select(o.c.contact_id, o.c.payload).order_by(o.c.id)).all()
        assert [(cid, p["owner"], p["team"]) for cid, p in rows] == [
            (outsider, None, "north"),  # not the contact's owner: the step names a team
            (insider, None, "north"),
        ]
        out = tasks.create_task(joined(conn), contact_id=outsider, title="Call them", team="north", now=clock.now())
        ins = tasks.create_task(joined(conn), contact_id=insider, title="Call them", team="north", now=clock.now())
    assert (out["owner"], out["assigned_by"]) == ("ann@shop.test", "round_robin")
    assert (ins["owner"], ins["assigned_by"]) == ("bob@shop.test", "contact_owner")
