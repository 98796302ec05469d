"""One-click unsubscribe (RFC 8058), the unsubscribe page and the preference centre."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.integration.channels_helpers import (
    add_outbox,
    add_template,
    deliver,
    events,
    links_client,
    outbox_row,
    send_one,
)
from tidings.bootstrap import Container
from tidings.channels import tracking
from tidings.store import schema


@pytest.fixture
def api(container: Container) -> Iterator[Any]:
    with links_client(container) as client:
        yield client


def unsubscribe_path(msg: Any) -> str:
    found = re.search(r"<http://testserver(/u/[^>]+)>", msg.headers["List-Unsubscribe"])
    assert found
    return found.group(1)


def consent(container: Container, cid: int) -> dict[str, Any]:
    k = schema.consents
    with container.engine.connect() as conn:
        return dict(
            conn.execute(sa.select(k).where(k.c.contact_id == cid, k.c.channel == "email")).mappings().one()
        )


def test_one_click_post_unsubscribes_at_once_and_skips_pending(api: Any, container: Container) -> None:
    oid, msg = send_one(container)
    assert msg.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "mailto:" in msg.headers["List-Unsubscribe"]
    cid = msg.contact_id
    now = container.clock.now()
    later = add_outbox(container.engine, now, cid)  # queued, not started
    receipt = add_outbox(container.engine, now, cid, category="transactional")
    # a bare POST: no cookie, no JavaScript, no redirect
    r = api.post(
        unsubscribe_path(msg),
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert r.status_code == 200
    assert consent(container, cid)["status"] == "unsubscribed"
    assert outbox_row(container.engine, later)["status"] == "skipped"
    names = [e["name"] for e in events(container.engine) if e["name"] != "message.sent"]
    assert names == ["message.unsubscribed", "consent.changed"]
    assert events(container.engine, "message.unsubscribed")[0]["properties"]["message_id"] == oid
    sent = asyncio.run(deliver(container)).sent
    assert [m.outbox_id for m in sent] == [receipt]  # transactional still goes, marketing never
    # twice is harmless
    assert api.post(unsubscribe_path(msg)).status_code == 200
    assert len(events(container.engine, "consent.changed")) == 1


def test_message_prepared_after_unsubscribe_is_skipped_at_claim(api: Any, container: Container) -> None:
    _, msg = send_one(container)
    k = schema.consents
    with container.engine.begin() as conn:  # consent withdrawn by another path (API, import)
        conn.execute(sa.update(k).where(k.c.contact_id == msg.contact_id).values(status="unsubscribed"))
    oid = add_outbox(container.engine, container.clock.now(), msg.contact_id)
    assert asyncio.run(deliver(container)).sent == []
    assert outbox_row(container.engine, oid)["status"] == "skipped"


def test_get_shows_a_confirm_form_and_changes_nothing(api: Any, container: Container) -> None:
    _, msg = send_one(container)
    r = api.get(unsubscribe_path(msg))
    assert r.status_code == 200 and "<form method='post'" in r.text
    assert consent(container, msg.contact_id)["status"] == "granted"


def test_tampered_or_expired_unsubscribe_token_changes_nothing(api: Any, container: Container) -> None:
    _, msg = send_one(container)
    path = unsubscribe_path(msg)
    bad = path[:-3] + ("xyz" if not path.endswith("xyz") else "abc")
    assert api.post(bad).status_code == 404
    assert api.get(bad).status_code == 404
    container.clock.advance(tracking.TTL[tracking.UNSUBSCRIBE] + timedelta(days=1))  # type: ignore[attr-defined]
    assert api.post(path).status_code == 410
    assert consent(container, msg.contact_id)["status"] == "granted"
    assert events(container.engine, "consent.changed") == []


def test_preference_centre_pause_and_topics(api: Any, container: Container) -> None:
    _, msg = send_one(container)
    now = container.clock.now()
    add_template(container.engine, now, key="news", settings={"topic": "newsletter"})
    add_template(container.engine, now, key="promo", settings={"topic": "offers"})
    path = "/p/" + tracking.make_token(container.secret_key, tracking.PREFERENCES, msg.contact_id, 0, now)
    page = api.get(path)
    assert page.status_code == 200 and "newsletter" in page.text and "offers" in page.text
    r = api.post(path, data={"email.present": "1", "email.subscribed": "1", "email.topic.newsletter": "1"})
    assert r.status_code == 200 and "Saved" in r.text
    assert consent(container, msg.contact_id)["topics"] == {"newsletter": True, "offers": False}
    news = add_outbox(container.engine, now, msg.contact_id, template="news")
    promo = add_outbox(container.engine, now, msg.contact_id, template="promo")
    asyncio.run(deliver(container))
    assert outbox_row(container.engine, news)["status"] == "sent"
    assert outbox_row(container.engine, promo)["status"] == "skipped"
    # pause for 10 days: marketing skipped now, sent again after
    api.post(
        path,
        data={
            "email.present": "1",
            "email.subscribed": "1",
            "email.topic.newsletter": "1",
            "email.topic.offers": "1",
            "email.pause_days": "10",
        },
    )
    paused = add_outbox(container.engine, container.clock.now(), msg.contact_id, template="news")
    asyncio.run(deliver(container))
    assert "paused until" in outbox_row(container.engine, paused)["error"]
    container.clock.advance(timedelta(days=11))  # type: ignore[attr-defined]
    resumed = add_outbox(container.engine, container.clock.now(), msg.contact_id, template="news")
    asyncio.run(deliver(container))
    assert outbox_row(container.engine, resumed)["status"] == "sent"


def test_preference_centre_rejects_bad_pause(api: Any, container: Container) -> None:
    _, msg = send_one(container)
    path = "/p/" + tracking.make_token(
        container.secret_key, tracking.PREFERENCES, msg.contact_id, 0, container.clock.now()
    )
    assert api.post(path, data={"email.present": "1", "email.pause_days": "-3"}).status_code == 422
    assert api.post(path, data={"email.present": "1", "email.pause_days": "999"}).status_code == 422
    assert consent(container, msg.contact_id)["paused_until"] is None


def test_mailto_unsubscribe_through_the_catcher(container: Container) -> None:
    import smtplib
    from dataclasses import replace
    from email.message import EmailMessage
    from urllib.parse import parse_qs, urlsplit

    from tests.conftest import free_port
    from tidings.runtime import catcher_service

    _, msg = send_one(container)
    mailto = re.search(r"<(mailto:[^>]+)>", msg.headers["List-Unsubscribe"])
    assert mailto
    target = urlsplit(mailto.group(1))
    subject = parse_qs(target.query)["subject"][0]
    container.settings = replace(container.settings, catcher_port=free_port())
    catcher = catcher_service(container)
    catcher.start()
    try:
        with smtplib.SMTP("127.0.0.1", container.settings.catcher_port) as smtp:
            for subj in ("unsubscribe-" + "A" * 46, subject):  # a forged token first: ignored
                mail = EmailMessage()
                mail["From"], mail["To"], mail["Subject"] = "ann@example.org", target.path, subj
                mail.set_content("please")
                smtp.send_message(mail)
    finally:
        catcher.stop()
    assert consent(container, msg.contact_id)["status"] == "unsubscribed"
    assert [e["properties"]["method"] for e in events(container.engine, "message.unsubscribed")] == ["mailto"]
