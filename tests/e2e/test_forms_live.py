"""Forms end to end on the live stack: a visitor submits the hosted form over real HTTP, the double
opt-in email arrives through real SMTP at the catcher, the link from that email confirms, and the
consent is granted with its proof. Then what must not store anything: tampered and expired links,
the honeypot, the rate limit; a box left unticked records no consent; no open redirect."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from tests.conftest import LiveStack
from tidings.application.access.keys import create_key
from tidings.application.forms.forms import create_form
from tidings.application.forms.submit import SubmissionGate
from tidings.clock import ManualClock
from tidings.store import schema
from tidings.store.sql_uow import SqlUnitOfWork

TEXT = "Yes, email me the monthly newsletter. I can unsubscribe at any time."
FORM: dict[str, Any] = {
    "key": "newsletter",
    "name": "Monthly newsletter",
    "fields": [
        {"name": "email", "label": "Email", "type": "email", "required": True, "maps_to": "email"},
        {"name": "first_name", "label": "First name", "maps_to": "first_name"},
        {"name": "company", "label": "Company"},
    ],
    "consents": [{"channel": "email", "text": TEXT}],
    "remind_after_hours": 24,
    "expire_after_days": 7,
}
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


def _mail_to(http: httpx.Client, address: str, count: int = 1) -> list[dict[str, Any]]:
    """The emails the catcher received for ``address`` (waits for the forms pass to send them)."""
    deadline = time.monotonic() + 30
    while True:
        items = http.get("/api/inbox", params={"recipient": address}).json()["items"]
        if len(items) >= count or time.monotonic() > deadline:
            return [http.get(f"/api/inbox/{i['id']}").json() for i in reversed(items)]
        time.sleep(0.2)


def _link(mail: dict[str, Any]) -> str:
    found = re.search(r"(http://\S+/f/confirm/[A-Za-z0-9_-]+)", mail["body_text"])
    assert found, mail["body_text"]
    return found.group(1)


@contextmanager
def marketer(live_stack: LiveStack, clock: ManualClock) -> Iterator[httpx.Client]:
    """The newsletter form created, and an admin API client of the live stack."""
    c = live_stack.container
    create_form(c.uow(), FORM, clock.now())
    _, key = create_key(SqlUnitOfWork(c.engine), "e2e", ["admin"], clock.now())
    with httpx.Client(base_url=live_stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        yield http


def _rows(eng: sa.Engine, table: sa.Table, **where: Any) -> list[dict[str, Any]]:
    q = sa.select(table).where(*(table.c[k] == v for k, v in where.items()))
    with eng.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def test_double_opt_in_from_submit_to_confirmed_consent(live_stack: LiveStack, clock: ManualClock) -> None:
    eng = live_stack.container.engine
    with marketer(live_stack, clock) as http:
        page = httpx.get(f"{live_stack.url}/f/newsletter", headers={"Accept-Language": "en"})
        assert page.status_code == 200 and TEXT in page.text and 'name="website_url"' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]

        visitor = {"User-Agent": UA, "Referer": "https://shop.example.com/join?utm_source=ads&utm_campaign=spring"}
        r = httpx.post(f"{live_stack.url}/f/newsletter", headers=visitor,
                       data={"email": "Ann@Example.org", "first_name": "Ann", "company": "ACME",
                             "consent_email": "on", "website_url": ""})
        assert r.status_code == 200 and "confirm your subscription" in r.text
        contact = _rows(eng, schema.contacts, email="ann@example.org")[0]
        assert contact["attributes"] == {"company": "ACME", "utm_source": "ads", "utm_campaign": "spring"}
        assert _rows(eng, schema.consents, contact_id=contact["id"])[0]["status"] == "pending"
        submitted = _rows(eng, schema.events, contact_id=contact["id"], name="form.submitted")
        assert submitted and submitted[0]["properties"]["utm_source"] == "ads"

        [mail] = _mail_to(http, "ann@example.org")
        assert mail["subject"] == "Confirm your subscription to Monthly newsletter"
        link = _link(mail)
        # GET only shows the button (a mail scanner following the link confirms nothing)
        shown = httpx.get(link, headers={"User-Agent": UA})
        assert shown.status_code == 200 and "Confirm my subscription" in shown.text
        assert _rows(eng, schema.consents, contact_id=contact["id"])[0]["status"] == "pending"
        done = httpx.post(link, headers={"User-Agent": UA})
        assert done.status_code == 200 and "your subscription is confirmed" in done.text

        consent = _rows(eng, schema.consents, contact_id=contact["id"])[0]
        assert consent["status"] == "granted" and consent["source"] == "form"
        proof = consent["proof"]
        assert proof["text"] == TEXT and proof["form"] == "newsletter" and proof["ip"] == "127.0.0.1"
        assert proof["user_agent"] == UA and proof["confirmed_user_agent"] == UA
        assert proof["page_url"].startswith("https://shop.example.com/join") and proof["confirmed_at"]
        assert _rows(eng, schema.events, contact_id=contact["id"], name="form.confirmed")
        again = httpx.post(link)
        assert again.status_code == 200 and "already confirmed" in again.text

        # a tampered link: 400, nothing changes
        token = link.rsplit("/", 1)[1]
        forged = link[: -len(token)] + token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
        assert httpx.get(forged).status_code == 400 and httpx.post(forged).status_code == 400

        # the marketer's API sees the submission and its proof
        subs = http.get("/api/forms/newsletter/submissions").json()["items"]
        assert [(s["email"], s["status"]) for s in subs] == [("ann@example.org", "confirmed")]


def test_reminder_once_then_expiry_and_the_expired_link(live_stack: LiveStack, clock: ManualClock) -> None:
    eng = live_stack.container.engine
    with marketer(live_stack, clock) as http:
        r = httpx.post(f"{live_stack.url}/f/newsletter", json={"email": "bob@example.org", "consent_email": True},
                       headers={"Origin": live_stack.url})
        assert r.status_code == 200 and r.json()["status"] == "pending"
        [first] = _mail_to(http, "bob@example.org")
        http.post("/api/test/clock/advance", json={"seconds": 25 * 3600})
        mails = _mail_to(http, "bob@example.org", 2)
        assert [m["subject"].startswith("Reminder:") for m in mails] == [False, True]
        http.post("/api/test/clock/advance", json={"seconds": 7 * 86400})
        deadline = time.monotonic() + 30
        while _rows(eng, schema.form_submissions, email="bob@example.org")[0]["status"] != "expired":
            assert time.monotonic() < deadline, "the forms pass did not expire the submission"
            time.sleep(0.2)
        # one reminder only: the passes after the reminder and the expiry sent nothing more
        assert len(http.get("/api/inbox", params={"recipient": "bob@example.org"}).json()["items"]) == 2
        expired = httpx.post(_link(first))
        assert expired.status_code == 410 and 'href="/f/newsletter"' in expired.text
        cid = _rows(eng, schema.contacts, email="bob@example.org")[0]["id"]
        assert _rows(eng, schema.consents, contact_id=cid)[0]["status"] == "pending"  # never granted
        assert not _rows(eng, schema.events, contact_id=cid, name="form.confirmed")


def test_bad_input_stores_nothing_that_should_not_be(live_stack: LiveStack, clock: ManualClock) -> None:
    c = live_stack.container
    eng = c.engine
    create_form(c.uow(), FORM, clock.now())
    strict = FORM | {"key": "strict", "consents": [{"channel": "email", "text": TEXT, "required": True}],
                     "redirect_url": "https://shop.example.com/thanks",
                     "allowed_redirects": ["https://shop.example.com/thanks"],
                     "allowed_origins": ["https://shop.example.com"]}
    create_form(c.uow(), strict, clock.now())
    base = live_stack.url
    # unticked box: the contact is kept, no consent is recorded
    r = httpx.post(f"{base}/f/newsletter", data={"email": "carol@example.org"})
    assert r.status_code == 200
    cid = _rows(eng, schema.contacts, email="carol@example.org")[0]["id"]
    assert _rows(eng, schema.consents, contact_id=cid) == []
    # a required box unticked: 422 naming it, nothing stored
    r = httpx.post(f"{base}/f/strict", json={"email": "dave@example.org"}, headers={"Origin": base})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "consent_email"
    assert _rows(eng, schema.contacts, email="dave@example.org") == []
    # invalid email on the hosted page: 422 page, nothing stored
    r = httpx.post(f"{base}/f/newsletter", data={"email": "not-an-address", "consent_email": "on"})
    assert r.status_code == 422 and "Please correct" in r.text
    # honeypot: answered as a success, nothing stored
    r = httpx.post(f"{base}/f/newsletter", data={"email": "bot@example.org", "consent_email": "on",
                                                 "website_url": "http://spam.example"})
    assert r.status_code == 200 and _rows(eng, schema.contacts, email="bot@example.org") == []
    # no open redirect: the submitter cannot choose where to go; only the form's allowed URL
    r = httpx.post(f"{base}/f/strict", data={"email": "erin@example.org", "consent_email": "on",
                                             "redirect_url": "https://evil.example/", "next": "https://evil.example/"},
                   follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "https://shop.example.com/thanks"
    # CORS only for the listed origin; an unlisted one may not post
    pre = httpx.options(f"{base}/f/strict", headers={"Origin": "https://shop.example.com",
                                                     "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "https://shop.example.com"
    assert httpx.options(f"{base}/f/strict", headers={"Origin": "https://evil.example"}).status_code == 403
    r = httpx.post(f"{base}/f/strict", json={"email": "frank@example.org", "consent_email": True},
                   headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and _rows(eng, schema.contacts, email="frank@example.org") == []
    js = httpx.get(f"{base}/f/strict/embed.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript") and TEXT in js.text
    # rate limit per IP: the third post in the window is refused and stores nothing
    c.form_gate = SubmissionGate(per_ip=2, per_form=100)
    codes = [httpx.post(f"{base}/f/newsletter", data={"email": f"g{i}@example.org"}).status_code for i in range(3)]
    assert codes == [200, 200, 429] and _rows(eng, schema.contacts, email="g2@example.org") == []
    clock.advance(timedelta(minutes=11))
    assert httpx.post(f"{base}/f/newsletter", data={"email": "g3@example.org"}).status_code == 200
