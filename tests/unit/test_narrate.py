"""The trace as sentences: one phrase per trace kind, placeholders filled from the detail,
times and money kept typed for the viewer's locale, zone and the event's currency."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidings.domain.journeys.narrate import Amount, Moment, narrate, phrase

AT = "2026-12-07T14:02:00+00:00"
ENTRY = {
    "action": "entered",
    "step": None,
    "version": 3,
    "detail": {"trigger": 0, "event": {"name": "Cart Abandoned", "at": AT, "properties": {"currency": "eur"}}},
}

CASES = [
    (
        ENTRY,
        "Entered %(journey)s v%(version)s because %(event)s happened at %(when)s",
        {"journey": "Abandoned cart", "version": 3, "event": "Cart Abandoned", "when": Moment(AT)},
    ),
    ({"action": "entered", "version": 1, "detail": {"trigger": 1}}, "Entered %(journey)s v%(version)s", None),
    (
        {"action": "wait", "step": "nap", "detail": {"kind": "duration", "duration": "1h", "until": AT}},
        "Waits %(duration)s, until %(until)s",
        None,
    ),
    (
        {"action": "wait", "step": "w", "detail": {"kind": "event", "event": "order.placed", "until": AT}},
        "Waits for %(event)s, until %(until)s",
        None,
    ),
    (
        {"action": "wait", "step": "b", "detail": {"kind": "behaviour", "behaviour": "clicked", "until": AT}},
        "Waits to see whether the contact does %(behaviour)s, until %(until)s",
        None,
    ),
    (
        {"action": "wait", "step": "c", "detail": {"kind": "cap", "until": AT}},
        "Held by a send cap or quiet hours, until %(until)s",
        None,
    ),
    (
        {"action": "resume", "step": "nap", "detail": {"edge": "next", "next": "r1"}},
        "The wait was over: moved on to %(next)s",
        None,
    ),
    (
        {"action": "resume", "step": "w", "detail": {"edge": "timeout", "next": "x"}},
        "Waited long enough: moved on to %(next)s",
        None,
    ),
    (
        {"action": "resume", "step": "w", "detail": {"edge": "event", "next": "x"}},
        "The awaited event came: moved on to %(next)s",
        None,
    ),
    (
        {"action": "send", "step": "r1", "detail": {"template": "Cart reminder 1", "channel": "email"}},
        "Sent %(template)s by %(channel)s",
        {"template": "Cart reminder 1", "channel": "email"},
    ),
    (
        {"action": "send_skipped", "step": "r1", "detail": {"template": "t", "reason": "no consent"}},
        "Did not send %(template)s: %(reason)s",
        None,
    ),
    (
        {"action": "held_out", "step": "r1", "detail": {"template": "t"}},
        "Held out of %(template)s: in the control group",
        None,
    ),
    (
        {"action": "branch", "step": "vip?", "detail": {"taken": "branch:0"}},
        "At %(step)s the condition of %(branch)s held: took it",
        None,
    ),
    (
        {"action": "branch", "step": "vip?", "detail": {"taken": "else"}},
        "At %(step)s no condition held: took the otherwise path",
        None,
    ),
    (
        {"action": "behaviour", "step": "b", "detail": {"outcome": "then", "behaviour": "clicked"}},
        "At %(step)s the contact did %(behaviour)s: took the yes path",
        None,
    ),
    (
        {"action": "behaviour", "step": "b", "detail": {"outcome": "else", "behaviour": "clicked"}},
        "At %(step)s the contact did not do %(behaviour)s in time: took the no path",
        None,
    ),
    ({"action": "split", "step": "ab", "detail": {"variant": "b"}}, "Was assigned variant %(variant)s", None),
    (
        {"action": "split", "step": "ab", "detail": {"variant": "b", "rollout": True}},
        "Went to variant %(variant)s, the experiment's winner",
        None,
    ),
    (
        {
            "action": "update_contact",
            "step": "u",
            "detail": {"set": {"plan": "pro"}, "add_tags": ["vip"], "stage": "customer"},
        },
        "Updated the contact: %(changes)s",
        {"changes": "plan = pro, +vip, lifecycle_stage = customer"},
    ),
    ({"action": "task", "step": "k", "detail": {"title": "Call Lena"}}, "Created the task %(title)s", None),
    ({"action": "webhook", "step": "h", "detail": {"url": "https://x.test/h"}}, "Called the webhook %(url)s", None),
    ({"action": "assign_owner", "step": "o", "detail": {"team": "north"}}, "Assigned an owner (%(how)s)", None),
    ({"action": "enroll", "step": "e", "detail": {"journey": "nurture"}}, "Enrolled the contact in %(journey)s", None),
    (
        {"action": "conversion", "step": "g", "detail": {"goal": "purchase"}},
        "Converted: reached the goal %(goal)s",
        None,
    ),
    ({"action": "signal", "step": "s", "detail": {"signal": "paid"}}, "Received the signal %(signal)s", None),
    ({"action": "ended", "step": "g", "detail": {"reason": "converted"}}, "Left the journey: %(reason)s", None),
    (
        {"action": "wait_skipped", "step": "d", "detail": {"reason": "date passed"}},
        "Did not wait at %(step)s: %(reason)s",
        None,
    ),
    (
        {"action": "stale_timer", "step": "d", "detail": {}},
        "%(action)s at %(step)s",
        {"action": "stale timer", "step": "d"},
    ),
]


@pytest.mark.parametrize(
    ("entry", "message", "values"), CASES, ids=[c[0]["action"] + str(i) for i, c in enumerate(CASES)]
)
def test_each_trace_kind_has_its_sentence(entry, message, values) -> None:
    p = phrase(entry, journey="Abandoned cart")
    assert p.message == message
    names = set(re.findall(r"%\(([a-z_]+)\)s", p.message))
    assert names <= set(p.values), "every placeholder has a value"
    if values is not None:
        assert dict(p.values) == values
    p.message % {k: str(v) for k, v in p.values.items()}  # formats


def test_a_conversion_is_worth_money_in_the_entry_events_currency() -> None:
    path = [ENTRY, {"action": "conversion", "step": "g", "detail": {"goal": "purchase", "revenue": 42.5}}]
    story = narrate(path, journey="Abandoned cart")
    assert story[1].message == "Converted: reached the goal %(goal)s, worth %(revenue)s"
    assert story[1].values["revenue"] == Amount(42.5, "EUR")
    assert narrate(path[1:])[0].values["revenue"] == Amount(42.5, None)  # no event: no currency


def test_the_sentence_reads_in_the_viewers_language_zone_and_currency() -> None:
    from tidings.web.i18n import ViewerLocale, say, viewing_as

    story = narrate(
        [ENTRY, {"action": "conversion", "step": "g", "detail": {"goal": "buy", "revenue": 42.5}}],
        journey="Abandoned cart",
    )
    with viewing_as(ViewerLocale("en", "Asia/Bangkok")):
        assert say(story[0]) == "Entered Abandoned cart v3 because Cart Abandoned happened at Dec 7, 2026 21:02"
        assert say(story[1]) == "Converted: reached the goal buy, worth €42.50"
    with viewing_as(ViewerLocale("uk", "Europe/Kyiv")):
        assert say(story[0]).startswith("Увійшов до Abandoned cart v3") and "16:02" in say(story[0])
        assert "42,50\xa0EUR" in say(story[1])


ACTIONS = [c[0]["action"] for c in CASES] + ["migrated", "error", ""]
KEYS = ["kind", "until", "event", "edge", "next", "taken", "outcome", "variant", "rollout", "revenue", "reason", "set"]


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(ACTIONS), st.dictionaries(st.sampled_from(KEYS), st.one_of(st.none(), st.booleans(), st.just("x")))
)
def test_any_entry_gives_a_phrase_that_formats(action, detail) -> None:
    if isinstance(detail.get("set"), str | bool):
        detail["set"] = {}
    if detail.get("revenue") is True:
        detail["revenue"] = 1
    p = phrase({"action": action, "step": "s", "detail": detail})
    assert "%(" not in p.message % {k: str(v) for k, v in p.values.items()}


def test_a_simulations_trace_reads_as_sentences() -> None:
    from datetime import UTC, datetime

    from tidings.domain.journeys.model import TraceEntry
    from tidings.domain.journeys.narrate import narrate_entries

    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    story = narrate_entries(
        [(at, TraceEntry(None, "entered", {"trigger": 0})), (at, TraceEntry("hello", "send", {"template": "hi"}))],
        journey="Welcome",
        version=2,
    )
    assert [(a, p.message) for a, p in story] == [
        (at, "Entered %(journey)s v%(version)s"),
        (at, "Sent %(template)s by %(channel)s"),
    ]
    assert story[0][1].values["version"] == 2
