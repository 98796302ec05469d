"""The self-service page: a signed link lets the contact reschedule their enrolment (journey signal)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.integration.channels_helpers import links_client
from tests.integration.journey_support import TREATMENT, add_contact, add_event, drain, publish
from tidings.bootstrap import Container
from tidings.channels import tracking
from tidings.clock import ManualClock
from tidings.worker import JourneyWorker


@pytest.fixture
def api(container: Container) -> Iterator[Any]:
    with links_client(container) as client:
        yield client


def enrolment(container: Container, clock: ManualClock) -> tuple[int, int]:
    publish(container, TREATMENT)
    with container.engine.begin() as conn:
        cid = add_contact(conn, clock.now(), "pat@example.org")
        add_event(conn, cid, "treatment.booked", clock.now(), start_date="2026-03-10")
    drain(JourneyWorker(container))
    from tidings.store import schema

    with container.engine.connect() as conn:
        eid = conn.execute(
            schema.enrollments.select().with_only_columns(schema.enrollments.c.id)
        ).scalar_one()
    return int(eid), cid


def waiting_until(container: Container, eid: int) -> str:
    from tidings.store import schema

    with container.engine.connect() as conn:
        state = conn.execute(
            schema.enrollments.select()
            .with_only_columns(schema.enrollments.c.state)
            .where(schema.enrollments.c.id == eid)
        ).scalar_one()
    return str(state["waiting"]["until"])


def test_reschedule_through_the_signed_page(api: Any, container: Container, clock: ManualClock) -> None:
    eid, cid = enrolment(container, clock)
    assert waiting_until(container, eid).startswith("2026-03-09T09:00")
    path = "/s/" + tracking.make_token(container.secret_key, tracking.SELF_SERVICE, eid, cid, clock.now())
    page = api.get(path)
    assert page.status_code == 200 and "type='date'" in page.text
    r = api.post(path, data={"signal": "reschedule", "start_date": "2026-03-20"})
    assert r.status_code == 200, r.text
    assert waiting_until(container, eid).startswith("2026-03-19T09:00")


def test_self_service_refuses_bad_tokens_dates_and_other_contacts(
    api: Any, container: Container, clock: ManualClock
) -> None:
    eid, cid = enrolment(container, clock)
    before = waiting_until(container, eid)
    other = "/s/" + tracking.make_token(
        container.secret_key, tracking.SELF_SERVICE, eid, cid + 1, clock.now()
    )
    assert api.post(other, data={"start_date": "2026-03-20"}).status_code == 404
    good = "/s/" + tracking.make_token(container.secret_key, tracking.SELF_SERVICE, eid, cid, clock.now())
    assert api.post(good, data={"start_date": "next tuesday"}).status_code == 422
    assert api.post(good[:-4] + "AAAA", data={"start_date": "2026-03-20"}).status_code == 404
    clock.advance(tracking.TTL[tracking.SELF_SERVICE] + timedelta(days=1))
    assert api.post(good, data={"start_date": "2026-03-20"}).status_code == 410
    assert waiting_until(container, eid) == before
