"""Signed links per signal in journey messages (issue 18): ``message.signal_url('stop')`` in a
template, the confirmation page that shows the series' next dates, the signal sent on POST, and
publishing refused when a template links to a signal no step of the journey handles."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.channels_helpers import add_template, deliver, links_client
from tests.integration.journey_support import add_contact, add_event, drain, publish
from tidings.bootstrap import Container
from tidings.channels import tracking
from tidings.clock import ManualClock
from tidings.domain.journeys.model import JourneyError
from tidings.store import schema
from tidings.worker import JourneyWorker

SERIES = """
key: aligner-series
triggers:
  - event: treatment.started
settings:
  category: transactional
  signals: [reschedule]
steps:
  - id: series
    type: repeat
    every: 7d
    anchor: {variable: start_date, at: "09:00"}
    count: 4
    each: remind
    done: end
  - id: remind
    type: send
    channel: email
    template: aligner-reminder
    next: series
"""
BODY = (
    "<p>Time for the next set.</p>"
    "<a href=\"{{ message.signal_url('skip-one') }}\">Skip the next one</a>"
    "<a href=\"{{ message.signal_url('reschedule') }}\">I started late</a>"
    "<a href=\"{{ message.signal_url('stop') }}\">Stop</a>"
)
LINK = re.compile(r"https?://[^\"'<>\s]+/s/([A-Za-z0-9_-]+)/([a-z][a-z0-9_.-]*)")


@pytest.fixture
def api(container: Container) -> Iterator[Any]:
    with links_client(container) as client:
        yield client


def _start(container: Container, clock: ManualClock) -> tuple[int, dict[str, str]]:
    """Publish the series, start it on 2 March, deliver occurrence 1 (9 March): the enrolment
    and the signal links of the message, by signal name."""
    add_template(container.engine, clock.now(), "aligner-reminder", subject="Switch aligners", body=BODY)
    publish(container, SERIES)
    with container.engine.begin() as conn:
        cid = add_contact(conn, clock.now(), "al@example.org", timezone="UTC", locale="uk")
        add_event(conn, cid, "treatment.started", clock.now(), start_date="2026-03-02")
    drain(JourneyWorker(container))
    clock.set(clock.now().replace(year=2026, month=3, day=9, hour=9, minute=1))
    drain(JourneyWorker(container))
    sent = asyncio.run(deliver(container)).sent
    assert len(sent) == 1
    links = {name: f"/s/{token}/{name}" for token, name in LINK.findall(sent[0].html or "")}
    assert set(links) == {"skip-one", "reschedule", "stop"}, sent[0].html
    with container.engine.connect() as conn:
        eid = conn.execute(schema.enrollments.select().with_only_columns(schema.enrollments.c.id)).scalar_one()
    return int(eid), links


def test_a_signal_link_confirms_then_sends_and_the_page_shows_the_new_dates(
    api: Any, container: Container, clock: ManualClock
) -> None:
    eid, links = _start(container, clock)
    page = api.get(links["reschedule"])
    assert page.status_code == 200 and "type='date'" in page.text
    # Ukrainian contact: dates by their locale; occurrences 2..4 from the 2 March anchor
    assert page.text.count("<li>") == 3 and "16 березня 2026" in page.text
    done = api.post(links["reschedule"], data={"start_date": "2026-03-05"})
    assert done.status_code == 200 and "recorded" in done.text
    assert "19 березня 2026" in done.text and "16 березня" not in done.text  # re-planned from 5 March
    assert api.get(links["skip-one"]).status_code == 200  # GET asks, changes nothing
    assert "19 березня 2026" in api.get(links["stop"]).text
    stopped = api.post(links["stop"])
    assert stopped.status_code == 200 and "ended" in stopped.text
    with container.engine.connect() as conn:
        status = conn.execute(
            schema.enrollments.select().with_only_columns(schema.enrollments.c.status)
        ).scalar_one()
    assert status == "ended"
    assert eid


def test_signal_links_refuse_tampering_other_signals_and_expiry(
    api: Any, container: Container, clock: ManualClock
) -> None:
    eid, links = _start(container, clock)
    token = links["stop"].split("/")[2]
    assert api.post(f"/s/{token}/skip-one").status_code == 404  # the stop link cannot skip
    assert api.post(links["stop"][:-6] + "AAAA/stop").status_code == 404  # tampered token
    unhandled = tracking.signal_link(container.secret_key, "", eid, "vip-upgrade", clock.now())
    assert api.get(unhandled).status_code == 404  # signed, but the journey takes no such signal
    assert api.post(links["reschedule"], data={"start_date": "soon"}).status_code == 422
    clock.advance(tracking.TTL[tracking.SIGNAL] * 2)
    assert api.post(links["stop"]).status_code == 410
    with container.engine.connect() as conn:
        status = conn.execute(
            schema.enrollments.select().with_only_columns(schema.enrollments.c.status)
        ).scalar_one()
    assert status != "ended"


def test_publish_refuses_a_template_linking_to_a_signal_no_step_handles(container: Container) -> None:
    now = container.clock.now()
    add_template(container.engine, now, "aligner-reminder", body="<a href=\"{{ message.signal_url('stopp') }}\">x</a>")
    with pytest.raises(JourneyError) as err:
        publish(container, SERIES)
    [problem] = err.value.problems
    assert problem.step_id == "remind" and problem.line == 16  # the "- id: remind" line
    assert "'stopp'" in problem.message and "stop" in problem.message
