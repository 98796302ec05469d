"""The whole stack on the test clock: a 2-day journey runs in seconds through the real SMTP catcher."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from tests.conftest import LiveStack
from tests.integration.channels_helpers import add_contact, add_template
from tests.integration.journey_support import WELCOME, add_event
from tidings.application.access.keys import create_key
from tidings.clock import ManualClock
from tidings.store import schema
from tidings.store.sql_uow import SqlUnitOfWork


def test_journey_runs_on_the_test_clock_through_smtp(live_stack: LiveStack, clock: ManualClock) -> None:
    eng = live_stack.container.engine
    _, key = create_key(SqlUnitOfWork(eng), "e2e", ["admin"], clock.now())
    add_template(eng, clock.now(), "welcome-1", subject="Welcome")
    add_template(eng, clock.now(), "tips", subject="Tips")
    cid = add_contact(eng, clock.now(), email="live@example.org")
    with httpx.Client(
        base_url=live_stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as http:
        r = http.post(
            "/api/journeys?publish=true", content=WELCOME, headers={"Content-Type": "application/yaml"}
        )
        assert r.status_code == 201, r.text
        with eng.begin() as conn:
            add_event(conn, cid, "signed_up", clock.now())
        assert http.post("/api/test/clock/advance", json={"seconds": 1}).status_code == 200

        def subjects() -> list[str]:
            with eng.connect() as conn:
                return list(
                    conn.execute(sa.select(schema.inbox.c.subject).order_by(schema.inbox.c.id)).scalars()
                )

        assert subjects() == ["Welcome"]
        r = http.post("/api/test/clock/advance", json={"seconds": 3 * 86400})
        assert r.status_code == 200, r.text
        assert subjects() == ["Welcome", "Tips"]
        why = http.get(f"/api/contacts/{cid}/why").json()
        assert [(m["template"], m["status"]) for m in why["messages"]] == [
            ("welcome-1", "sent"),
            ("tips", "sent"),
        ]
