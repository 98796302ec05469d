"""The pure control core: loop limits and chains, cycles, send policy parsing and evaluation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tidings.domain.control.loops import ChainLink, LoopLimit, cause_of_event, check, cycles, extend
from tidings.domain.control.policy import PolicyError, evaluate, parse_loop_limit, parse_policy
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.model import JourneyError, SentRecord

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday
NY = ZoneInfo("America/New_York")
UTC_Z = ZoneInfo("UTC")


def test_rounds_are_counted_per_journey_within_the_window() -> None:
    chain: tuple[ChainLink, ...] = ()
    for i, key in enumerate(["a", "b", "a", "b", "a", "b"]):
        chain = extend(chain, ChainLink(key, i, T0 + timedelta(minutes=i)), timedelta(hours=24))
        assert check(chain, LoopLimit()) is None
    stop = check(extend(chain, ChainLink("a", None, T0 + timedelta(minutes=9)), timedelta(hours=24)), LoopLimit())
    assert stop is not None and stop.rounds == 4 and stop.text == "a -> b -> a -> b -> a -> b -> a"
    # a day later the old rounds are outside the window: no stop
    late = extend(chain, ChainLink("a", None, T0 + timedelta(hours=25)), timedelta(hours=24))
    assert check(late, LoopLimit()) is None and [x.journey for x in late] == ["a"]


@pytest.mark.parametrize("bad", [0, -1, "3", True, {"rounds": 0}, {"rounds": 2, "window": "0s"}, {"turns": 2}])
def test_a_loop_limit_of_zero_negative_or_nonsense_is_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_loop_limit(bad)


def test_loop_limit_in_a_document_and_its_errors() -> None:
    base = "key: k\ntriggers: [{{tag_added: x}}]\nsettings:\n  loop_limit: {v}\nsteps: [{{id: s, type: exit}}]\n"
    doc = parse_journey(base.format(v="{rounds: 2, window: 6h}"))
    assert doc.settings.loop_limit == (2, timedelta(hours=6))
    with pytest.raises(JourneyError) as err:
        parse_journey(base.format(v="0"))
    assert err.value.details()[0]["loc"] == ["settings", "loop_limit"]
    assert "rounds must be a whole number >= 1" in err.value.details()[0]["msg"]


def test_causes_read_from_journey_raised_events() -> None:
    c = cause_of_event("tag.added", {"tag": "x", "by": {"journey": "a", "step": "s", "enrollment": 7}})
    assert (c.kind, c.value, c.parent_enrollment, c.parent_journey) == ("tag_added", "x", 7, "a")
    assert cause_of_event("tag.added", {"tag": "x"}).parent_enrollment is None  # a tag from the API: a root
    assert cause_of_event("signed_up", {"plan": "pro"}) is None
    assert cause_of_event("contact.updated", {"changed": {"plan": {}}}) is None  # not made by a journey


def test_cycles_are_found_once_each() -> None:
    assert cycles([("a", "b"), ("b", "a"), ("b", "c"), ("c", "c"), ("d", "e")]) == [["a", "b", "a"], ["c", "c"]]
    assert cycles([("a", "b"), ("b", "c"), ("c", "a")]) == [["a", "b", "c", "a"]]
    assert cycles([]) == []


POLICY = {
    "caps": [
        {"channel": "email", "max": 1, "per": "day"},
        {"channel": "email", "max": 3, "per": "week"},
        {"channel": "sms", "max": 2, "per": "48h"},
    ]
}


def sends(*items: tuple[str, datetime, str]) -> list[SentRecord]:
    return [SentRecord(ch, at, cat) for ch, at, cat in items]


def test_calendar_day_is_the_contacts_local_day() -> None:
    p = parse_policy(POLICY)
    sent = sends(("email", T0, "marketing"))  # 04:00 in New York, Monday
    v = evaluate(p, sent, T0 + timedelta(hours=10), "email", "marketing", NY)
    assert not v.allowed and v.action == "delay" and v.retry_at == datetime(2026, 3, 3, 5, 0, tzinfo=UTC)
    # in UTC the same send was "today" too, and tomorrow starts at 00:00 UTC
    assert evaluate(p, sent, T0 + timedelta(hours=10), "email", "marketing", UTC_Z).retry_at == datetime(
        2026, 3, 3, 0, 0, tzinfo=UTC
    )
    # transactional and other channels are not capped by email marketing caps
    assert evaluate(p, sent, T0 + timedelta(hours=1), "email", "transactional", NY).allowed
    assert evaluate(p, sent, T0 + timedelta(hours=1), "sms", "marketing", NY).allowed


def test_week_cap_waits_for_next_monday_and_rolling_cap_for_the_oldest_send_to_age_out() -> None:
    p = parse_policy(POLICY)
    week = sends(*(("email", T0 + timedelta(days=d), "marketing") for d in range(3)))
    v = evaluate(p, week, T0 + timedelta(days=3), "email", "marketing", UTC_Z)
    assert v.retry_at == datetime(2026, 3, 9, 0, 0, tzinfo=UTC) and v.detail["cap"]["per"] == "week"
    sms = sends(("sms", T0, "marketing"), ("sms", T0 + timedelta(hours=5), "marketing"))
    v = evaluate(p, sms, T0 + timedelta(hours=6), "sms", "marketing", UTC_Z)
    assert v.retry_at == T0 + timedelta(hours=48)


def test_skip_exempt_and_quiet_hours() -> None:
    sent = sends(("email", T0, "marketing"))
    skip = parse_policy({**POLICY, "on_cap": "skip"})
    v = evaluate(skip, sent, T0 + timedelta(hours=1), "email", "marketing", UTC_Z)
    assert (v.allowed, v.action, v.retry_at) == (False, "skip", None)
    assert evaluate(skip, sent, T0 + timedelta(hours=1), "email", "marketing", UTC_Z, exempt=True).allowed
    quiet = parse_policy({"quiet_hours": {"start": "21:00", "end": "08:00"}})
    late = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)
    v = evaluate(quiet, [], late, "email", "marketing", UTC_Z)
    assert v.retry_at == datetime(2026, 3, 3, 8, 0, tzinfo=UTC) and v.detail["reason"] == "global_quiet_hours"
    assert evaluate(quiet, [], late, "email", "transactional", UTC_Z).allowed


@pytest.mark.parametrize(
    ("raw", "path", "words"),
    [
        ({"caps": [{"channel": "email", "max": 0}]}, "caps.0.max", "can never be met"),
        ({"caps": [{"channel": "email", "max": -2, "per": "day"}]}, "caps.0.max", "can never be met"),
        ({"caps": [{"channel": "email", "max": 1, "category": "promotional"}]}, "caps.0.category", "unknown category"),
        ({"caps": [{"channel": "fax", "max": 1}]}, "caps.0.channel", "unknown channel"),
        ({"caps": [{"channel": "email", "max": 1, "per": "0s"}]}, "caps.0.per", "longer than zero"),
        ({"quiet_hours": {"start": "08:00", "end": "08:00"}}, "quiet_hours", "no slot"),
        ({"on_cap": "drop"}, "on_cap", "delay or skip"),
        ({"loop_breaker": {"rounds": 0}}, "loop_breaker", ">= 1"),
        ({"caps": "lots"}, "caps", "list"),
        ({"capz": []}, "capz", "unknown"),
        ({"notify": {"webhook": "ftp://x"}}, "notify.webhook", "http(s) URL"),
    ],
)
def test_bad_policies_are_refused_with_the_field_path(raw: dict, path: str, words: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(raw)
    assert any(p == path and words in m for p, m in err.value.problems), err.value.problems


def test_unknown_category_on_a_step_is_refused() -> None:
    step = "{id: s, type: send, channel: email, template: t, category: promo}"
    doc = "key: k\ntriggers: [{event: e}]\nsteps:\n  - " + step + "\n"
    with pytest.raises(JourneyError, match="category is marketing or transactional"):
        parse_journey(doc)
