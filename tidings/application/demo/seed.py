"""Seed the demo's past once: plan it (``domain/demo/history.py``), write it through the
``DemoHistoryStore`` port, and add its engagement to the analytics rollups and funnels the way
the worker does (``analytics/rollups.feed_rows``), in the same transaction.

Nothing it writes is queued for the worker: the journeys' past is replayed, not re-run.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from tidings.application.analytics.rollups import feed_rows
from tidings.application.ports.analytics import AnalyticsRepository
from tidings.application.ports.demo import DemoHistoryStore
from tidings.domain.demo.history import JOURNEYS, SIZE, plan_history
from tidings.domain.journeys.document import parse_journey


def seed_history(
    begin: Callable[[], AbstractContextManager[Any]],
    store: Callable[[Any], DemoHistoryStore],
    analytics: Callable[[Any], AnalyticsRepository],
    now: datetime,
    *,
    size: int = SIZE,
) -> dict[str, int] | None:
    """Write the demo history unless it is there; returns what was written, or None if it was."""
    with begin() as conn:
        repo = store(conn)
        if repo.seeded():
            return None
        found = repo.published_journeys(JOURNEYS)
        docs = {key: parse_journey(source) for key, (_, _, source) in found.items()}
        plan = plan_history(now, docs, size=size)
        ids = {key: (jid, version) for key, (jid, version, _) in found.items()}
        events = repo.write(plan, ids, now)
        rollups = analytics(conn)
        counted = feed_rows(rollups, events)
        edges: dict[tuple[str, int, int, str, str], int] = {}
        for e in plan.enrollments:
            jid, version = ids[e.journey]
            for day, src, dst in e.moves:
                k = (day, jid, version, src, dst)
                edges[k] = edges.get(k, 0) + 1
        rollups.add_edges(
            [
                {"day": d, "journey_id": j, "journey_version": v, "src": s, "dst": t, "moved": n}
                for (d, j, v, s, t), n in sorted(edges.items())
            ]
        )
    return {
        "contacts": len(plan.contacts),
        "events": len(events),
        "messages": len(plan.messages),
        "enrollments": len(plan.enrollments),
        "waiting": sum(1 for e in plan.enrollments if e.timers),
        "counted": counted,
    }
