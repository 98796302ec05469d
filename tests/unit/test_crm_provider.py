"""The crm channel's provider over a fake CrmClient: how CRM failures become delivery results,
and that a failed read-back never fails (and so never repeats) a hand-off already written."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tidings.application.crm.handoff import CrmProvider, stage_map
from tidings.application.ports.crm import CrmDeal, CrmError, CrmOwnership, CrmPerson, CrmRecord, CrmTask
from tidings.application.ports.senders import DeliveryStatus, OutgoingMessage
from tidings.clock import ManualClock

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeClient:
    system = "hubspot"

    def __init__(self, fail: CrmError | None = None, fail_read: bool = False) -> None:
        self.fail, self.fail_read = fail, fail_read
        self.calls: list[tuple[str, Any]] = []

    def upsert_contact(self, person: CrmPerson) -> CrmRecord:
        self.calls.append(("upsert", person))
        if self.fail:
            raise self.fail
        return CrmRecord("hubspot", "contact", "501", True)

    def create_task(self, person: CrmRecord, task: CrmTask) -> CrmRecord:
        self.calls.append(("task", task))
        return CrmRecord("hubspot", "task", "777", True)

    def create_deal(self, person: CrmRecord, deal: CrmDeal) -> CrmRecord:
        self.calls.append(("deal", deal))
        return CrmRecord("hubspot", "deal", "888", True)

    def ownership(self, person: CrmRecord) -> CrmOwnership:
        self.calls.append(("read", person.id))
        if self.fail_read:
            raise CrmError("hubspot HTTP 503", temporary=True, status=503)
        return CrmOwnership()  # nothing to write: the engine is not touched

    def close(self) -> None:
        pass


def _msg(**data: Any) -> OutgoingMessage:
    contact = data.pop("contact", {"email": "ann@corp.test", "first_name": "Ann", "attributes": {"company": "Corp"}})
    return OutgoingMessage(
        outbox_id=1,
        channel="crm",
        contact_id=5,
        recipient="hubspot",
        idempotency_key="k",
        message_ref="r",
        data={"system": "hubspot", "action": "upsert_contact", "properties": {}, **data, "contact": contact},
    )


def _provider(client: FakeClient | None) -> CrmProvider:
    return CrmProvider(lambda s: client if s == "hubspot" else None, None, ManualClock(NOW), stage_map(()))  # type: ignore[arg-type]


def test_a_task_is_created_after_the_upsert_with_its_due_time() -> None:
    client = FakeClient()
    r = _provider(client).deliver(_msg(action="create_task", title="Call", due_in_seconds=3600, priority="high"))
    assert r.status is DeliveryStatus.ACCEPTED and r.provider_message_id == "hubspot:task:777"
    (_, person), (_, task), _read = client.calls
    assert person.email == "ann@corp.test" and person.company == "Corp"
    assert task.title == "Call" and task.due_at == NOW.replace(hour=10) and task.priority == "high"


def test_crm_failures_become_retry_or_dead_letter_results() -> None:
    limited = CrmError("hubspot HTTP 429: secondly limit", temporary=True, status=429, retry_after_s=7)
    r = _provider(FakeClient(limited)).deliver(_msg())
    assert r.status is DeliveryStatus.FAILED_TEMPORARY and r.retry_after_s == 7 and "secondly" in (r.error or "")
    refused = CrmError("hubspot HTTP 400: Property values were not valid", temporary=False, status=400)
    r = _provider(FakeClient(refused)).deliver(_msg())
    assert r.status is DeliveryStatus.FAILED_PERMANENT and "not valid" in (r.error or "")


def test_a_failed_read_back_does_not_fail_a_written_hand_off() -> None:
    client = FakeClient(fail_read=True)
    r = _provider(client).deliver(_msg(action="create_deal", deal_name="Pilot", amount=10))
    assert r.status is DeliveryStatus.ACCEPTED and [c[0] for c in client.calls] == ["upsert", "deal", "read"]


def test_no_email_unknown_system_and_no_write_back() -> None:
    assert "no email" in (_provider(FakeClient()).deliver(_msg(contact={"phone": "+1"})).error or "")
    r = _provider(FakeClient()).deliver(_msg(system="pipedrive"))
    assert r.status is DeliveryStatus.FAILED_PERMANENT and "'pipedrive' is not configured" in (r.error or "")
    client = FakeClient()
    assert _provider(client).deliver(_msg(write_back=False)).ok and [c[0] for c in client.calls] == ["upsert"]


def test_the_dead_letters_page_names_a_crm_row_by_system_and_action() -> None:
    from tidings.web.dead_letters_page import target_of

    item = {
        "kind": "crm",
        "channel": "crm",
        "recipient": "hubspot",
        "payload": {"system": "hubspot", "action": "create_task"},
    }
    assert target_of(item) == "hubspot: create_task"
