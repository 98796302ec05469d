"""Journey semantics v2 on a live stack (issue 18): events over HTTP, time moved by the test clock,
messages read back from the built-in SMTP catcher.

- the feedback recipe keyed by order: one contact with two orders, a return of one order ends
  only that order's enrolment, and the answer naming the other order is the one its branch reads;
- enrolment variables from the trigger printed in a template, a signal wait that branches, an
  exit signal, and a past ``wait_until`` date skipped (``on_past: skip``) with its trace entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import LiveStack
from tests.e2e.test_recipes_e2e import DAY, Live
from tests.integration.channels_helpers import add_template
from tidings.store import schema

JOURNEY = """
key: order-care
triggers:
  - event: order.completed
    key: order_id
    vars: {order_total: properties.total}
settings:
  reentry: per_key
  correlate: order_id
  exit:
    - {signal: leave-me}
steps:
  - id: thanks
    type: send
    channel: email
    template: order-thanks
  - id: listen
    type: wait_event
    signal: stop-tips
    timeout: 2d
    on_event: stopped
    on_timeout: until-visit
  - id: until-visit
    type: wait_until
    date: {variable: visit, before: 1d}
  - id: visit-reminder
    type: send
    channel: email
    template: visit-reminder
  - id: big
    type: branch
    branches:
      - when: vars.order_total > 100
        next: vip
    else: end
  - id: vip
    type: send
    channel: email
    template: vip-note
    next: end
  - id: stopped
    type: send
    channel: email
    template: tips-stopped
"""


@pytest.fixture
def live(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, live_stack: LiveStack) -> Iterator[Live]:
    monkeypatch.chdir(tmp_path)
    client = Live(live_stack)
    yield client
    client.http.close()


def _enrolments(live: Live, journey: str) -> dict[str, dict[str, Any]]:
    e, j = schema.enrollments, schema.journeys
    with live.engine.connect() as conn:
        rows = conn.execute(
            sa.select(e.c.id, e.c.enroll_key, e.c.status, e.c.end_reason).join(j, j.c.id == e.c.journey_id)
            .where(j.c.key == journey)
        ).mappings()
        return {str(r["enroll_key"]): dict(r) for r in rows}


def _trace_actions(live: Live, enrollment_id: int) -> list[str]:
    t = schema.traces
    with live.engine.connect() as conn:
        q = sa.select(t.c.action).where(t.c.enrollment_id == enrollment_id).order_by(t.c.id)
        return [str(a) for a in conn.execute(q).scalars()]


def test_feedback_is_keyed_by_order(live: Live) -> None:
    live.install("feedback")
    live.contact("two@example.com")
    live.event("order.delivered", "two@example.com", order_id="o-1")
    live.event("order.delivered", "two@example.com", order_id="o-2")
    live.event("order.returned", "two@example.com", order_id="o-1")
    ends = _enrolments(live, "feedback")
    assert ends["o-1"]["end_reason"] == "exited" and ends["o-2"]["status"] == "waiting"
    live.advance(7 * DAY)
    assert live.subjects("two@example.com") == ["How did we do, there?"], "one survey: o-1 was returned"
    live.event("nps.answered", "two@example.com", order_id="o-9", score=2)  # another order: ignored
    assert live.subjects("two@example.com") == ["How did we do, there?"]
    live.event("nps.answered", "two@example.com", order_id="o-2", score=9)
    assert live.subjects("two@example.com")[1:] == ["Would you share that with others?"]


def test_variables_signals_and_past_dates(live: Live) -> None:
    now = live.stack.container.clock.now()
    add_template(live.engine, now, "order-thanks", subject="Thanks for order {{ data.key }}",
                 body="<p>Total {{ data.variables.order_total }}</p>")
    for key, subject in (("visit-reminder", "See you tomorrow"), ("vip-note", "A note for a big order"),
                         ("tips-stopped", "No more tips")):
        add_template(live.engine, now, key, subject=subject, body=f"<p>{subject}</p>")
    r = live.http.post("/api/journeys?publish=true", content=JOURNEY, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    live.contact("vip@example.com")
    live.contact("quiet@example.com")
    live.contact("gone@example.com")
    live.event("order.completed", "vip@example.com", order_id="a-1", total=250, visit="2026-02-01")
    live.event("order.completed", "quiet@example.com", order_id="b-1", total=20)
    live.event("order.completed", "gone@example.com", order_id="c-1", total=20)
    first = live.inbox(recipient="vip@example.com")[0]
    assert first["subject"] == "Thanks for order a-1" and "Total 250" in live.body(first)
    ids = {k: int(v["id"]) for k, v in _enrolments(live, "order-care").items()}
    live.ok(live.http.post(f"/api/enrollments/{ids['b-1']}/signal", json={"signal": "stop-tips"}))
    live.ok(live.http.post(f"/api/enrollments/{ids['c-1']}/signal", json={"signal": "leave-me"}))
    live.advance(1)
    assert live.subjects("quiet@example.com")[1:] == ["No more tips"], "the signal wait branched"
    assert _enrolments(live, "order-care")["c-1"]["end_reason"] == "exited"
    live.advance(2 * DAY + 60)
    # the visit (2026-02-01) is in the past: the reminder is skipped, the branch on vars still runs
    assert live.subjects("vip@example.com")[1:] == ["A note for a big order"]
    assert "wait_skipped" in _trace_actions(live, ids["a-1"])
    assert live.subjects("gone@example.com")[1:] == []


def test_lead_nurture_picks_up_a_lead_when_its_owner_is_removed(live: Live) -> None:
    live.install("lead-nurture")
    cid = live.contact("owned@example.com", owner="ae-jane@example.com")
    live.ok(live.http.patch(f"/api/contacts/{cid}", json={"lifecycle_stage": "lead"}))
    live.advance(60)
    assert live.subjects("owned@example.com") == [] and _enrolments(live, "lead-nurture") == {}
    live.ok(live.http.patch(f"/api/contacts/{cid}", json={"owner": None}))
    live.advance(60)
    assert len(live.subjects("owned@example.com")) == 1, "the still-lead contact entered the series"
    assert _enrolments(live, "lead-nurture")[""]["status"] == "waiting"


LETTER = """
key: thank-you-letter
triggers:
  - event: order.completed
steps:
  - id: letter
    type: send
    channel: direct_mail
    template: thank-you-letter
"""


def test_the_daily_print_batch_is_built_once_at_its_local_time(live: Live) -> None:
    import json
    import time
    from pathlib import Path

    from tidings.channels.direct_mail import BatchFolder
    from tidings.channels.direct_mail_schedule import DirectMailScheduler
    from tidings.runtime import background_services

    container = live.stack.container
    add_template(live.engine, container.clock.now(), "thank-you-letter", channel="direct_mail",
                 subject="Thank you", body="<p>Thank you for your order.</p>")
    assert live.http.post("/api/journeys?publish=true", content=LETTER,
                          headers={"Content-Type": "application/yaml"}).status_code == 201
    address = {"line1": "1 High Street", "city": "London", "postal_code": "SW1A 1AA", "country": "GB"}
    live.contact("pat@example.com", consents=("direct_mail",), first_name="Pat", attributes={"address": address})
    live.event("order.completed", "pat@example.com")  # Monday 2026-03-02 09:00 UTC
    assert len(live.inbox("direct_mail")) == 1
    root = Path(container.settings.direct_mail_dir)
    day = root / "2026-03-02"
    assert list((day / "letters").glob("*.pdf")), "the letter is filed under the local day"
    from dataclasses import replace

    configured = replace(container.settings, direct_mail_batch_at="17:00", direct_mail_timezone="Europe/London")
    container.settings = configured
    assert any(isinstance(s, DirectMailScheduler) for s in background_services(container, worker=True, catcher=False))
    sched = DirectMailScheduler(BatchFolder(root), container.clock, "17:00", "Europe/London", poll=0.05)
    sched.start()
    try:
        time.sleep(0.3)
        assert not (day / "manifest.json").exists(), "not before 17:00 London"
        live.advance(8 * 3600)  # 17:00 London (GMT in March)
        for _ in range(100):
            if (day / "manifest.json").exists():
                break
            time.sleep(0.05)
        manifest = json.loads((day / "manifest.json").read_text())
        assert manifest["letters"] == 1 and manifest["built_at"].startswith("2026-03-02T17:00")
        live.advance(3600)
        time.sleep(0.3)
        assert json.loads((day / "manifest.json").read_text())["built_at"] == manifest["built_at"], "built once"
    finally:
        sched.stop()


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
    count: 3
    each: remind
    done: end
  - id: remind
    type: send
    channel: email
    template: aligner-reminder
    next: series
"""


def test_a_series_rescheduled_over_the_api_sends_each_later_reminder_once(live: Live) -> None:
    add_template(live.engine, live.stack.container.clock.now(), "aligner-reminder", subject="Switch aligners",
                 body="<p>Time for the next set.</p>")
    r = live.http.post("/api/journeys?publish=true", content=SERIES, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    live.contact("al@example.com")
    live.event("treatment.started", "al@example.com", start_date="2026-03-02")  # Monday 09:00 UTC
    live.advance(7 * DAY)  # 9 March 09:00: occurrence 1
    received = [i["received_at"][:10] for i in live.inbox(recipient="al@example.com")]
    assert received == ["2026-03-09"]
    [eid] = [int(v["id"]) for v in _enrolments(live, "aligner-series").values()]
    live.ok(live.http.post(f"/api/enrollments/{eid}/signal",
                           json={"signal": "reschedule", "data": {"start_date": "2026-03-05"}}))
    live.advance(18 * DAY)  # to 27 March
    received = [i["received_at"][:10] for i in live.inbox(recipient="al@example.com")]
    assert received == ["2026-03-09", "2026-03-19", "2026-03-26"], "2 and 3 from the new start, once each"
    assert _enrolments(live, "aligner-series")[""]["end_reason"] == "completed"
