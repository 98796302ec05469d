"""The demo history's plan (pure): deterministic, spread over 90 days, nothing left in the past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain.demo.history import JOURNEYS, plan_history
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.model import JourneyDoc

RECIPES = Path(__file__).resolve().parents[2] / "tidings" / "recipes"
NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def docs() -> dict[str, JourneyDoc]:
    return {k: parse_journey((RECIPES / k / "journey.yaml").read_text()) for k in JOURNEYS}


def test_same_seed_same_plan(docs: dict[str, JourneyDoc]) -> None:
    a, b = plan_history(NOW, docs, size=60), plan_history(NOW, docs, size=60)
    assert a.events == b.events and a.messages == b.messages and a.contacts == b.contacts
    assert plan_history(NOW, docs, size=60, seed=1).events != a.events


def test_spread_languages_and_rates(docs: dict[str, JourneyDoc]) -> None:
    p = plan_history(NOW, docs)
    assert len(p.contacts) == 400
    assert min(c.signed_up for c in p.contacts) == NOW - timedelta(days=90)
    assert {c.locale for c in p.contacts} == {"en", "ar", "th", "uk", "zh-Hans", "lo"}
    sent = sum(1 for e in p.events if e.name == "message.sent")
    opened = len({e.message for e in p.events if e.name == "message.opened" and not e.properties.get("machine")})
    assert sent > 1000 and 0.3 < opened / sent < 0.55


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), hours=st.integers(0, 24 * 30))
def test_nothing_due_in_the_past(docs: dict[str, JourneyDoc], seed: int, hours: int) -> None:
    """Whatever the seed and the hour, the replay stops at now: every timer it leaves is in the
    future, every event is in the past, and each message's answers come after it."""
    now = NOW + timedelta(hours=hours)
    p = plan_history(now, docs, size=25, seed=seed)
    assert all(t.due_at > now for e in p.enrollments for t in e.timers)
    assert all(e.at <= now for e in p.events)
    sent_at = {m.key: m.at for m in p.messages}
    assert all(e.at >= sent_at[e.message] for e in p.events if e.message is not None)
    assert all(e.state.status == "ended" or e.timers for e in p.enrollments)
