"""Web app: contacts list, profile, timeline, the "why" of a message, escaping, dashboard, inbox."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from tests.web_support import web_client
from tidings.application.analytics import rollups
from tidings.application.contacts.contacts import create_contact, normalise_input
from tidings.domain.snapshot import EventRecord
from tidings.store import schema
from tidings.store.analytics import SqlAnalytics
from tidings.store.sql_uow import joined

XSS = "<script>alert(1)</script>"


def _seed(container) -> tuple[int, int]:
    now = container.clock.now()
    with container.engine.begin() as conn:
        data = normalise_input(
            {
                "email": "x@example.com",
                "first_name": XSS,
                "last_name": "O'Hara",
                "attributes": {"plan": XSS, "nested": {"k": "<b>v</b>"}},
                "tags": ["vip"],
                "consent": {
                    "email": {
                        "status": "granted",
                        "source": "form",
                        "proof": {"text": "Yes, email me <i>news</i>", "ip": "192.0.2.1"},
                    }
                },
            },
            now,
        )
        cid = create_contact(joined(conn), data, now)
        conn.execute(
            sa.insert(schema.events).values(
                contact_id=cid,
                name="order.placed",
                properties={"note": XSS},
                occurred_at=now,
                received_at=now,
                value=42.5,
            )
        )
        jid = conn.execute(
            sa.insert(schema.journeys)
            .values(
                key="welcome",
                name="Welcome",
                status="active",
                current_version=1,
                created_at=now,
                updated_at=now,
            )
            .returning(schema.journeys.c.id)
        ).scalar_one()
        eid = conn.execute(
            sa.insert(schema.enrollments)
            .values(
                contact_id=cid,
                journey_id=jid,
                version=1,
                status="waiting",
                step_id="nap",
                state={},
                entered_at=now,
                updated_at=now,
            )
            .returning(schema.enrollments.c.id)
        ).scalar_one()
        conn.execute(
            sa.insert(schema.traces).values(
                contact_id=cid,
                enrollment_id=eid,
                journey_id=jid,
                journey_version=1,
                step_id=None,
                stimulus="event",
                action="entered",
                detail={"trigger": 0, "event": {"name": "subscribed"}},
                at=now,
            )
        )
        tid = conn.execute(
            sa.insert(schema.traces)
            .values(
                contact_id=cid,
                enrollment_id=eid,
                journey_id=jid,
                journey_version=1,
                step_id="hello",
                stimulus="event",
                action="send",
                detail={"condition": {"rule": "tag vip", "value": True}},
                at=now,
            )
            .returning(schema.traces.c.id)
        ).scalar_one()
        oid = conn.execute(
            sa.insert(schema.outbox)
            .values(
                contact_id=cid,
                idempotency_key="k1",
                kind="message",
                channel="email",
                template="welcome",
                journey_id=jid,
                journey_version=1,
                enrollment_id=eid,
                step_id="hello",
                trace_id=tid,
                payload={},
                status="sent",
                next_attempt_at=now,
                subject=XSS,
                created_at=now,
                sent_at=now,
            )
            .returning(schema.outbox.c.id)
        ).scalar_one()
        conn.execute(sa.update(schema.traces).where(schema.traces.c.id == tid).values(outbox_id=oid))
        conn.execute(  # what the engine records when a contact reaches the journey's goal
            sa.insert(schema.events).values(
                contact_id=cid,
                name="journey.converted",
                properties={"journey": "welcome", "goal": "purchase", "revenue": 99.5},
                occurred_at=now,
                received_at=now,
                value=99.5,
            )
        )
        for name in ("message.sent", "message.opened"):
            conn.execute(
                sa.insert(schema.events).values(
                    contact_id=cid,
                    name=name,
                    properties={},
                    occurred_at=now - timedelta(hours=1),
                    received_at=now,
                )
            )
        conn.execute(
            sa.insert(schema.events).values(
                contact_id=cid,
                name="message.sent",
                properties={},
                occurred_at=now - timedelta(days=8),
                received_at=now,
            )
        )
        conn.execute(
            sa.insert(schema.inbox).values(
                channel="email",
                sender="hello@tidings.localhost",
                recipient="x@example.com",
                subject=XSS,
                body_text="Hi http://127.0.0.1/t/c/abc",
                body_html='<p>Hi</p><script>alert(2)</script><a href="http://127.0.0.1/t/c/abc">go</a>',
                headers={"X-Test": XSS},
                received_at=now,
            )
        )
    return cid, oid


def test_user_text_is_escaped_everywhere(container):
    cid, oid = _seed(container)
    with web_client(container, "viewer") as (client, _):
        pages = [
            client.get("/contacts").text,
            client.get(f"/contacts/{cid}").text,
            client.get(f"/contacts/{cid}/why/{oid}").text,
            client.get("/inbox").text,
            client.get("/inbox/1").text,
            client.get("/contacts?q=%3Cscript%3E").text,
        ]
        for page in pages:
            assert XSS not in page
        profile = pages[1]
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in profile
        assert "O&#39;Hara" in profile
        assert "Yes, email me &lt;i&gt;news&lt;/i&gt;" in profile  # consent proof
        assert "order.placed" in profile and "vip" in profile and "Welcome" in profile


def test_search_and_filters(container):
    cid, _ = _seed(container)
    with web_client(container, "viewer") as (client, _):
        assert f'href="/contacts/{cid}"' in client.get("/contacts?q=x@exam").text
        assert f'href="/contacts/{cid}"' in client.get("/contacts?tag=vip").text
        assert f'href="/contacts/{cid}"' not in client.get("/contacts?tag=other").text
        partial = client.get(
            "/contacts?q=nobody", headers={"HX-Request": "true", "HX-Target": "results"}
        ).text
        assert "No contacts match" in partial and "<html" not in partial
        assert client.get("/contacts/999999").status_code == 404


def test_why_names_journey_version_step_trigger_and_conditions(container):
    cid, oid = _seed(container)
    with web_client(container, "viewer") as (client, _):
        r = client.get(f"/contacts/{cid}/why/{oid}", headers={"HX-Request": "true"})
        assert r.status_code == 200 and "<html" not in r.text
        for text in ("Welcome", "v1", "hello", "entered", "subscribed", "tag vip", "trigger"):
            assert text in r.text, text
        # the path as sentences first; the raw trace only behind "Show data"
        story = r.text.split('class="story"')[1].split("</ol>")[0]
        assert "Entered Welcome v1 because subscribed happened" in story and "{" not in story
        assert r.text.index("<details") < r.text.index("tag vip")
        assert client.get(f"/contacts/{cid}/why/999").status_code == 404


def test_dashboard_figures_and_chart_data(container):
    """The weekly figures come from the rollups: people's opens apart from machine opens (Apple
    MPP), rates over delivered, last week's figures beside this week's."""
    _, oid = _seed(container)
    now = container.clock.now()
    p = {"message_id": oid, "channel": "email"}
    events = [
        EventRecord("message.sent", now - timedelta(hours=2), p),
        EventRecord("message.opened", now - timedelta(hours=1), {**p, "machine": True}),
        EventRecord("message.opened", now - timedelta(hours=1), p),
        EventRecord("message.opened", now - timedelta(minutes=30), p),  # the same person again
        EventRecord("journey.converted", now, {"journey": "welcome", "attributed_to": {"message_id": oid}}, 99.5),
        EventRecord("message.sent", now - timedelta(days=8), {"channel": "email"}),
    ]
    with container.engine.begin() as conn:
        rollups.feed(SqlAnalytics(conn), events)
    with web_client(container, "viewer") as (client, _):
        page = client.get("/").text
        assert "Revenue from journeys" in page and "99.50" in page
        assert "Opened (machines)" in page and "Open rate (people)" in page and "100.0%" in page
        data = client.get("/dashboard/data.json?chart=week").json()
        this_week = dict(zip(data["labels"], data["datasets"][1]["data"], strict=True))
        last_week = dict(zip(data["labels"], data["datasets"][0]["data"], strict=True))
        assert this_week["Sent"] == 1 and this_week["Opened (people)"] == 1 and this_week["Converted"] == 1
        assert this_week["Opened (machines)"] == 1 and this_week["Delivered"] == 1
        assert last_week["Sent"] == 1 and last_week["Opened (people)"] == 0
        daily = client.get("/dashboard/data.json?chart=daily").json()
        series = {d["label"]: d["data"] for d in daily["datasets"]}
        assert daily["type"] == "line" and sum(series["Sent"]) == 2  # 8 days ago is within the 14 days
        assert sum(series["Opened (people)"]) == 1 and sum(series["Opened (machines)"]) == 1


def test_inbox_shows_message_in_a_sandboxed_frame_with_links(container):
    _seed(container)
    with web_client(container, "viewer") as (client, _):
        page = client.get("/inbox/1").text
        assert 'sandbox=""' in page and 'src="/inbox/1/body"' in page
        assert "http://127.0.0.1/t/c/abc" in page
        body = client.get("/inbox/1/body")
        assert body.headers["content-security-policy"].startswith("sandbox")
        assert "script-src" not in body.headers["content-security-policy"]
        assert body.headers["x-frame-options"] == "SAMEORIGIN"


def test_filter_contacts_in_a_journey_at_a_step(container):
    cid, _ = _seed(container)  # waiting at step "nap" of journey "welcome"
    with web_client(container, "viewer") as (client, _):
        assert f'href="/contacts/{cid}"' in client.get("/contacts?journey=welcome&step=nap").text
        assert f'href="/contacts/{cid}"' in client.get("/contacts?journey=welcome").text
        assert f'href="/contacts/{cid}"' not in client.get("/contacts?journey=welcome&step=hello").text
        assert f'href="/contacts/{cid}"' not in client.get("/contacts?journey=other").text
