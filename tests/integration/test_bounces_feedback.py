"""Generic signed bounce webhook, soft-bounce threshold, sending-domain pause and resume, DSNs."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from tidings.bootstrap import Container
from tidings.channels.bounces import SOFT, Feedback, Limits, is_domain_paused, paused_domains, record_feedback
from tidings.channels.dsn import parse_dsn
from tidings.channels.webhooks import sign
from tidings.store import schema
from tidings.store.sql_uow import joined

SECRET = "bounce-secret"


def post(api: Any, container: Container, payload: Any, secret: str = SECRET) -> Any:
    body = json.dumps(payload).encode()
    ts = int(container.clock.now().timestamp())
    return api.post(
        "/api/webhooks/bounces",
        content=body,
        headers={"X-Tidings-Timestamp": str(ts), "X-Tidings-Signature": sign(secret, ts, body)},
    )


def configure(container: Container, **kw: Any) -> None:
    container.settings = replace(container.settings, bounce_webhook_secret=SECRET, **kw)


def suppressed(container: Container) -> list[tuple[str, str]]:
    s = schema.suppressions
    with container.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(s.c.address, s.c.reason).order_by(s.c.address))]


def test_generic_webhook_requires_config_and_signature(api: Any, container: Container) -> None:
    assert post(api, container, {"type": "bounce", "email": "a@x.org"}).status_code == 404
    configure(container)
    assert post(api, container, {"type": "bounce", "email": "a@x.org"}, secret="wrong").status_code == 401
    stale = api.post(
        "/api/webhooks/bounces",
        content=b"{}",
        headers={"X-Tidings-Timestamp": "1", "X-Tidings-Signature": sign(SECRET, 1, b"{}")},
    )
    assert stale.status_code == 401
    bad = post(api, container, {"events": [{"type": "bounce", "email": "a@x.org"}, {"type": "oops"}]})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["loc"] == ["body", "events", "1", "type"]
    assert suppressed(container) == []
    ok = post(
        api,
        container,
        {
            "events": [
                {"type": "bounce", "bounce_type": "hard", "email": "A@x.org", "id": "e1"},
                {"type": "complaint", "email": "c@x.org", "id": "e2"},
            ]
        },
    )
    assert ok.status_code == 200, ok.text
    assert suppressed(container) == [("a@x.org", "hard_bounce"), ("c@x.org", "complaint")]


def test_soft_bounces_suppress_after_threshold_within_window(api: Any, container: Container) -> None:
    configure(container)
    for i in range(2):
        assert (
            post(
                api, container, {"type": "bounce", "bounce_type": "soft", "email": "s@x.org", "id": f"s{i}"}
            ).status_code
            == 200
        )
    assert suppressed(container) == []
    container.clock.advance(timedelta(days=31))  # the first two fall out of the 30-day window
    for i in range(2, 4):
        post(api, container, {"type": "bounce", "bounce_type": "soft", "email": "s@x.org", "id": f"s{i}"})
    assert suppressed(container) == []
    r = post(api, container, {"type": "bounce", "bounce_type": "soft", "email": "s@x.org", "id": "s4"})
    assert r.json()["suppressed"] == ["s@x.org"]
    assert suppressed(container) == [("s@x.org", "soft_bounces")]


def sent_messages(container: Container, n: int, domain: str, batch: str = "vol") -> None:
    now = container.clock.now()
    with container.engine.begin() as conn:
        conn.execute(
            sa.insert(schema.outbox),
            [
                {
                    "contact_id": i,
                    "idempotency_key": f"{batch}-{i}",
                    "kind": "message",
                    "channel": "email",
                    "payload": {},
                    "status": "sent",
                    "next_attempt_at": now,
                    "created_at": now,
                    "sent_at": now,
                    "provider_message_id": f"{i}.ff@{domain}",
                }
                for i in range(1, n + 1)
            ],
        )


def test_domain_is_paused_when_bounce_rate_passes_the_limit(api: Any, container: Container) -> None:
    configure(container, rate_min_volume=100)
    sent_messages(container, 200, "mail.shop.test")
    events = [
        {"type": "bounce", "email": f"b{i}@x.org", "sending_domain": "mail.shop.test", "id": f"b{i}"} for i in range(10)
    ]  # 10 / 200 = 5%: not over the limit
    assert post(api, container, {"events": events}).json()["paused_domains"] == []
    with container.engine.connect() as conn:
        assert not is_domain_paused(joined(conn), "mail.shop.test", container.clock.now())
    r = post(
        api,
        container,
        {"type": "bounce", "email": "b10@x.org", "sending_domain": "mail.shop.test", "id": "b10"},
    )
    assert r.json()["paused_domains"] == ["mail.shop.test"]
    with container.engine.connect() as conn:
        assert is_domain_paused(joined(conn), "mail.shop.test", container.clock.now())
        assert paused_domains(joined(conn), container.clock.now()) == {"mail.shop.test"}
    listed = api.get("/api/sending-domains").json()["items"]
    assert listed[0]["status"] == "paused" and "bounce rate" in listed[0]["reason"]
    assert api.post("/api/sending-domains/mail.shop.test/resume").status_code == 200
    assert api.post("/api/sending-domains/mail.shop.test/resume").status_code == 404
    with container.engine.connect() as conn:
        assert not is_domain_paused(joined(conn), "mail.shop.test", container.clock.now())


def test_complaint_rate_and_minimum_volume(container: Container) -> None:
    limits = Limits(rate_min_volume=1000)
    sent_messages(container, 999, "d.test")
    with container.engine.begin() as conn:
        r = record_feedback(
            joined(conn),
            [Feedback("complaint", "x@y.org", "webhook", ref="c1", sending_domain="d.test")],
            container.clock.now(),
            limits,
        )
    assert r.paused_domains == []  # 999 sent: under the minimum volume (1000), whatever the rate
    sent_messages(container, 1000, "d.test", batch="more")
    with container.engine.begin() as conn:
        r = record_feedback(
            joined(conn),
            [Feedback("complaint", "z@y.org", "webhook", ref="c2", sending_domain="d.test")],
            container.clock.now(),
            limits,
        )
    assert r.paused_domains == ["d.test"]  # 2 complaints / 1999 sent = 0.1001% > 0.1%


DSN = b"""From: MAILER-DAEMON@mx.example.org
To: bounces@mail.shop.test
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-1@mx.example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUND"

--BOUND
Content-Type: text/plain

Your message could not be delivered.
--BOUND
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; gone@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

Final-Recipient: rfc822; full@example.org
Action: delayed
Status: 4.2.2

--BOUND
Content-Type: text/rfc822-headers

Message-ID: <42.abcd@mail.shop.test>
Subject: Welcome

--BOUND--
"""


def sent_message_42(container: Container, recipient: str = "gone@example.org") -> None:
    """The message the DSN names: outbox row 42, sent to ``recipient``."""
    now = container.clock.now()
    with container.engine.begin() as conn:
        conn.execute(
            sa.insert(schema.outbox).values(
                id=42,
                contact_id=1,
                idempotency_key="m42",
                kind="message",
                channel="email",
                payload={},
                status="sent",
                next_attempt_at=now,
                created_at=now,
                sent_at=now,
                recipient=recipient,
                provider_message_id="42.abcd@mail.shop.test",
                rendered={"message_ref": "42.abcd@mail.shop.test"},
            )
        )


def test_dsn_feeds_the_same_rules_when_it_names_our_message(container: Container) -> None:
    items = parse_dsn(DSN)
    assert [(i.kind, i.address, i.message_ref) for i in items] == [
        ("hard_bounce", "gone@example.org", "42.abcd@mail.shop.test"),
        (SOFT, "full@example.org", "42.abcd@mail.shop.test"),
    ]
    assert items[0].sending_domain == "mail.shop.test" and items[0].detail["status"] == "5.1.1"
    with container.engine.begin() as conn:  # no such message of ours: a forged DSN changes nothing
        r = record_feedback(joined(conn), items, container.clock.now(), Limits())
    assert (r.recorded, r.unmatched) == (0, 2) and suppressed(container) == []
    sent_message_42(container)
    with container.engine.begin() as conn:  # full@ was not the recipient of message 42: ignored
        r = record_feedback(joined(conn), items, container.clock.now(), Limits())
    assert (r.recorded, r.unmatched) == (1, 1)
    assert suppressed(container) == [("gone@example.org", "hard_bounce")]
    assert parse_dsn(b"Subject: hi\n\nnot a report") == []


def test_cli_imports_dsns_from_an_mbox_and_the_catcher_inbox(
    container: Container, db_url: str, tmp_path: Any, monkeypatch: Any
) -> None:
    from typer.testing import CliRunner

    from tidings.channels.base import InboxItem, record_in_inbox
    from tidings.cli.main import app

    monkeypatch.setenv("TIDINGS_DATABASE_URL", db_url)
    mbox = tmp_path / "bounces.mbox"
    mbox.write_bytes(b"From MAILER-DAEMON Mon Mar  2 09:00:00 2026\n" + DSN + b"\n")
    sent_message_42(container)
    runner = CliRunner()
    result = runner.invoke(app, ["bounces", "import-dsn", str(mbox)])
    assert result.exit_code == 0, result.output
    assert "2 bounce(s) read, 1 recorded, 0 already known, 1 not ours" in result.output
    assert suppressed(container) == [("gone@example.org", "hard_bounce")]
    # the same DSN caught by the SMTP catcher is a replay: known already
    record_in_inbox(
        container.engine,
        InboxItem(channel="email", recipient="bounces@x", raw=DSN.decode()),
        container.clock.now(),
    )
    again = runner.invoke(app, ["bounces", "import-dsn", "--from-inbox"])
    assert again.exit_code == 0 and "0 recorded, 1 already known" in again.output
    assert runner.invoke(app, ["bounces", "import-dsn"]).exit_code != 0
    assert runner.invoke(app, ["bounces", "resume", "nope.test"]).exit_code != 0
