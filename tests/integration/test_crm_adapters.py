"""The HubSpot and Salesforce adapters against local servers speaking the documented shapes:
the requests they send (auth, paths, JSON fields), the answers they read, and how failures are
classed (400/409 permanent with the CRM's message, 429 temporary with Retry-After)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.fake_crm import FakeHubSpot, FakeSalesforce
from tests.fake_http import FakeHttpServer, Reply
from tidings.application.ports.crm import CrmDeal, CrmError, CrmPerson, CrmTask
from tidings.channels.crm_http import CrmHttp
from tidings.channels.crm_hubspot import HubSpotClient
from tidings.channels.crm_hubspot import describe as hs_describe
from tidings.channels.crm_salesforce import SalesforceClient
from tidings.channels.crm_salesforce import describe as sf_describe
from tidings.channels.ssrf import AllowList

LOCAL = AllowList.parse(("127.0.0.1/32",))
WHEN = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANN = CrmPerson("ann@corp.test", "Ann", "Lee", "+15005550006", "Corp", {"leadsource": "Tidings"})


def hubspot(server: FakeHttpServer, token: str = "pat-na1-test") -> HubSpotClient:
    return HubSpotClient(server.url, CrmHttp("hubspot", token, LOCAL, hs_describe, now=lambda: WHEN))


def salesforce(server: FakeHttpServer, token: str = "00Dxx0000000001!AQ4AQFake") -> SalesforceClient:
    http = CrmHttp("salesforce", token, LOCAL, sf_describe, now=lambda: WHEN)
    return SalesforceClient(server.url, http, api_version="v60.0", external_id="Email__c", default_company="Unknown")


def test_hubspot_upsert_task_deal_and_read_back() -> None:
    fake = FakeHubSpot()
    with FakeHttpServer(fake) as server:
        client = hubspot(server)
        person = client.upsert_contact(ANN)
        again = client.upsert_contact(ANN)
        task = client.create_task(person, CrmTask("Call Ann", WHEN, "MQL", "high"))
        deal = client.create_deal(person, CrmDeal("Corp pilot", WHEN, 1200.0, "appointmentscheduled", "default"))
        owned = client.ownership(person)
        client.close()
    assert person.created is True and again.created is False and again.id == person.id
    upsert = server.requests[0]
    assert (upsert.method, upsert.path) == ("POST", "/crm/v3/objects/contacts/batch/upsert")
    assert upsert.headers["authorization"] == "Bearer pat-na1-test"
    assert upsert.json == {
        "inputs": [
            {
                "id": "ann@corp.test",
                "idProperty": "email",
                "properties": {
                    "email": "ann@corp.test",
                    "firstname": "Ann",
                    "lastname": "Lee",
                    "phone": "+15005550006",
                    "company": "Corp",
                    "leadsource": "Tidings",
                },
            }
        ]
    }
    stored_task = fake.tasks[task.id]
    assert stored_task["properties"]["hs_task_subject"] == "Call Ann"
    assert stored_task["properties"]["hs_timestamp"] == str(int(WHEN.timestamp() * 1000))
    assert stored_task["properties"]["hs_task_priority"] == "HIGH"
    assert stored_task["associations"][0]["to"] == {"id": person.id}
    assert fake.deals[deal.id]["properties"]["amount"] == "1200.0"
    assert owned.owner == "rep@corp.test" and owned.stage == "salesqualifiedlead"


def test_hubspot_errors_are_classed_with_the_crm_message() -> None:
    fake = FakeHubSpot()
    with FakeHttpServer(fake) as server:
        client = hubspot(server)
        with pytest.raises(CrmError) as bad:
            client.upsert_contact(CrmPerson("ann@corp.test", properties={"lifecyclestage": "bogus"}))
        fake.failures.append(
            Reply(
                409,
                {
                    "status": "error",
                    "message": "Contact already exists. Existing ID: 501",
                    "correlationId": "x",
                    "category": "CONFLICT",
                },
            )
        )
        with pytest.raises(CrmError) as conflict:
            client.upsert_contact(ANN)
        fake.failures.append(
            Reply(
                429,
                {
                    "status": "error",
                    "message": "You have reached your secondly limit.",
                    "errorType": "RATE_LIMIT",
                    "policyName": "SECONDLY",
                },
                {"Retry-After": "7"},
            )
        )
        with pytest.raises(CrmError) as limited:
            client.upsert_contact(ANN)
        with pytest.raises(CrmError) as unauthorised:
            hubspot(server, token="wrong").upsert_contact(ANN)
    assert not bad.value.temporary and bad.value.status == 400
    assert "bogus was not one of the allowed options" in str(bad.value)
    assert not conflict.value.temporary and "Existing ID: 501" in str(conflict.value)
    assert conflict.value.code == "CONFLICT"
    assert limited.value.temporary and limited.value.retry_after_s == 7.0
    assert not unauthorised.value.temporary and "Authentication credentials not found" in str(unauthorised.value)
    assert "wrong" not in str(unauthorised.value)  # the token is never in a message


def test_salesforce_upsert_by_external_id_task_opportunity_and_read_back() -> None:
    fake = FakeSalesforce()
    with FakeHttpServer(fake) as server:
        client = salesforce(server)
        lead = client.upsert_contact(ANN)
        again = client.upsert_contact(ANN)
        task = client.create_task(lead, CrmTask("Call Ann", WHEN, "MQL", "medium"))
        opp = client.create_deal(lead, CrmDeal("Corp pilot", WHEN, 1200.0))
        owned = client.ownership(lead)
        client.close()
    first = server.requests[0]
    assert (first.method, first.path) == ("PATCH", "/services/data/v60.0/sobjects/Lead/Email__c/ann@corp.test")
    assert first.headers["authorization"] == "Bearer 00Dxx0000000001!AQ4AQFake"
    assert first.json == {
        "LastName": "Lee",
        "Company": "Corp",
        "Email": "ann@corp.test",
        "FirstName": "Ann",
        "Phone": "+15005550006",
        "leadsource": "Tidings",
    }
    assert lead.created is True and again.created is False and again.id == lead.id
    assert fake.tasks[task.id]["WhoId"] == lead.id and fake.tasks[task.id]["Priority"] == "Normal"
    assert fake.tasks[task.id]["ActivityDate"] == "2026-03-02"
    assert fake.opportunities[opp.id]["StageName"] == "Prospecting"
    assert owned.owner == "ae@corp.test" and owned.stage == "Working - Contacted"


def test_salesforce_errors_are_classed_with_the_crm_message() -> None:
    fake = FakeSalesforce()
    with FakeHttpServer(fake) as server:
        client = salesforce(server)
        fake.failures.append(
            Reply(
                400,
                [
                    {
                        "message": "Required fields are missing: [LastName]",
                        "errorCode": "REQUIRED_FIELD_MISSING",
                        "fields": ["LastName"],
                    }
                ],
            )
        )
        with pytest.raises(CrmError) as missing:
            client.upsert_contact(ANN)
        fake.failures.append(
            Reply(503, [{"message": "Server unavailable", "errorCode": "SERVER_UNAVAILABLE"}], {"Retry-After": "30"})
        )
        with pytest.raises(CrmError) as down:
            client.upsert_contact(ANN)
        with pytest.raises(CrmError) as expired:
            salesforce(server, token="stale").upsert_contact(ANN)
    assert not missing.value.temporary and missing.value.code == "REQUIRED_FIELD_MISSING"
    assert "Required fields are missing: [LastName] (fields: LastName)" in str(missing.value)
    assert down.value.temporary and down.value.retry_after_s == 30.0
    assert not expired.value.temporary and expired.value.code == "INVALID_SESSION_ID"


def test_every_call_goes_through_the_ssrf_guard() -> None:
    client = HubSpotClient(
        "http://169.254.169.254", CrmHttp("hubspot", "t", AllowList.parse(()), hs_describe, now=lambda: WHEN)
    )
    with pytest.raises(CrmError) as refused:
        client.upsert_contact(ANN)
    assert not refused.value.temporary and "metadata" in str(refused.value)
