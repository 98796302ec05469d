"""Cross-journey simulation: chains, the loop breaker, caps and priorities across journeys, on a virtual clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.test_control_caps import TWO_SENDS
from tests.integration.test_control_loops import PING, PONG
from tidings.domain.control.crosssim import simulate_all
from tidings.domain.control.policy import SendPolicy, parse_policy
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.simulate import simulate

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_runaway_pair_stops_in_simulation_with_the_chain() -> None:
    docs = [parse_journey(PING.format(limit="")), parse_journey(PONG.format(limit=""))]
    scen = [
        {"name": "looper", "contact": {"tags": ["y"]}, "events": [{"name": "tag.added", "properties": {"tag": "y"}}]}
    ]
    [t] = simulate_all(docs, scen, SendPolicy(), start=START, horizon=timedelta(days=1))
    entered = [h.journey for h in t.happenings if h.kind == "entered"]
    assert entered == ["ping", "pong"] * 3
    [stop] = [h for h in t.happenings if h.kind == "loop_stopped"]
    assert stop.detail["chain"] == "ping -> pong -> ping -> pong -> ping -> pong -> ping"
    assert t.to_dict()["loops_stopped"] == 1


def test_caps_and_priorities_apply_across_journeys() -> None:
    policy = parse_policy(
        {
            "caps": [{"channel": "email", "max": 1, "per": "day"}, {"channel": "email", "max": 3, "per": "week"}],
            "priorities": ["promo"],
        }
    )
    docs = [parse_journey(TWO_SENDS.format(key=k, extra="  category: marketing")) for k in ("news", "promo")]
    scen = [{"name": "capped", "contact": {"timezone": "America/New_York"}, "events": [{"name": "signed_up"}]}]
    [t] = simulate_all(docs, scen, policy, start=START, horizon=timedelta(days=6, hours=18))
    assert [(h.journey, h.detail["template"]) for h in t.messages] == [
        ("promo", "promo-1"),
        ("promo", "promo-2"),
        ("news", "news-1"),
    ]
    assert t.to_dict()["messages_per_journey"] == {"promo": 2, "news": 1}
    assert any(h.kind == "capped" and h.detail["reason"] == "send_policy_cap" for h in t.happenings)
    # without a policy, all four go at once
    [free] = simulate_all(docs, scen, SendPolicy(), start=START, horizon=timedelta(days=1))
    assert len(free.messages) == 4


def test_single_journey_simulation_applies_the_policy_too() -> None:
    doc = parse_journey(TWO_SENDS.format(key="news", extra="  category: marketing"))
    policy = parse_policy({"caps": [{"channel": "email", "max": 1, "per": "day"}], "on_cap": "skip"})
    scen = [{"name": "one", "enter": {"event": {"name": "signed_up"}}}]
    capped = simulate(doc, scen, start=START, horizon=timedelta(days=2), policy=policy)
    assert [t.template for t in capped.scenarios[0].timeline] == ["news-1"]
    assert len(simulate(doc, scen, start=START, horizon=timedelta(days=2)).scenarios[0].timeline) == 2
