"""The crm step and the v2 webhook in journey documents: what parses, every refusal with its line
and step id, the effects the machine emits (one per visit, exactly-once key), the v2 signature."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.channels.webhooks import signature_v2, verify_v2
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.effects import CallCrm, CallWebhook
from tidings.domain.journeys.machine import advance
from tidings.domain.journeys.model import EngineContext, JourneyError
from tidings.domain.journeys.triggers import match_triggers
from tidings.domain.snapshot import ContactSnapshot, EventRecord
from tidings.settings import Settings

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DOC = """\
key: handoff
triggers:
  - event: score.threshold_crossed
steps:
  - id: upsert
    type: crm
    system: hubspot
    action: upsert_contact
    properties: {leadsource: Tidings}
  - id: call
    type: crm
    system: salesforce
    action: create_task
    title: Call them
    due_in: 2h
    priority: high
  - id: deal
    type: crm
    system: hubspot
    action: create_deal
    deal_name: Pilot
    amount: 1200
    write_back: false
  - id: notify
    type: webhook
    url: https://crm.example/hook
    payload: v2
    events: 5
"""


def _problems(text: str) -> list[tuple[str | None, int | None, str]]:
    with pytest.raises(JourneyError) as err:
        parse_journey(text)
    return [(p.step_id, p.line, p.message) for p in err.value.problems]


def test_crm_steps_run_once_each_with_their_payloads() -> None:
    doc = parse_journey(DOC)
    contact = ContactSnapshot(id=3, email="a@corp.test")
    [entry] = match_triggers(doc, EventRecord("score.threshold_crossed", T0, {}), contact, T0)
    t = advance(doc, None, entry, contact, T0, context=EngineContext(enrollment_id=9))
    crm = [e for e in t.effects if isinstance(e, CallCrm)]
    assert [(e.step_id, e.system, e.action) for e in crm] == [
        ("upsert", "hubspot", "upsert_contact"),
        ("call", "salesforce", "create_task"),
        ("deal", "hubspot", "create_deal"),
    ]
    assert len({e.idempotency_key for e in crm}) == 3
    assert crm[0].payload() == {
        "system": "hubspot",
        "action": "upsert_contact",
        "properties": {"leadsource": "Tidings"},
        "write_back": True,
    }
    assert crm[1].payload()["due_in_seconds"] == 7200 and crm[1].payload()["priority"] == "high"
    assert crm[2].payload()["amount"] == 1200.0 and crm[2].payload()["write_back"] is False
    (hook,) = [e for e in t.effects if isinstance(e, CallWebhook)]
    assert hook.payload()["payload"] == "v2" and hook.payload()["events"] == 5
    assert [x.action for x in t.trace if x.action in ("crm", "webhook")] == ["crm", "crm", "crm", "webhook"]


def test_a_v1_webhook_keeps_its_payload_shape() -> None:
    hook = CallWebhook("s", "https://x.example", "k")
    assert set(hook.payload()) == {"url", "method", "body", "headers"}


@pytest.mark.parametrize(
    ("fields", "line", "message"),
    [
        ("    system: pipedrive\n    action: upsert_contact\n", 6, "system is one of hubspot, salesforce"),
        ("    system: hubspot\n    action: call\n", 7, "action is one of upsert_contact, create_task, create_deal"),
        ("    system: hubspot\n    action: create_task\n", 4, "title"),
        ("    system: hubspot\n    action: create_deal\n", 4, "deal_name"),
        ("    action: upsert_contact\n", 4, "system"),
        ("    system: hubspot\n    action: upsert_contact\n    properties: {a: [1]}\n", 8, "properties maps"),
        ("    system: hubspot\n    action: upsert_contact\n    priority: urgent\n", 8, "priority is one of"),
        ("    system: hubspot\n    action: create_deal\n    deal_name: x\n    amount: lots\n", 9, "amount"),
        ("    system: hubspot\n    action: upsert_contact\n    write_back: maybe\n", 8, "write_back"),
        ("    system: hubspot\n    action: upsert_contact\n    colour: red\n", 8, "unknown field 'colour'"),
    ],
)
def test_crm_refusals_name_line_and_step(fields: str, line: int, message: str) -> None:
    # the step starts on line 4, its first field is on line 6
    (problem,) = _problems(f"key: j\ntriggers: [{{manual: true}}]\nsteps:\n  - id: hand\n    type: crm\n{fields}")
    assert problem[0] == "hand" and problem[1] == line and message in problem[2], problem


@pytest.mark.parametrize(
    ("extra", "message"), [("    payload: v3\n", "payload is v1 or v2"), ("    events: 500\n", "events is a whole")]
)
def test_webhook_v2_refusals(extra: str, message: str) -> None:
    text = "key: j\ntriggers: [{manual: true}]\nsteps:\n  - id: w\n    type: webhook\n    url: https://x.example\n"
    (problem,) = _problems(text + extra)
    assert problem[0] == "w" and problem[1] == 7 and message in problem[2]


@given(st.binary(max_size=300), st.text(min_size=1, max_size=40), st.integers(0, 2**33))
def test_v2_signature_verifies_only_the_same_body_secret_and_time(body: bytes, secret: str, ts: int) -> None:
    header = signature_v2(secret, ts, body)
    now = datetime.fromtimestamp(ts, UTC)
    assert verify_v2(secret, header, body, now)
    assert not verify_v2(secret + "x", header, body, now)
    assert not verify_v2(secret, header, body + b"x", now)
    assert not verify_v2(secret, header, body, now + timedelta(seconds=301))  # stale
    assert verify_v2(secret, f"{header},v1=00", body, now)  # a second (rotated) signature is allowed


def test_crm_settings_parse_and_secrets_stay_hidden() -> None:
    s = Settings.from_env(
        {
            "TIDINGS_HUBSPOT_TOKEN": "pat-secret",
            "TIDINGS_HUBSPOT_URL": "http://127.0.0.1:9/",
            "TIDINGS_CRM_STAGE_MAP": "hubspot:customer=won, salesforce:Open=lead",
            "TIDINGS_WEBHOOK_SECRETS": "crm.example=s3cret",
        }
    )
    assert s.hubspot_url == "http://127.0.0.1:9" and s.hubspot_token == "pat-secret"
    assert s.crm_stage_map == (("hubspot:customer", "won"), ("salesforce:Open", "lead"))
    assert s.webhook_secrets == (("crm.example", "s3cret"),)
    shown = repr(s)
    assert "pat-secret" not in shown and "s3cret" not in shown and "crm.example" in shown
    with pytest.raises(ValueError, match="TIDINGS_WEBHOOK_SECRETS: item 1 is not host=secret"):
        Settings.from_env({"TIDINGS_WEBHOOK_SECRETS": "oops"})


def test_a_writing_back_crm_step_is_a_journey_output_of_owner_and_stage() -> None:
    from tidings.domain.journeys.links import outputs

    got = {(o.step, o.target) for o in outputs(parse_journey(DOC)) if o.kind == "field"}
    assert {("upsert", "owner"), ("upsert", "lifecycle_stage"), ("call", "owner")} <= got
    assert not any(step == "deal" for step, _ in got)  # write_back: false


def test_the_stage_map_never_maps_a_fresh_crm_record_back_to_lead() -> None:
    from tidings.application.crm.handoff import stage_map

    stages = stage_map((("hubspot:customer", "won"), ("pipedrive:Won", "customer")))
    assert stages["hubspot"]["salesqualifiedlead"] == "sql" and stages["hubspot"]["customer"] == "won"
    assert "lead" not in stages["hubspot"] and "Open - Not Contacted" not in stages["salesforce"]
    assert stages["pipedrive"] == {"Won": "customer"}
