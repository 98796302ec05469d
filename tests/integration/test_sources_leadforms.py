"""Lead forms in over HTTP: Meta lead ads (signed, lead read from a real local fake Graph server)
and Google lead form extensions (google_key); contacts with consent proof, stored once."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.fake_http import FakeHttpServer, Recorded, Reply
from tidings.bootstrap import Container
from tidings.domain.vendors import signatures as sig
from tidings.store import schema

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors"
LEAD = json.loads((FIXTURES / "meta_graph_lead.json").read_text())


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def stored(engine: sa.Engine) -> tuple[list[tuple[str, str | None]], list[dict[str, Any]]]:
    e, c, k = schema.events, schema.contacts, schema.consents
    with engine.connect() as conn:
        evs = conn.execute(
            sa.select(e.c.name, c.c.email)
            .join(c, c.c.id == e.c.contact_id)
            .where(e.c.name == "lead.submitted")
            .order_by(e.c.id)
        ).all()
        consents = [
            dict(r)
            for r in conn.execute(
                sa.select(c.c.email, c.c.phone, c.c.first_name, k.c.channel, k.c.status, k.c.source, k.c.proof).join(
                    k, k.c.contact_id == c.c.id
                )
            ).mappings()
        ]
    return [(r[0], r[1]) for r in evs], consents


def graph(rec: Recorded) -> Reply:
    lead_id = rec.path.split("?")[0].rsplit("/", 1)[-1]
    if rec.headers.get("authorization") != "Bearer page-token" or lead_id != LEAD["id"]:
        return Reply(400, {"error": {"message": "Invalid OAuth access token or lead", "code": 190}})
    return Reply(200, LEAD)


def meta_post(api: Any, path: str, secret: str, body: bytes) -> Any:
    return api.post(
        path,
        content=body,
        headers={"X-Hub-Signature-256": sig.meta_signature(secret, body), "Content-Type": "application/json"},
    )


def test_meta_lead_ads(api: Any, container: Container, engine: sa.Engine) -> None:
    made = api.post("/api/sources", json={"vendor": "meta-leads", "secret": "meta-app-secret"}).json()
    token = made["verify_token"]
    assert token == sig.meta_verify_token("meta-app-secret") and "meta-app-secret" not in token
    # the subscription check: the challenge echoed only for the right token
    ok = api.get(
        "/webhooks/meta-leads",
        params={"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"},
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    bad = api.get(
        "/webhooks/meta-leads", params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"}
    )
    assert bad.status_code == 403
    body = fixture("meta_leadgen_webhook")
    path = made["webhook_path"]
    assert path == f"/webhooks/meta-leads/{made['id']}"
    # no Graph token configured: 503 (Meta retries), nothing stored
    assert meta_post(api, path, "meta-app-secret", body).status_code == 503
    with FakeHttpServer(graph) as server:
        container.settings = dataclasses.replace(
            container.settings, meta_graph_url=server.url + "/v21.0", meta_access_token="page-token"
        )
        forged = meta_post(api, path, "not-the-secret", body)
        assert forged.status_code == 401 and server.requests == []  # refused before any fetch
        first = meta_post(api, path, "meta-app-secret", body)
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "stored" and first.json()["accepted"] == 2
        assert server.requests[0].path.startswith("/v21.0/444444444444?fields=")
        replay = meta_post(api, "/webhooks/meta-leads", "meta-app-secret", body)  # Meta's retry, or a replay
        assert replay.json()["duplicates"] == 1  # the track; the identify only re-applies traits
        events, consents = stored(engine)
        assert events == [("lead.submitted", "joe@example.com")]
        [consent] = consents
        assert consent["phone"] == "+16505550188" and consent["first_name"] == "Joe"
        assert (consent["channel"], consent["status"], consent["source"]) == (
            "email",
            "granted",
            "meta-leads:444444444444",
        )
        assert consent["proof"]["lead_id"] == "444444444444"
        assert consent["proof"]["custom_disclaimer_responses"] == [
            {"checkbox_key": "marketing_optin", "is_checked": True}
        ]
        # a lead the Graph API will not give: 503, nothing stored
        other = body.replace(b'"leadgen_id": "444444444444"', b'"leadgen_id": "555"')
        assert meta_post(api, path, "meta-app-secret", other).status_code == 503
        # another field: accepted and ignored; a lead id that is not Meta's: 422
        feed = json.dumps({"object": "page", "entry": [{"id": "1", "changes": [{"field": "feed", "value": {}}]}]})
        ignored = meta_post(api, path, "meta-app-secret", feed.encode())
        assert ignored.status_code == 200 and ignored.json()["status"] == "ignored"
        sneaky = body.replace(b'"leadgen_id": "444444444444"', b'"leadgen_id": "../me"')
        assert meta_post(api, path, "meta-app-secret", sneaky).status_code == 422
        huge = meta_post(api, path, "meta-app-secret", b" " * (1024 * 1024 + 1))
        assert huge.status_code == 413
    assert len(stored(engine)[0]) == 1


def test_google_lead_form(api: Any, engine: sa.Engine) -> None:
    made = api.post("/api/sources", json={"vendor": "google-leads", "secret": "gkey-secret-123"}).json()
    body = fixture("google_lead_form")
    wrong = api.post("/webhooks/google-leads", content=body.replace(b"gkey-secret-123", b"gkey-guessed-99"))
    assert wrong.status_code == 401
    first = api.post(made["webhook_path"], content=body)
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 2
    assert api.post("/webhooks/google-leads", content=body).json()["duplicates"] == 1
    test_lead = json.loads(body)
    test_lead.update(is_test=True, lead_id="another-lead")
    t = api.post("/webhooks/google-leads", content=json.dumps(test_lead).encode())
    assert t.status_code == 200 and t.json()["status"] == "ignored"
    events, consents = stored(engine)
    assert events == [("lead.submitted", "test@example.com")]
    [consent] = consents
    assert (consent["status"], consent["source"], consent["first_name"]) == (
        "granted",
        "google-leads:40000000000",
        "FirstName",
    )
    assert consent["proof"]["gcl_id"] == "gclid-example-000"
    broken = json.loads(body)
    broken.pop("lead_id")
    assert api.post("/webhooks/google-leads", content=json.dumps(broken).encode()).status_code == 422
