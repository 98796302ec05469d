"""The control features on the whole stack (HTTP API, worker, delivery, SMTP catcher, test clock)."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from tests.conftest import LiveStack
from tests.integration.channels_helpers import add_template
from tests.integration.test_control_caps import TWO_SENDS
from tests.integration.test_control_loops import PING, PONG
from tidings.application.access.keys import create_key
from tidings.clock import ManualClock
from tidings.store import schema

YAML = {"Content-Type": "application/yaml"}


def _client(live_stack: LiveStack, clock: ManualClock) -> httpx.Client:
    _, key = create_key(live_stack.container.uow(), "e2e", ["admin"], clock.now())
    return httpx.Client(base_url=live_stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def test_the_runaway_pair_is_stopped_and_alerted_through_the_api(live_stack: LiveStack, clock: ManualClock) -> None:
    with _client(live_stack, clock) as http:
        assert http.post("/api/journeys?publish=true", content=PING.format(limit=""), headers=YAML).status_code == 201
        refused = http.post("/api/journeys?publish=true", content=PONG.format(limit=""), headers=YAML)
        assert refused.status_code == 409 and "ping -> pong -> ping" in refused.json()["error"]["message"]
        ok = http.post("/api/journeys?publish=true", content=PONG.format(limit="  loop_limit: 3"), headers=YAML)
        assert ok.status_code == 201, ok.text
        r = http.post("/api/contacts", json={"email": "loop@example.org", "tags": ["y"]})
        assert r.status_code == 201, r.text
        assert http.post("/api/test/clock/advance", json={"seconds": 1}).status_code == 200
        alerts = http.get("/api/alerts").json()["items"]
        assert len(alerts) == 1 and alerts[0]["kind"] == "loop_stopped"
        assert "ping -> pong -> ping -> pong -> ping -> pong -> ping" in alerts[0]["message"]
        counts = {j: http.get(f"/api/journeys/{j}").json()["enrollments"][0]["count"] for j in ("ping", "pong")}
        assert counts == {"ping": 3, "pong": 3}


def test_a_capped_contact_receives_exactly_the_allowed_emails(live_stack: LiveStack, clock: ManualClock) -> None:
    eng = live_stack.container.engine
    for key in ("news", "promo"):
        for n in (1, 2):
            add_template(eng, clock.now(), f"{key}-{n}", subject=f"{key} {n}")
    with _client(live_stack, clock) as http:
        policy = {"caps": [{"channel": "email", "max": 1, "per": "day"}], "on_cap": "skip"}
        assert http.put("/api/policies", json=policy).status_code == 200
        for key in ("news", "promo"):
            doc = TWO_SENDS.format(key=key, extra="  category: marketing")
            assert http.post("/api/journeys?publish=true", content=doc, headers=YAML).status_code == 201
        body = {"email": "capped@example.org", "consent": {"email": {"status": "granted"}}}
        assert http.post("/api/contacts", json=body).status_code == 201, "contact"
        assert http.post("/api/events", json={"email": "capped@example.org", "name": "signed_up"}).status_code == 202
        assert http.post("/api/test/clock/advance", json={"seconds": 1}).status_code == 200
        with eng.connect() as conn:
            subjects = list(conn.execute(sa.select(schema.inbox.c.subject)).scalars())
        assert len(subjects) == 1, subjects
