"""Campaigns end to end, on the whole product with a test clock: a campaign for a segment is
created, approved and scheduled through the API; the worker freezes the audience and enqueues
through the outbox; the delivery loop speaks SMTP to the built-in catcher; the A/B test group gets
both subjects, people open over real HTTP, and after N hours of test clock the rest gets the
winning subject. Results come from the analytics rollups."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx

from tests.conftest import LiveStack
from tests.integration.channels_helpers import add_contact, add_template
from tidings.application.access.keys import create_key
from tidings.clock import ManualClock
from tidings.store.sql_uow import SqlUnitOfWork

HUMAN = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"}


def _mails(http: httpx.Client) -> dict[str, dict[str, Any]]:
    out = {}
    for item in http.get("/api/inbox", params={"channel": "email", "limit": 500}).json()["items"]:
        out[item["recipient"]] = http.get(f"/api/inbox/{item['id']}").json()
    return out


def test_campaign_ab_subject_test_over_smtp(live_stack: LiveStack, clock: ManualClock) -> None:
    eng = live_stack.container.engine
    _, admin = create_key(SqlUnitOfWork(eng), "boss", ["admin"], clock.now())
    _, writer = create_key(SqlUnitOfWork(eng), "marketer", ["read", "write"], clock.now())
    add_template(eng, clock.now(), key="news")
    people = [add_contact(eng, clock.now(), email=f"p{i}@example.org", vip=True) for i in range(20)]
    add_contact(eng, clock.now(), email="other@example.org")  # not in the segment
    add_contact(eng, clock.now(), email="noconsent@example.org", consent=None)
    w = httpx.Client(base_url=live_stack.url, headers={"Authorization": f"Bearer {writer}"}, timeout=60)
    a = httpx.Client(base_url=live_stack.url, headers={"Authorization": f"Bearer {admin}"}, timeout=60)
    with w, a:
        r = w.post("/api/segments", json={"key": "vips", "name": "VIPs",
                                          "rule": "attributes.vip == true or email == \"noconsent@example.org\""})
        assert r.status_code == 201, r.text
        assert w.get("/api/campaigns/audience", params={"segment": "vips"}).json()["count"] == 21
        doc = {"key": "spring", "name": "Spring sale", "segment": "vips", "template": "news",
               "subjects": ["Spring is here", "Our spring sale"],
               "ab": {"test_share": 0.5, "winner_after_hours": 4, "metric": "opens"},
               "throttle": {"max": 600, "per": "minute"}}
        bad = w.post("/api/campaigns", json={**doc, "key": "x", "segment": "nope", "ab": {"test_share": 2}})
        assert bad.status_code == 422
        assert {tuple(d["loc"]) for d in bad.json()["error"]["details"]} >= {("body", "ab", "test_share")}
        r = w.post("/api/campaigns", json=doc)
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "draft" and r.json()["audience_now"] == 21

        # send-test to any address: one per subject, through the built-in catcher
        r = w.post("/api/campaigns/spring/send-test", json={"to": "me@agency.example", "contact_id": people[0]})
        assert r.status_code == 200, r.text
        assert [m["subject"] for m in r.json()["messages"]] == ["Spring is here", "Our spring sale"]

        # approval: not with a write key; scheduling needs it
        assert w.post("/api/campaigns/spring/approve").status_code == 403
        assert w.post("/api/campaigns/spring/schedule").status_code == 409
        r = a.post("/api/campaigns/spring/approve")
        assert r.status_code == 200 and r.json()["approved_by"] == "key:boss" and r.json()["audience_count"] == 21
        # editing drops the approval
        r = w.put("/api/campaigns/spring", json={k: v for k, v in doc.items() if k != "key"})
        assert r.status_code == 200 and r.json()["status"] == "draft" and r.json()["approved_by"] is None
        assert a.post("/api/campaigns/spring/approve").status_code == 200
        r = w.post("/api/campaigns/spring/schedule")
        assert r.status_code == 200, r.text
        assert a.post("/api/test/settle").status_code == 200

        shown = w.get("/api/campaigns/spring").json()
        assert shown["status"] == "sending" and shown["progress"]["audience"] == 21
        mails = {k: v for k, v in _mails(w).items() if k != "me@agency.example"}
        test_subjects = Counter(m["subject"] for m in mails.values())
        # 10 in the test (50% of 21, rounded half to even), maybe the one without consent (skipped)
        assert sum(test_subjects.values()) + shown["progress"]["skipped"] == 10
        assert set(test_subjects) == {"Spring is here", "Our spring sale"}
        assert shown["progress"]["waiting"] == 11

        # a minute later (sooner is a machine: scanners, prefetch), people who got "Our spring sale"
        # open it in a browser; the others do not
        assert a.post("/api/test/clock/advance", json={"seconds": 60}).status_code == 200
        for m in mails.values():
            if m["subject"] == "Our spring sale":
                pixel = next(u for u in m["tracking_links"] if "/t/o/" in u)
                assert httpx.get(pixel, headers=HUMAN).status_code == 200
        assert a.post("/api/test/settle").status_code == 200
        assert a.post("/api/test/clock/advance", json={"seconds": 3 * 3600 - 60}).status_code == 200
        assert w.get("/api/campaigns/spring").json()["winner"] is None  # not before 4 h
        assert a.post("/api/test/clock/advance", json={"seconds": 3600 + 60}).status_code == 200

        shown = w.get("/api/campaigns/spring").json()
        assert shown["status"] == "sent" and shown["winner"] == "B", (shown["winner_detail"], shown["variants"])
        assert "B" in shown["winner_verdict"]
        rest = {k: v for k, v in _mails(w).items() if k not in mails and k != "me@agency.example"}
        assert len(rest) >= 10 and {m["subject"] for m in rest.values()} == {"Our spring sale"}
        assert len(mails) + len(rest) == 20  # every member with consent exactly once
        assert shown["progress"]["sent"] == 20 and shown["progress"]["skipped"] == 1

        report = w.get("/api/campaigns/spring/report").json()
        assert report["results"]["sent"] == 20
        assert report["results"]["opened_human_unique"] == test_subjects["Our spring sale"]
        assert w.get("/api/campaigns").json()["items"][0]["key"] == "spring"
        assert w.post("/api/campaigns/spring/cancel").status_code == 409  # already sent
