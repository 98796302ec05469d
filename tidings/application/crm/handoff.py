"""The ``crm`` channel: a journey's ``crm`` step delivered to HubSpot or Salesforce, and the write-back.

One outbox row per step visit (exactly once, as every channel: ``outbox.idempotency_key``). Its
delivery, in a thread of the delivery loop:

1. the person is upserted (HubSpot contact by email, Salesforce Lead by external id): every action
   starts with it, so a task or a deal always has its person, and a retry finds the same record;
2. ``create_task`` / ``create_deal`` create the record, linked to the person;
3. **write-back** (unless ``write_back: false``): the CRM's owner and stage are read back and
   written on the contact through the contacts use case (``contact.updated`` change events,
   source ``crm:<system>``): the owner as the CRM gives it (an email), the stage through the
   stage map (``DEFAULT_STAGES`` + ``TIDINGS_CRM_STAGE_MAP``); a stage not in the map is left alone.

Failures: the client's ``CrmError`` is temporary (429, 5xx, network: retried with back-off,
Retry-After honoured) or permanent (other 4xx: the CRM's message); the delivery loop treats
``crm`` rows like webhooks (``webhook_max_attempts``, then a dead letter an operator retries).
A failed read-back after the record was written does not fail the delivery (a retry would
create a second task): it is logged and the contact keeps its fields.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from tidings.application.contacts import contacts as contacts_uc
from tidings.application.ports.clock import Clock
from tidings.application.ports.contacts import ContactsUnitOfWork
from tidings.application.ports.crm import (
    CrmClient,
    CrmDeal,
    CrmError,
    CrmOwnership,
    CrmPerson,
    CrmRecord,
    CrmTask,
)
from tidings.application.ports.senders import CRM, DeliveryResult, OutgoingMessage
from tidings.application.ports.wiring import Wiring

log = logging.getLogger("tidings.crm")

#: the CRMs' stage values -> ours (``TIDINGS_CRM_STAGE_MAP`` adds and overrides, ``system:value=stage``).
#: Only stages at or past a hand-off: a record the CRM just created says ``lead`` (HubSpot's
#: default lifecycle stage, Salesforce's "Open - Not Contacted"), and writing that back would
#: move an MQL back to lead.
DEFAULT_STAGES: dict[str, dict[str, str]] = {
    "hubspot": {
        "marketingqualifiedlead": "mql",
        "salesqualifiedlead": "sql",
        "opportunity": "opportunity",
        "customer": "customer",
    },
    "salesforce": {
        "Working - Contacted": "sql",
        "Closed - Converted": "customer",
    },
}
#: a deal closes this long after the hand-off unless the CRM is told otherwise
DEAL_CLOSES_IN = timedelta(days=30)


def stage_map(pairs: tuple[tuple[str, str], ...]) -> dict[str, dict[str, str]]:
    out = {system: dict(values) for system, values in DEFAULT_STAGES.items()}
    for key, stage in pairs:
        system, _, value = key.partition(":")
        out.setdefault(system, {})[value] = stage
    return out


def person_of(contact: Mapping[str, Any], properties: Mapping[str, Any]) -> CrmPerson:
    attributes = contact.get("attributes") or {}
    company = attributes.get("company") if isinstance(attributes, Mapping) else None
    return CrmPerson(
        email=str(contact["email"]),
        first_name=contact.get("first_name"),
        last_name=contact.get("last_name"),
        phone=contact.get("phone"),
        company=str(company) if company else None,
        properties=dict(properties),
    )


class CrmProvider:
    """The ``crm`` channel's provider: one client per system, built on first use."""

    channel = CRM
    name = "crm"
    #: CRM APIs rate-limit per second (HubSpot: 100 / 10 s for private apps): few calls at once
    concurrency = 4

    def __init__(
        self,
        clients: Callable[[str], CrmClient | None],
        uow: Callable[[], ContactsUnitOfWork],
        clock: Clock,
        stages: Mapping[str, Mapping[str, str]],
    ) -> None:
        self._factory = clients
        self._clients: dict[str, CrmClient | None] = {}
        self._lock = threading.Lock()  # deliveries run in several threads at once
        self.uow = uow
        self.clock = clock
        self.stages = stages

    def client(self, system: str) -> CrmClient | None:
        with self._lock:
            if system not in self._clients:
                self._clients[system] = self._factory(system)
            return self._clients[system]

    async def send(self, msg: OutgoingMessage) -> DeliveryResult:
        return await asyncio.to_thread(self.deliver, msg)

    def deliver(self, msg: OutgoingMessage) -> DeliveryResult:
        data = msg.data
        system, action = str(data.get("system") or ""), str(data.get("action") or "")
        client = self.client(system)
        if client is None:
            return DeliveryResult.permanent(f"CRM {system!r} is not configured (docs/crm.md)", system=system)
        contact = data.get("contact") or {}
        if not contact.get("email"):
            return DeliveryResult.permanent("the contact has no email: a CRM hand-off needs one", system=system)
        now = self.clock.now()
        try:
            person = client.upsert_contact(person_of(contact, data.get("properties") or {}))
            record = self._act(client, person, action, data, now)
        except CrmError as exc:
            if exc.temporary:
                return DeliveryResult.temporary(str(exc), retry_after_s=exc.retry_after_s, http_status=exc.status)
            return DeliveryResult.permanent(str(exc), http_status=exc.status, code=exc.code)
        written: dict[str, Any] = {}
        if data.get("write_back", True):
            written = self._write_back(client, person, msg.contact_id, now)
        return DeliveryResult.accepted(
            f"{system}:{record.object_type}:{record.id}", person_id=person.id, written=written
        )

    def _act(
        self, client: CrmClient, person: CrmRecord, action: str, data: Mapping[str, Any], now: datetime
    ) -> CrmRecord:
        if action == "create_task":
            due = now + timedelta(seconds=int(data.get("due_in_seconds") or 0))
            task = CrmTask(
                title=str(data.get("title") or ""),
                due_at=due,
                body=str(data.get("body") or ""),
                priority=data.get("priority"),
            )
            return client.create_task(person, task)
        if action == "create_deal":
            amount = data.get("amount")
            deal = CrmDeal(
                name=str(data.get("deal_name") or ""),
                close_at=now + DEAL_CLOSES_IN,
                amount=float(amount) if amount is not None else None,
                stage=data.get("deal_stage"),
                pipeline=data.get("pipeline"),
            )
            return client.create_deal(person, deal)
        if action != "upsert_contact":
            raise CrmError(f"unknown CRM action {action!r}", temporary=False)
        return person

    def _write_back(self, client: CrmClient, person: CrmRecord, contact_id: int, now: datetime) -> dict[str, Any]:
        try:
            ownership = client.ownership(person)
        except CrmError as exc:  # the record is written: do not fail (and redo) the hand-off for this
            log.warning("reading back %s %s failed: %s", client.system, person.id, exc)
            return {}
        return write_back(self.uow, contact_id, client.system, ownership, self.stages, now)

    async def confirm(self, msg: OutgoingMessage) -> bool | None:
        return None  # a CRM cannot be asked whether it got this exact call

    async def aclose(self) -> None:
        for client in self._clients.values():
            if client is not None:
                client.close()


def write_back(
    uow: Callable[[], ContactsUnitOfWork],
    contact_id: int,
    system: str,
    ownership: CrmOwnership,
    stages: Mapping[str, Mapping[str, str]],
    now: datetime,
) -> dict[str, Any]:
    """Write the CRM's owner and (mapped) stage on the contact; returns what changed."""
    change: dict[str, Any] = {}
    if ownership.owner:
        change["owner"] = ownership.owner
    stage = stages.get(system, {}).get(ownership.stage or "")
    if stage:
        change["lifecycle_stage"] = stage
    if not change:
        return {}
    values = contacts_uc.normalise_input(change, now)
    with uow() as work:
        changed = contacts_uc.update_contact(work, contact_id, values, now, source=f"crm:{system}")
        work.commit()
    return dict(changed or {})


def build_provider(container: Wiring) -> CrmProvider:
    return CrmProvider(
        container.crm_client, container.uow, container.clock, stage_map(container.settings.crm_stage_map)
    )
