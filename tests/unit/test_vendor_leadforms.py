"""Lead forms, pure: Meta's leadgen changes and lead, Google's webhook body, their signatures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tidings.domain.event_names import canonical_event_name
from tidings.domain.vendors import signatures as sig
from tidings.domain.vendors.leadforms import map_google, map_meta, meta_refs
from tidings.domain.vendors.model import PayloadError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors"


def load(name: str) -> dict:  # type: ignore[type-arg]
    return dict(json.loads((FIXTURES / f"{name}.json").read_text()))


def test_meta_refs_and_lead_mapping() -> None:
    refs, skipped = meta_refs(load("meta_leadgen_webhook"))
    assert skipped == [] and [r.leadgen_id for r in refs] == ["444444444444"]
    mapped = map_meta(7, refs[0], load("meta_graph_lead"))
    identify, track = mapped.calls
    assert identify.traits["email"] == "Joe@Example.com" and identify.traits["last_name"] == "Example"
    assert identify.traits["consent"]["email"]["status"] == "granted"
    assert track.name == "Lead Submitted" and canonical_event_name(track.name) == "lead.submitted"
    assert track.message_id == "meta-leads:7:lead:444444444444"
    assert track.properties["answers"] == {"car_make": "Honda", "selected_dealer": "99213450"}


def test_meta_unticked_consent_box_is_denied_and_no_email_ignored() -> None:
    refs, _ = meta_refs(load("meta_leadgen_webhook"))
    lead = load("meta_graph_lead")
    lead["custom_disclaimer_responses"] = [{"checkbox_key": "marketing_optin", "is_checked": "0"}]
    assert map_meta(1, refs[0], lead).calls[0].traits["consent"]["email"]["status"] == "denied"
    lead["field_data"] = [{"name": "full_name", "values": ["No Mail"]}]
    assert map_meta(1, refs[0], lead).ignored == "meta-leads lead 444444444444 has no email"


def test_meta_refs_refuse_ids_that_are_not_meta_and_skip_other_objects() -> None:
    body = load("meta_leadgen_webhook")
    body["entry"][0]["changes"][0]["value"]["leadgen_id"] = "1/../../me"
    with pytest.raises(PayloadError):
        meta_refs(body)
    assert meta_refs({"object": "instagram", "entry": []}) == ([], ["object 'instagram' is not mapped"])


def test_google_mapping_and_test_leads() -> None:
    body = load("google_lead_form")
    identify, track = map_google(3, body).calls
    assert identify.traits["phone"] == "+16505550123" and identify.traits["first_name"] == "FirstName"
    assert track.properties["gcl_id"] == "gclid-example-000" and track.properties["form_id"] == "40000000000"
    assert track.properties["answers"] == {"dealership": "Mountain View"}
    body["is_test"] = True
    assert map_google(3, body).calls == () and "test lead" in (map_google(3, body).ignored or "")


def test_lead_signatures() -> None:
    body = b'{"object": "page"}'
    good = sig.meta_signature("s3cret-app", body)
    assert good.startswith("sha256=") and len(good) == 71
    assert sig.verify("meta-leads", "s3cret-app", {"x-hub-signature-256": good}, body, None) is None  # type: ignore[arg-type]
    assert sig.verify("meta-leads", "s3cret-app", {"x-hub-signature-256": good}, body + b" ", None)  # type: ignore[arg-type]
    assert sig.verify("meta-leads", "s3cret-app", {}, body, None)  # type: ignore[arg-type]
    g = json.dumps({"google_key": "k-123456"}).encode()
    assert sig.verify("google-leads", "k-123456", {}, g, None) is None  # type: ignore[arg-type]
    assert sig.verify("google-leads", "k-1234567", {}, g, None)  # type: ignore[arg-type]
    assert sig.verify("google-leads", "k-123456", {}, b"not json", None)  # type: ignore[arg-type]
    assert sig.meta_verify_token("a-secret") != sig.meta_verify_token("b-secret")
