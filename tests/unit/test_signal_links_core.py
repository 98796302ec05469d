"""The pure parts of signal links (issue 18): which signals a template links to, the publish
check against what the journey handles, and the series' upcoming dates the self-service page shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.series import occurrence, parse_period, upcoming
from tidings.domain.journeys.signalnames import check_template_signals
from tidings.domain.snapshot import ContactSnapshot
from tidings.domain.templates import TemplateSource, signal_links

DOC = parse_journey("""
key: series
triggers:
  - event: started
settings:
  signals: [reschedule]
steps:
  - id: series
    type: repeat
    every: 7d
    anchor: {variable: start_date, at: "09:00"}
    count: 6
    each: remind
    done: end
  - id: remind
    type: send
    channel: email
    template: reminder
    next: series
""")


def test_signal_links_are_the_literal_names_of_signal_url_calls() -> None:
    t = TemplateSource(
        key="reminder",
        subject="{{ message.signal_url('pause') }}",
        body="<a href=\"{{ message.signal_url('stop') }}\">x</a>{{ message.signal_url(name) }}{{ other('x') }}",
        text_body="Skip: {{ message.signal_url(\"skip-one\") }}",
    )
    assert signal_links(t) == {"pause", "stop", "skip-one"}
    assert signal_links(TemplateSource(key="broken", body="{% if %}")) == set()  # its own validation says why


def test_the_check_names_the_send_step_and_what_the_journey_handles() -> None:
    assert check_template_signals(DOC, {"reminder": {"stop", "skip-one", "reschedule", "pause"}}) == []
    [problem] = check_template_signals(DOC, {"reminder": {"stop", "vip"}, "unused": {"nope"}})
    assert problem.step_id == "remind" and "'vip'" in problem.message and "reschedule" in problem.message


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(0, 400),
    done=st.integers(0, 6),
    elapsed=st.integers(0, 80),
    paused=st.booleans(),
)
def test_upcoming_dates_are_the_remaining_occurrences_once_each_in_order(
    start: int, done: int, elapsed: int, paused: bool
) -> None:
    """Each date is anchor + k·period for a distinct k after ``done``, after now, within the count."""
    base = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    anchor = base + timedelta(days=start)
    now = base + timedelta(days=start + elapsed, hours=1)
    contact = ContactSnapshot(id=1, timezone="UTC")
    variables = {"start_date": anchor.date().isoformat()}
    step = DOC.steps["series"]
    dates = upcoming(step, {"done": done, "paused": paused}, contact, variables, now, "UTC", limit=10)
    if paused:
        assert dates == []
        return
    expected = [
        occurrence(anchor, k, parse_period("7d"), UTC)
        for k in range(done + 1, 7)
        if occurrence(anchor, k, parse_period("7d"), UTC) > now
    ]
    assert dates == expected
    assert len(set(dates)) == len(dates)
