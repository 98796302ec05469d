"""Local HubSpot and Salesforce: the documented request and response shapes, checked strictly.

Each fake is a responder for ``tests.fake_http.FakeHttpServer`` that keeps its records in memory.
A request that does not match the documented shape (auth header, path, method, JSON fields) is
answered 400 the way the real API answers, so an adapter drifting from the docs fails its tests.

HubSpot CRM v3: ``POST /crm/v3/objects/contacts/batch/upsert`` (``inputs`` of ``{id, idProperty,
properties}``, answer ``{status, results: [{id, properties, new, ...}], startedAt, completedAt}``),
``POST /crm/v3/objects/{tasks|deals}`` with ``associations`` (``to.id`` + ``types`` of
``{associationCategory, associationTypeId}``), ``GET /crm/v3/objects/contacts/{id}?properties=``,
``GET /crm/v3/owners/{id}``; errors ``{status: "error", message, correlationId, category}``.

Salesforce REST: ``PATCH /services/data/vXX.X/sobjects/Lead/{field}/{value}`` (201 created /
200 updated ``{id, success, errors, created}``), ``POST .../sobjects/{Task|Opportunity}`` (201
``{id, success, errors}``), ``GET .../query?q=SOQL``; errors ``[{message, errorCode, fields}]``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fake_http import Recorded, Reply

NOW = "2026-03-02T09:00:00.000Z"


def _hs_error(status: int, message: str, category: str) -> Reply:
    return Reply(
        status, {"status": "error", "message": message, "correlationId": "c0ffee00-0000", "category": category}
    )


@dataclass
class FakeHubSpot:
    token: str = "pat-na1-test"
    owners: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"64492917": {"id": "64492917", "email": "rep@corp.test", "firstName": "Rita"}}
    )
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    deals: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: what a new contact gets from HubSpot's own workflows (owner rotation, lifecycle)
    assign: dict[str, str] = field(
        default_factory=lambda: {"hubspot_owner_id": "64492917", "lifecyclestage": "salesqualifiedlead"}
    )
    #: scripted failures: the next requests are answered with these (FIFO)
    failures: list[Reply] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(501))

    def __call__(self, rec: Recorded) -> Reply:
        if rec.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(
                401,
                {
                    "status": "error",
                    "message": "Authentication credentials not found.",
                    "correlationId": "c0ffee00-0001",
                    "category": "INVALID_AUTHENTICATION",
                },
            )
        if self.failures:
            return self.failures.pop(0)
        url = urlsplit(rec.path)
        path, query = url.path, parse_qs(url.query)
        if rec.method == "POST" and path == "/crm/v3/objects/contacts/batch/upsert":
            return self._upsert(rec.json)
        if rec.method == "POST" and path in ("/crm/v3/objects/tasks", "/crm/v3/objects/deals"):
            return self._create(path.rsplit("/", 1)[1], rec.json)
        m = re.fullmatch(r"/crm/v3/objects/contacts/(\d+)", path)
        if rec.method == "GET" and m:
            found = self.contacts.get(m.group(1))
            if found is None:
                return _hs_error(404, "resource not found", "OBJECT_NOT_FOUND")
            wanted = (query.get("properties") or [""])[0].split(",")
            props = {k: found["properties"].get(k) for k in wanted if k}
            return Reply(
                200, {"id": found["id"], "properties": props, "archived": False, "createdAt": NOW, "updatedAt": NOW}
            )
        m = re.fullmatch(r"/crm/v3/owners/(\d+)", path)
        if rec.method == "GET" and m:
            owner = self.owners.get(m.group(1))
            return Reply(200, owner) if owner else _hs_error(404, "owner not found", "OBJECT_NOT_FOUND")
        return _hs_error(404, f"no route {rec.method} {path}", "OBJECT_NOT_FOUND")

    def _upsert(self, body: Any) -> Reply:
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not inputs:
            return _hs_error(400, "Invalid input JSON on line 1: inputs is required", "VALIDATION_ERROR")
        results = []
        for item in inputs:
            if set(item) - {"id", "idProperty", "properties", "objectWriteTraceId"}:
                return _hs_error(400, f"Unrecognized fields {sorted(item)}", "VALIDATION_ERROR")
            if item.get("idProperty") != "email" or not isinstance(item.get("properties"), dict):
                return _hs_error(400, "idProperty email and properties are required", "VALIDATION_ERROR")
            props = item["properties"]
            if any(not isinstance(v, str) for v in props.values()):
                return _hs_error(400, "Property values were not valid: values are strings", "VALIDATION_ERROR")
            if props.get("lifecyclestage") == "bogus":
                return _hs_error(
                    400,
                    'Property values were not valid: [{"isValid":false,"message":"bogus was not one of the '
                    'allowed options","error":"INVALID_OPTION","name":"lifecyclestage"}]',
                    "VALIDATION_ERROR",
                )
            existing = next((c for c in self.contacts.values() if c["properties"]["email"] == item["id"]), None)
            new = existing is None
            if existing is None:
                cid = str(next(self.ids))
                existing = {"id": cid, "properties": {"email": item["id"], **self.assign}}
                self.contacts[cid] = existing
            existing["properties"].update(props)
            results.append(
                {
                    "id": existing["id"],
                    "properties": dict(existing["properties"]),
                    "new": new,
                    "createdAt": NOW,
                    "updatedAt": NOW,
                    "archived": False,
                }
            )
        return Reply(200, {"status": "COMPLETE", "results": results, "startedAt": NOW, "completedAt": NOW})

    def _create(self, kind: str, body: Any) -> Reply:
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            return _hs_error(400, "properties is required", "VALIDATION_ERROR")
        props = body["properties"]
        required = {"tasks": ("hs_timestamp", "hs_task_subject"), "deals": ("dealname",)}[kind]
        missing = [p for p in required if not props.get(p)]
        if missing:
            return _hs_error(400, f"Property values were not valid: {missing} required", "VALIDATION_ERROR")
        type_id = {"tasks": 204, "deals": 3}[kind]
        for assoc in body.get("associations") or []:
            to = assoc.get("to", {}).get("id")
            if str(to) not in self.contacts:
                return _hs_error(400, f"association target {to} does not exist", "VALIDATION_ERROR")
            if assoc.get("types") != [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]:
                return _hs_error(400, "invalid association type", "VALIDATION_ERROR")
        rid = str(next(self.ids))
        store = self.tasks if kind == "tasks" else self.deals
        store[rid] = {"id": rid, "properties": props, "associations": body.get("associations") or []}
        return Reply(201, {"id": rid, "properties": props, "createdAt": NOW, "updatedAt": NOW, "archived": False})


def _sf_error(status: int, message: str, code: str, fields: list[str] | None = None) -> Reply:
    return Reply(status, [{"message": message, "errorCode": code, "fields": fields or []}])


@dataclass
class FakeSalesforce:
    token: str = "00Dxx0000000001!AQ4AQFake"
    version: str = "v60.0"
    external_id: str = "Email__c"
    leads: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    opportunities: dict[str, dict[str, Any]] = field(default_factory=dict)
    owner_email: str = "ae@corp.test"
    failures: list[Reply] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self.ids):015d}"[:18].ljust(18, "A")

    def __call__(self, rec: Recorded) -> Reply:
        if rec.headers.get("authorization") != f"Bearer {self.token}":
            return _sf_error(401, "Session expired or invalid", "INVALID_SESSION_ID")
        if self.failures:
            return self.failures.pop(0)
        url = urlsplit(rec.path)
        base = f"/services/data/{self.version}"
        if not url.path.startswith(base + "/"):
            return _sf_error(404, "The requested resource does not exist", "NOT_FOUND")
        path = url.path[len(base) :]
        m = re.fullmatch(r"/sobjects/Lead/([A-Za-z_]+)/(.+)", path)
        if m and rec.method == "PATCH":
            return self._upsert(m.group(1), unquote(m.group(2)), rec.json)
        if path in ("/sobjects/Task", "/sobjects/Opportunity") and rec.method == "POST":
            return self._create(path.rsplit("/", 1)[1], rec.json)
        if path == "/query" and rec.method == "GET":
            soql = parse_qs(url.query)["q"][0]
            m = re.fullmatch(r"SELECT Id, Status, Owner\.Email FROM Lead WHERE Id = '([A-Za-z0-9]{18})'", soql)
            if not m:
                return _sf_error(400, f"unexpected SOQL: {soql}", "MALFORMED_QUERY")
            lead = self.leads.get(m.group(1))
            records = []
            if lead:
                records = [
                    {
                        "attributes": {"type": "Lead", "url": f"{base}/sobjects/Lead/{lead['Id']}"},
                        "Id": lead["Id"],
                        "Status": lead["Status"],
                        "Owner": {"attributes": {"type": "User"}, "Email": self.owner_email},
                    }
                ]
            return Reply(200, {"totalSize": len(records), "done": True, "records": records})
        return _sf_error(404, "The requested resource does not exist", "NOT_FOUND")

    def _upsert(self, field_name: str, value: str, body: Any) -> Reply:
        if field_name != self.external_id:
            return _sf_error(
                404, f"Provided external ID field does not exist or is not accessible: {field_name}", "NOT_FOUND"
            )
        if not isinstance(body, dict) or "Id" in body or field_name in body:
            return _sf_error(400, "Id or the external id field is not allowed in the body", "INVALID_FIELD")
        existing = next((x for x in self.leads.values() if x.get(field_name) == value), None)
        if existing is None:
            missing = [f for f in ("LastName", "Company") if not body.get(f)]
            if missing:
                return _sf_error(400, f"Required fields are missing: {missing}", "REQUIRED_FIELD_MISSING", missing)
            lid = self._id("00Q")
            self.leads[lid] = {"Id": lid, field_name: value, "Status": "Working - Contacted", **body}
            return Reply(201, {"id": lid, "success": True, "errors": [], "created": True})
        existing.update(body)
        return Reply(200, {"id": existing["Id"], "success": True, "errors": [], "created": False})

    def _create(self, sobject: str, body: Any) -> Reply:
        required = {"Task": ("Subject",), "Opportunity": ("Name", "StageName", "CloseDate")}[sobject]
        missing = [f for f in required if not (isinstance(body, dict) and body.get(f))]
        if missing:
            return _sf_error(400, f"Required fields are missing: {missing}", "REQUIRED_FIELD_MISSING", missing)
        if sobject == "Task" and body.get("WhoId") not in self.leads:
            return _sf_error(400, "Who ID: id value of incorrect type", "FIELD_INTEGRITY_EXCEPTION", ["WhoId"])
        rid = self._id("00T" if sobject == "Task" else "006")
        (self.tasks if sobject == "Task" else self.opportunities)[rid] = {"Id": rid, **body}
        return Reply(201, {"id": rid, "success": True, "errors": []})
