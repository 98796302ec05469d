"""The ``CrmClient`` port on HubSpot's CRM v3 API (private app access token, ``Bearer``).

- contact: ``POST /crm/v3/objects/contacts/batch/upsert`` with one input
  ``{"id": <email>, "idProperty": "email", "properties": {...}}``; the answer's ``results[0]``
  has the record ``id`` and ``new``;
- task: ``POST /crm/v3/objects/tasks`` with ``hs_task_subject``, ``hs_task_body``,
  ``hs_timestamp`` (the due time), ``hs_task_status: NOT_STARTED``, ``hs_task_priority`` and an
  association to the contact (``HUBSPOT_DEFINED`` type 204, task to contact);
- deal: ``POST /crm/v3/objects/deals`` with ``dealname``, ``amount``, ``dealstage``,
  ``pipeline``, ``closedate`` and an association to the contact (type 3, deal to contact);
- read back: ``GET /crm/v3/objects/contacts/{id}?properties=hubspot_owner_id,lifecyclestage``,
  then the owner's email from ``GET /crm/v3/owners/{ownerId}``.

HubSpot's errors are ``{"status": "error", "message": ..., "category": ..., "correlationId": ...}``;
the message is what a dead letter shows. The base URL is ``TIDINGS_HUBSPOT_URL`` (tests point it
at a local server), the token ``TIDINGS_HUBSPOT_TOKEN``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tidings.application.ports.crm import CrmDeal, CrmError, CrmOwnership, CrmPerson, CrmRecord, CrmTask
from tidings.channels.crm_http import CrmHttp

if TYPE_CHECKING:
    from tidings.application.ports.wiring import Wiring

SYSTEM = "hubspot"
#: HubSpot-defined association types (docs: "Associations v4", default association type ids)
TASK_TO_CONTACT = 204
DEAL_TO_CONTACT = 3


def describe(status: int, data: Any) -> tuple[str, str | None]:
    if isinstance(data, dict):
        message = str(data.get("message") or data.get("status") or f"HTTP {status}")
        return message, str(data.get("category") or data.get("errorType") or "") or None
    return f"HTTP {status}", None


def _ms(when: Any) -> str:
    return str(int(when.timestamp() * 1000))


class HubSpotClient:
    system = SYSTEM

    def __init__(self, base_url: str, http: CrmHttp) -> None:
        self.base = base_url.rstrip("/")
        self.http = http

    def upsert_contact(self, person: CrmPerson) -> CrmRecord:
        props: dict[str, Any] = {"email": person.email}
        for key, value in (
            ("firstname", person.first_name),
            ("lastname", person.last_name),
            ("phone", person.phone),
            ("company", person.company),
        ):
            if value:
                props[key] = value
        props.update({k: "" if v is None else str(v) for k, v in person.properties.items()})
        body = {"inputs": [{"id": person.email, "idProperty": "email", "properties": props}]}
        data = self.http.call("POST", f"{self.base}/crm/v3/objects/contacts/batch/upsert", body=body)
        results = data.get("results") if isinstance(data, dict) else None
        if not results or not isinstance(results[0], dict) or not results[0].get("id"):
            raise CrmError("hubspot: the batch upsert answered without a record", temporary=False)
        first = results[0]
        return CrmRecord(SYSTEM, "contact", str(first["id"]), bool(first["new"]) if "new" in first else None)

    def _create(self, object_type: str, properties: dict[str, Any], to: CrmRecord, type_id: int) -> CrmRecord:
        body = {
            "properties": properties,
            "associations": [
                {
                    "to": {"id": to.id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
                }
            ],
        }
        data = self.http.call("POST", f"{self.base}/crm/v3/objects/{object_type}", body=body)
        if not isinstance(data, dict) or not data.get("id"):
            raise CrmError(f"hubspot: creating a {object_type[:-1]} answered without an id", temporary=False)
        return CrmRecord(SYSTEM, object_type[:-1], str(data["id"]), True)

    def create_task(self, person: CrmRecord, task: CrmTask) -> CrmRecord:
        props: dict[str, Any] = {
            "hs_task_subject": task.title,
            "hs_task_body": task.body,
            "hs_timestamp": _ms(task.due_at),
            "hs_task_status": "NOT_STARTED",
            "hs_task_type": "TODO",
        }
        if task.priority:
            props["hs_task_priority"] = task.priority.upper()
        return self._create("tasks", props, person, TASK_TO_CONTACT)

    def create_deal(self, person: CrmRecord, deal: CrmDeal) -> CrmRecord:
        props: dict[str, Any] = {"dealname": deal.name, "closedate": _ms(deal.close_at)}
        if deal.amount is not None:
            props["amount"] = str(deal.amount)
        if deal.stage:
            props["dealstage"] = deal.stage
        if deal.pipeline:
            props["pipeline"] = deal.pipeline
        return self._create("deals", props, person, DEAL_TO_CONTACT)

    def ownership(self, person: CrmRecord) -> CrmOwnership:
        data = self.http.call(
            "GET",
            f"{self.base}/crm/v3/objects/contacts/{quote(person.id, safe='')}",
            params={"properties": "hubspot_owner_id,lifecyclestage"},
        )
        props = (data or {}).get("properties") or {} if isinstance(data, dict) else {}
        owner_id = props.get("hubspot_owner_id") or None
        owner = None
        if owner_id:
            found = self.http.call("GET", f"{self.base}/crm/v3/owners/{quote(str(owner_id), safe='')}")
            owner = (found or {}).get("email") if isinstance(found, dict) else None
            owner = owner or f"hubspot:{owner_id}"
        return CrmOwnership(owner=owner, stage=props.get("lifecyclestage") or None)

    def close(self) -> None:
        self.http.close()


def build_client(container: Wiring) -> HubSpotClient | None:
    """HubSpot as configured (``TIDINGS_HUBSPOT_TOKEN``), or None."""
    from tidings.channels.webhooks import allow_list

    s = container.settings
    if not s.hubspot_token:
        return None
    http = CrmHttp(SYSTEM, s.hubspot_token, allow_list(container), describe, now=container.clock.now)
    return HubSpotClient(s.hubspot_url, http)
