"""The ``CrmClient`` port on Salesforce's REST API (an OAuth access token, ``Bearer``, on the org's
instance URL).

- lead: ``PATCH /services/data/vXX.X/sobjects/Lead/<external id field>/<email>`` (the upsert by
  external id: 201 ``{"id", "success", "errors", "created": true}`` for a new record, 200 with
  ``"created": false`` — or 204 without a body on older API versions — for an update; 300 when
  the value matches several records). ``LastName`` and ``Company`` are required by Salesforce: the
  contact's last name (else its email) and ``attributes.company`` (else
  ``TIDINGS_SALESFORCE_DEFAULT_COMPANY``);
- task: ``POST /services/data/vXX.X/sobjects/Task`` with ``Subject``, ``Description``,
  ``ActivityDate``, ``Status: Not Started``, ``Priority`` and ``WhoId`` = the lead;
- deal: ``POST /services/data/vXX.X/sobjects/Opportunity`` with ``Name``, ``StageName``,
  ``CloseDate``, ``Amount`` (an Opportunity has no lead field: the deal is not linked to the lead
  until the lead is converted in Salesforce; docs/crm.md);
- read back: ``GET /services/data/vXX.X/query?q=SELECT Id, Status, Owner.Email FROM Lead WHERE
  Id = '<id>'``.

Salesforce's errors are a list ``[{"message", "errorCode", "fields"}]``; the first message is
what a dead letter shows.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tidings.application.ports.crm import CrmDeal, CrmError, CrmOwnership, CrmPerson, CrmRecord, CrmTask
from tidings.channels.crm_http import CrmHttp

if TYPE_CHECKING:
    from tidings.application.ports.wiring import Wiring

SYSTEM = "salesforce"
#: record ids are 15 or 18 letters and digits: anything else never reaches a SOQL string
RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
PRIORITY = {"low": "Low", "medium": "Normal", "high": "High"}


def describe(status: int, data: Any) -> tuple[str, str | None]:
    if isinstance(data, list) and data and isinstance(data[0], dict):
        first = data[0]
        fields = first.get("fields") or []
        message = str(first.get("message") or f"HTTP {status}")
        if fields:
            message += f" (fields: {', '.join(str(f) for f in fields)})"
        return message, str(first.get("errorCode") or "") or None
    if status == 300:
        return "several records match this external id", "MULTIPLE_CHOICES"
    return f"HTTP {status}", None


class SalesforceClient:
    system = SYSTEM

    def __init__(
        self, instance_url: str, http: CrmHttp, *, api_version: str, external_id: str, default_company: str
    ) -> None:
        self.base = f"{instance_url.rstrip('/')}/services/data/{api_version}"
        self.http = http
        self.external_id = external_id
        self.default_company = default_company

    def _created(self, data: Any, what: str) -> CrmRecord:
        if not isinstance(data, dict) or not data.get("id") or data.get("success") is False:
            errors = data.get("errors") if isinstance(data, dict) else None
            raise CrmError(f"salesforce: creating a {what} failed: {errors or 'no id'}", temporary=False)
        return CrmRecord(SYSTEM, what.lower(), str(data["id"]), data.get("created", True))

    def upsert_contact(self, person: CrmPerson) -> CrmRecord:
        fields: dict[str, Any] = {
            "LastName": person.last_name or person.email,
            "Company": person.company or self.default_company,
        }
        if self.external_id.lower() != "email":  # the email is in the path; a custom field keeps it too
            fields["Email"] = person.email
        if person.first_name:
            fields["FirstName"] = person.first_name
        if person.phone:
            fields["Phone"] = person.phone
        fields.update(dict(person.properties))
        path = f"{self.base}/sobjects/Lead/{quote(self.external_id, safe='')}/{quote(person.email, safe='@')}"
        data = self.http.call("PATCH", path, body=fields)
        if data is None:  # 204: updated (API versions before 46.0 answer without a body)
            return self._find_lead(person.email)
        return self._created(data, "Lead")

    def _find_lead(self, email: str) -> CrmRecord:
        path = f"{self.base}/sobjects/Lead/{quote(self.external_id, safe='')}/{quote(email, safe='@')}"
        data = self.http.call("GET", path, params={"fields": "Id"})
        if not isinstance(data, dict) or not data.get("Id"):
            raise CrmError("salesforce: the updated lead cannot be read back", temporary=False)
        return CrmRecord(SYSTEM, "lead", str(data["Id"]), False)

    def create_task(self, person: CrmRecord, task: CrmTask) -> CrmRecord:
        body: dict[str, Any] = {
            "Subject": task.title,
            "Description": task.body,
            "ActivityDate": task.due_at.date().isoformat(),
            "Status": "Not Started",
            "WhoId": person.id,
        }
        if task.priority:
            body["Priority"] = PRIORITY.get(task.priority, "Normal")
        return self._created(self.http.call("POST", f"{self.base}/sobjects/Task", body=body), "Task")

    def create_deal(self, person: CrmRecord, deal: CrmDeal) -> CrmRecord:
        body: dict[str, Any] = {
            "Name": deal.name,
            "StageName": deal.stage or "Prospecting",
            "CloseDate": deal.close_at.date().isoformat(),
            "Description": f"From Tidings, lead {person.id}",
        }
        if deal.amount is not None:
            body["Amount"] = deal.amount
        return self._created(self.http.call("POST", f"{self.base}/sobjects/Opportunity", body=body), "Opportunity")

    def ownership(self, person: CrmRecord) -> CrmOwnership:
        if not RECORD_ID.match(person.id):
            raise CrmError(f"salesforce: {person.id!r} is not a record id", temporary=False)
        soql = f"SELECT Id, Status, Owner.Email FROM Lead WHERE Id = '{person.id}'"
        data = self.http.call("GET", f"{self.base}/query", params={"q": soql})
        records = data.get("records") if isinstance(data, dict) else None
        if not records:
            return CrmOwnership()
        row = records[0]
        owner = row.get("Owner") or {}
        return CrmOwnership(owner=owner.get("Email") or None, stage=row.get("Status") or None)

    def close(self) -> None:
        self.http.close()


def build_client(container: Wiring) -> SalesforceClient | None:
    """Salesforce as configured (instance URL and token), or None."""
    from tidings.channels.webhooks import allow_list

    s = container.settings
    if not (s.salesforce_instance_url and s.salesforce_token):
        return None
    http = CrmHttp(SYSTEM, s.salesforce_token, allow_list(container), describe, now=container.clock.now)
    return SalesforceClient(
        s.salesforce_instance_url,
        http,
        api_version=s.salesforce_api_version,
        external_id=s.salesforce_lead_external_id,
        default_company=s.salesforce_default_company,
    )
