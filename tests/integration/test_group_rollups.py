"""The control group recorded at entry and the experiments' members: the worker writes them in its
batch transaction, the reports read their rollups, and the answers equal the computation they
replace (every entrant hashed into its group; exposures read from split traces), on a worker run
and after ``tidings analytics backfill`` rebuilt them from enrolments and traces."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tests.integration.journey_support import add_contact, add_event, drain, publish
from tests.integration.test_experiments_live import run_promo
from tests.journey_docs import send_then_wait
from tidings.application.analytics import rollups
from tidings.application.analytics.economics import _incremental, incremental_by_entrant
from tidings.application.analytics.experiments import show_experiment
from tidings.application.analytics.reports import Range, control_group, control_group_by_entrant
from tidings.bootstrap import Container
from tidings.clock import ManualClock
from tidings.domain.analytics.holdout import in_control_group
from tidings.store import analytics_groups as groups
from tidings.store import schema
from tidings.store.analytics import SqlAnalytics
from tidings.store.measurement import SqlAnalyticsStore
from tidings.worker import JourneyWorker

GOAL = "  goal: {event: order.completed, revenue: total}\n"
DOC = send_then_wait("held", "signed.up", "5d", wait_id="linger", settings="  control_group: 30\n" + GOAL)


def _held_run(container: Container, clock: ManualClock, n: int = 60) -> list[int]:
    publish(container, DOC)
    w = JourneyWorker(container)
    with container.engine.begin() as conn:
        people = [add_contact(conn, clock.now(), f"g{i}@example.org") for i in range(n)]
        for cid in people:
            add_event(conn, cid, "signed.up", clock.now())
    drain(w)
    clock.advance(timedelta(days=1))
    with container.engine.begin() as conn:
        for k, cid in enumerate(people[: n // 2]):
            add_event(conn, cid, "order.completed", clock.now(), total=5 + 7 * (k % 4))
    drain(w)
    return people


def _both(container: Container, clock: ManualClock) -> tuple[dict[str, Any], dict[str, Any]]:
    """(rollups, reference) for the lift report and the incremental revenue."""
    with container.engine.connect() as conn:
        repo, store = SqlAnalytics(conn), SqlAnalyticsStore(conn)
        j = dict(repo.journey("held") or {})
        jid, now = int(j["id"]), clock.now()
        new = {"lift": control_group(repo, j, Range()), **_incremental(store.holdout_sums(jid, None, now))}
        old = {
            "lift": control_group_by_entrant(repo, j, Range()),
            **incremental_by_entrant(store.holdout_revenue(jid, None, now)),
        }
    return new, old


def test_groups_recorded_at_entry_answer_as_hashing_every_entrant(container: Container, clock: ManualClock) -> None:
    people = _held_run(container, clock)
    with container.engine.connect() as conn:
        n = schema.journey_entrants
        rows = {int(c): bool(h) for c, h in conn.execute(sa.select(n.c.contact_id, n.c.held_out))}
    assert rows == {cid: in_control_group("held", cid, 30) for cid in people}
    assert 0 < sum(rows.values()) < len(people)
    new, old = _both(container, clock)
    assert new == old
    assert new["lift"]["treated_contacts"] + new["lift"]["control_contacts"] == len(people)
    assert new["lift"]["treated_converted"] + new["lift"]["control_converted"] == len(people) // 2
    assert new["incremental"]["interval"] is not None
    # a range of days: the entry day alone has the entrants and no conversion (they came a day later)
    with container.engine.connect() as conn:
        repo = SqlAnalytics(conn)
        j = dict(repo.journey("held") or {})
        today = (clock.now() - timedelta(days=1)).date()
        first_day = control_group(repo, j, Range(today, today))
        assert first_day == control_group_by_entrant(repo, j, Range(today, today))
    assert first_day["treated_converted"] == first_day["control_converted"] == 0


def test_backfill_rebuilds_groups_and_members_from_enrolments_and_traces(
    container: Container, clock: ManualClock
) -> None:
    _held_run(container, clock, n=30)
    run_promo(container, clock, n=40)
    drain(JourneyWorker(container))
    before, _ = _both(container, clock)
    with container.engine.connect() as conn:
        experiment = show_experiment(SqlAnalyticsStore(conn), "promo.offer", clock.now())
    with container.engine.begin() as conn:  # as a database upgraded from 0017 has them: empty
        groups.reset(conn)
    emptied, _ = _both(container, clock)
    assert emptied["lift"]["treated_contacts"] == 0
    result = rollups.backfill(container.engine.begin, SqlAnalytics, chunk=7)
    assert result["enrolments"] >= 70 and result["split_traces"] >= 40
    after, old = _both(container, clock)
    assert after == before == old
    with container.engine.connect() as conn:
        again = show_experiment(SqlAnalyticsStore(conn), "promo.offer", clock.now())
    assert again == experiment


def test_experiment_members_match_the_split_traces(container: Container, clock: ManualClock) -> None:
    arms = run_promo(container, clock, n=60)
    drain(JourneyWorker(container))
    with container.engine.connect() as conn:
        store = SqlAnalyticsStore(conn)
        jid = next(h.id for h in store.journey_heads() if h.key == "promo")
        members = sorted(store.exposures(jid, "offer"), key=lambda e: e.contact_id)
        traces = sorted(store.exposures_from_traces(jid, "offer"), key=lambda e: e.contact_id)
        report = show_experiment(store, "promo.offer", clock.now())
    assert members == traces and len(members) == len(arms) == 60
    assert report["exposed"] == {v: sum(1 for a in arms.values() if a == v) for v in ("A", "B")}
    assert report["converted"]["B"] == report["exposed"]["B"] and report["converted"]["A"] == 0


def test_conversions_onto_entrants_count_each_entrant_once_and_square_its_total(container: Container) -> None:
    at = datetime(2026, 3, 1, 9, tzinfo=UTC)
    with container.engine.begin() as conn:
        groups.add_entrants(
            conn,
            [
                {"journey_id": 7, "contact_id": 1, "journey_version": 1, "held_out": False, "entered_at": at},
                {"journey_id": 7, "contact_id": 2, "journey_version": 1, "held_out": True, "entered_at": at},
                {"journey_id": 7, "contact_id": 1, "journey_version": 2, "held_out": True, "entered_at": at},
            ],
        )
        # a re-entry later is not a new entrant
        assert (
            groups.add_entrants(
                conn, [{"journey_id": 7, "contact_id": 2, "journey_version": 2, "held_out": False, "entered_at": at}]
            )
            == 0
        )
        later = at + timedelta(days=2)
        counted = groups.credit_conversions(
            conn,
            [
                {"journey_id": 7, "contact_id": 1, "occurred_at": later, "value": 10.0},
                {"journey_id": 7, "contact_id": 1, "occurred_at": later + timedelta(days=1), "value": 5.0},
                {"journey_id": 7, "contact_id": 2, "occurred_at": later, "value": None},
                {"journey_id": 7, "contact_id": 99, "occurred_at": later, "value": 3.0},  # never entered
            ],
        )
        assert counted == 3
        g = groups.group_sums(conn, 7, None, None)
        first_day = groups.group_sums(conn, 7, date(2026, 3, 1), date(2026, 3, 1))
    assert g[False] == {"entrants": 1, "converted": 1, "revenue": 15.0, "revenue_sq": 225.0}
    assert g[True] == {"entrants": 1, "converted": 1, "revenue": 0.0, "revenue_sq": 0.0}
    assert first_day[False]["entrants"] == 1 and first_day[False]["converted"] == 0
