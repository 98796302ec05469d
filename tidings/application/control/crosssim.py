"""``tidings simulate --all-published``: the published journeys together under the stored send policy."""

from __future__ import annotations

from typing import Any

from tidings.application.control import mapcheck, policies
from tidings.application.ports.control import ControlRepository
from tidings.domain.control.crosssim import simulate_all
from tidings.domain.journeys.simulate import load_scenarios


def simulate_published(repo: ControlRepository, data: Any) -> dict[str, Any]:
    """Run the scenario population (``load_scenarios`` format) through every active journey."""
    scenarios, start, horizon = load_scenarios(data)
    docs = mapcheck.parse_sources(repo.published_sources(active_only=True))
    policy = policies.load(repo)
    timelines = simulate_all(docs, scenarios, policy, start=start, horizon=horizon)
    return {
        "journeys": [d.key for d in docs],
        "policy": policy.to_dict(),
        "start": start.isoformat(),
        "horizon_seconds": int(horizon.total_seconds()),
        "contacts": [t.to_dict() for t in timelines],
    }
