"""The whole stack (real HTTP server, worker, SMTP catcher): events arrive over HTTP, the
worker enrols people, and the audit and the blast-radius preview read the result."""

from __future__ import annotations

import httpx

from tests.conftest import LiveStack
from tests.integration.channels_helpers import add_template
from tidings.application.access.keys import create_key
from tidings.clock import ManualClock
from tidings.store.sql_uow import SqlUnitOfWork

PROMO = """key: {key}
triggers:
  - event: signed_up
steps:
  - id: hello
    type: send
    channel: email
    template: hello
  - id: hold
    type: wait
    duration: 3d
  - id: again
    type: send
    channel: email
    template: hello
"""


def test_audit_and_preview_over_http(live_stack: LiveStack, clock: ManualClock) -> None:
    eng = live_stack.container.engine
    _, key = create_key(SqlUnitOfWork(eng), "e2e", ["admin"], clock.now())
    add_template(eng, clock.now(), "hello", subject="Hello")
    yaml = {"Content-Type": "application/yaml"}
    with httpx.Client(base_url=live_stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        assert http.get("/api/audit").json()["findings"] == []
        for k in ("promo-a", "promo-b"):
            r = http.post("/api/journeys?publish=true", content=PROMO.format(key=k), headers=yaml)
            assert r.status_code == 201, r.text
        for i in range(3):
            consent = {"email": {"status": "granted", "source": "e2e"}}
            r = http.post("/api/contacts", json={"email": f"p{i}@example.org", "consent": consent})
            assert r.status_code in (200, 201), r.text
            r = http.post("/api/events", json={"name": "signed_up", "email": f"p{i}@example.org"})
            assert r.status_code == 202, r.text
        assert http.post("/api/test/settle").status_code == 200

        report = http.get("/api/audit").json()
        kinds = {f["kind"]: f for f in report["findings"]}
        assert kinds["contacts_in_several_journeys"]["detail"]["contacts"] == 3
        assert kinds["entry_overlap"]["subjects"] == ["journey:promo-a", "journey:promo-b"]

        # a third journey on the same event: 3 signed up in the last day, as many each day
        draft = PROMO.format(key="promo-c")
        p = http.post("/api/journeys/preview", content=draft, headers=yaml).json()
        assert p["would_enter"] == {"24h": 3, "7d": 21}
        assert p["messages"] == {"email": {"24h": 3, "7d": 21 + 12}}
        assert p["without_consent"] == {"email": {"24h": 0, "7d": 0}}
        # promo-a: they are in it already; its first emails went out through the catcher
        a = http.get("/api/journeys/promo-a/preview").json()
        assert a["not_entering"] == {"already enrolled for this key": 3}
        assert a["in_flight"]["enrolments"] == 3 and a["in_flight"]["timers_due"] == {"24h": 0, "7d": 3}
