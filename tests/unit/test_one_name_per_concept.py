"""One definition per concept: statuses, channel lists and the contact columns are derived from
the domain's single definitions, and their stored values do not change."""

from __future__ import annotations

from typing import get_args

from tidings.api.contacts import ContactIn
from tidings.api.templates import TemplateIn
from tidings.application.sales.tasks import STATUSES
from tidings.domain.channels import CONSENT_CHANNELS, TEMPLATE_CHANNELS
from tidings.domain.journeys.model import EnrollmentState
from tidings.domain.journeys.run import EDGES
from tidings.domain.snapshot import PROFILE_FIELDS
from tidings.domain.statuses import EnrolmentStatus, OutboxStatus, TaskStatus
from tidings.store import schema
from tidings.store.ingest_sql import _CONTACT_COLUMNS


def test_status_values_are_the_stored_ones() -> None:
    assert [s.value for s in EnrolmentStatus] == ["active", "waiting", "ended"]
    assert [s.value for s in TaskStatus] == ["open", "done", "cancelled"] == list(STATUSES)
    assert {"pending", "sending", "sent", "failed", "skipped", "suppressed", "uncertain", "dead"} <= {
        s.value for s in OutboxStatus
    }
    assert set(EDGES.values()) == set(EnrolmentStatus)


def test_an_enrolment_state_round_trips_with_its_status_as_the_enum() -> None:
    st = EnrollmentState.from_json('{"journey": "j", "status": "waiting"}')
    assert st.status is EnrolmentStatus.WAITING
    assert '"status": "waiting"' in st.to_json()
    assert EnrollmentState(journey="j").status is EnrolmentStatus.ACTIVE


def test_the_api_channel_lists_are_the_domain_ones() -> None:
    (consent,) = [get_args(a)[0] for a in [ContactIn.model_fields["consent"].annotation] if a]
    assert get_args(get_args(consent)[0]) == tuple(CONSENT_CHANNELS)
    assert get_args(TemplateIn.model_fields["channel"].annotation) == tuple(TEMPLATE_CHANNELS)


def test_the_bulk_contact_insert_names_every_contact_column_once() -> None:
    assert sorted(_CONTACT_COLUMNS) == sorted(schema.contacts.c.keys())
    assert set(PROFILE_FIELDS) < set(_CONTACT_COLUMNS)
