"""Each recipe on a live stack: installed over HTTP, driven by events over HTTP, time moved by the
test clock, and its messages read back from the real sinks (SMTP catcher, SMS, letters, webhook
sink) and the tasks table. The clock starts on Monday 2026-03-02 09:00 UTC."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import LiveStack
from tidings.application.access.keys import create_key
from tidings.store import schema
from tidings.store.sql_uow import SqlUnitOfWork

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
DAY = 86400
HOUR = 3600


class Live:
    """A marketer's view of the running product: the HTTP API and what the sinks received."""

    def __init__(self, stack: LiveStack) -> None:
        self.stack = stack
        self.engine = stack.container.engine
        _, key = create_key(SqlUnitOfWork(self.engine), "e2e", ["admin"], stack.container.clock.now())
        self.http = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)

    def ok(self, r: httpx.Response, status: int = 200) -> Any:
        assert r.status_code == status, r.text
        return r.json()

    def install(self, name: str, **parameters: Any) -> dict[str, Any]:
        res = self.ok(self.http.post(f"/api/recipes/{name}/install", json={"parameters": parameters}))
        assert res["installed"] and res["journey"]["status"] == "published", res
        return res  # type: ignore[no-any-return]

    def contact(self, email: str, consents: tuple[str, ...] = ("email",), **fields: Any) -> int:
        consent = {ch: {"status": "granted", "source": "e2e"} for ch in consents}
        body = {"email": email, "consent": consent, **fields}
        return int(self.ok(self.http.post("/api/contacts", json=body), 201)["id"])

    def event(self, name: str, email: str, **properties: Any) -> None:
        self.ok(self.http.post("/api/events", json={"name": name, "email": email, "properties": properties}), 202)
        self.advance(1)

    def advance(self, seconds: float) -> None:
        self.ok(self.http.post("/api/test/clock/advance", json={"seconds": seconds}))

    def inbox(self, channel: str = "email", recipient: str | None = None) -> list[dict[str, Any]]:
        params = {"channel": channel, "limit": 500} | ({"recipient": recipient} if recipient else {})
        items = self.ok(self.http.get("/api/inbox", params=params))["items"]
        return list(reversed(items))  # oldest first

    def subjects(self, recipient: str | None = None) -> list[str]:
        return [i["subject"] for i in self.inbox("email", recipient)]

    def body(self, item: dict[str, Any]) -> str:
        return str(self.ok(self.http.get(f"/api/inbox/{item['id']}"))["body_text"])

    def tracking(self, item: dict[str, Any], kind: str) -> list[str]:
        """The tracked links of a received email: kind "o" (open pixel) or "c" (clicks)."""
        links = self.ok(self.http.get(f"/api/inbox/{item['id']}"))["tracking_links"]
        return [u.replace(self.stack.url, "") for u in links if f"/t/{kind}/" in u]

    def human(self, path: str) -> None:
        """Open or click like a person in a mail client (not a link scanner, not within seconds)."""
        self.advance(60)
        r = self.http.get(path, headers={"User-Agent": BROWSER}, follow_redirects=False)
        assert r.status_code < 400, r.text
        self.advance(1)

    def self_service(self, item: dict[str, Any]) -> str:
        """The self-service page a message links to (our own links are not click-tracked)."""
        import re

        html = self.ok(self.http.get(f"/api/inbox/{item['id']}"))["body_html"]
        found = re.findall(r"https?://[^\s\"'<>]+/s/[A-Za-z0-9_.-]+", html)
        assert found, "no self-service link"
        return str(found[0]).replace(self.stack.url, "")

    def users(self, team: str, *emails: str) -> None:
        from tidings.application.access.users import create_user

        for email in emails:
            create_user(
                SqlUnitOfWork(self.engine),
                email,
                "a-long-password-1",
                "marketer",
                self.stack.container.clock.now(),
                team=team,
            )

    def tasks(self) -> list[dict[str, Any]]:
        data = self.ok(self.http.get("/api/tasks"))
        return list(data["items"] if isinstance(data, dict) else data)

    def enrollment_ends(self, journey: str) -> list[str | None]:
        e, j = schema.enrollments, schema.journeys
        with self.engine.connect() as conn:
            q = sa.select(e.c.end_reason).join(j, j.c.id == e.c.journey_id).where(j.c.key == journey)
            return list(conn.execute(q.order_by(e.c.id)).scalars())


@pytest.fixture
def in_tmp(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Letters (direct mail) are written under the working directory: keep them out of the tree."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def live(in_tmp: None, live_stack: LiveStack) -> Iterator[Live]:
    client = Live(live_stack)
    yield client
    client.http.close()
    o = schema.outbox  # shown only when the test failed: messages not (yet) sent, and why
    with client.engine.connect() as conn:
        q = sa.select(o.c.id, o.c.status, o.c.next_attempt_at, o.c.attempts, o.c.recipient, o.c.error)
        for row in conn.execute(q):
            if row.status not in ("sent", "delivered"):
                print("outbox", *row)


def test_welcome_series(live: Live) -> None:
    live.install("welcome-series")
    live.contact("ada@example.com", first_name="Ada")
    live.contact("bob@example.com")
    live.event("subscribed", "ada@example.com", source="footer")
    live.event("subscribed", "bob@example.com")
    assert live.subjects("ada@example.com") == ["Welcome aboard, Ada!"]
    first = live.inbox(recipient="bob@example.com")[0]
    assert first["subject"] == "Welcome aboard, friend!"
    body = live.body(first)
    assert "Welcome, friend!" in body and "/u/" in body  # personalised with its default, unsubscribe link
    # Bob unsubscribes from the link in the first email: the series stops for him only
    unsubscribe = next(w for w in body.split() if "/u/" in w).strip("()")
    assert live.http.post(unsubscribe.replace(live.stack.url, "")).status_code < 400
    live.advance(DAY)
    live.advance(DAY)
    assert live.subjects("ada@example.com") == [
        "Welcome aboard, Ada!",
        "The three things our customers love most",
        "Getting the most out of us, Ada",
    ]
    assert len(live.subjects("bob@example.com")) == 1
    assert sorted(live.enrollment_ends("welcome-series"), key=str) == ["completed", "exited"]


def test_demo_request(live: Live) -> None:
    live.users("sales", "rep-a@example.com", "rep-b@example.com")
    live.install("demo-request", booking_url="https://example.com/book")
    live.contact("lena@acme.example", first_name="Lena", attributes={"company": "Acme"})
    live.contact("omar@globex.example", first_name="Omar")
    live.event("demo.requested", "lena@acme.example", company="Acme")
    live.event("demo.requested", "omar@globex.example")
    assert live.subjects("lena@acme.example") == ["Your buyer's guide (and your demo)"]
    assert "for Acme" in live.body(live.inbox(recipient="lena@acme.example")[0])
    tasks = {t["contact_id"]: t for t in live.tasks()}
    assert len(tasks) == 2
    owners = {t["owner"] for t in tasks.values()}
    assert owners == {"rep-a@example.com", "rep-b@example.com"}  # one each
    for t in tasks.values():
        due = t["due_at"].replace("Z", "+00:00")
        assert due.startswith("2026-03-02T09:05"), t
    # the rep calls Lena back and completes her task; nobody reaches Omar
    lena = next(t for t in tasks.values() if t["title"] and t["contact_id"] == min(tasks))
    live.ok(live.http.patch(f"/api/tasks/{lena['id']}", json={"status": "done"}))
    live.advance(2 * DAY)
    assert live.subjects("lena@acme.example") == ["Your buyer's guide (and your demo)"]
    omar = live.inbox(recipient="omar@globex.example")
    assert [i["subject"] for i in omar] == [
        "Your buyer's guide (and your demo)",
        "Still keen to see it in action, Omar?",
    ]
    assert "https://example.com/book" in live.body(omar[1])


def test_abandoned_cart(live: Live) -> None:
    live.install("abandoned-cart", first_delay="30m", coupon="SAVE15")
    live.contact("mia@example.com", first_name="Mia")
    noah_id = live.contact("noah@example.com")
    products = [
        {"name": "Ceramic pour-over set", "quantity": 1, "price": 49.0},
        {"name": "Single-origin beans 250 g", "quantity": 2, "price": 20.0},
    ]
    live.event("cart.abandoned", "mia@example.com", cart_id="c1", products=products, total=89.0, currency="EUR")
    live.event("cart.abandoned", "noah@example.com", cart_id="c2", products=products[:1], total=49.0)
    live.advance(29 * 60)
    assert live.subjects() == []
    live.advance(60)
    first = live.inbox(recipient="mia@example.com")
    assert [i["subject"] for i in first] == ["You left something in your cart"]
    text = live.body(first[0])
    assert "Ceramic pour-over set" in text and "Single-origin beans 250 g" in text and "89.00 EUR" in text
    # Noah clicks his reminder (a real tracked link, like a person) and buys: the journey ends as
    # converted, his order's revenue is attributed to it and credited to the reminder he clicked
    noah_first = live.inbox(recipient="noah@example.com")[0]
    live.human(live.tracking(noah_first, "c")[0])
    live.event("order.completed", "noah@example.com", order_id="o-9", total=49.0)
    live.advance(DAY)
    assert [i["subject"] for i in live.inbox(recipient="mia@example.com")][1] == "Still thinking it over, Mia?"
    live.advance(2 * DAY)
    mia = live.inbox(recipient="mia@example.com")
    assert [i["subject"] for i in mia][2] == "10% off your cart, just for you"
    assert "SAVE15" in live.body(mia[2])
    assert len(live.inbox(recipient="noah@example.com")) == 1
    e = schema.events
    with live.engine.connect() as conn:
        conv = conn.execute(sa.select(e.c.properties, e.c.value).where(e.c.name == "journey.converted")).all()
    assert [(p["journey"], p["revenue"], v) for p, v in conv] == [("abandoned-cart", 49.0, 49.0)]
    credit = conv[0][0]["attributed_to"]
    assert (credit["template"], credit["journey_key"], credit["step"]) == (
        "cart-reminder-1",
        "abandoned-cart",
        "reminder-1",
    )
    why = live.ok(live.http.get(f"/api/contacts/{noah_id}/why"))
    assert [c["attributed_to"]["template"] for c in why["conversions"]] == ["cart-reminder-1"]


def test_timed_offer_at_eleven_local(live: Live) -> None:
    live.install("timed-offer")
    ny = live.contact("jo@example.com", first_name="Jo", timezone="America/New_York")
    tokyo = live.contact("aki@example.com", timezone="Asia/Tokyo")
    for cid in (ny, tokyo):
        live.ok(live.http.patch(f"/api/contacts/{cid}", json={"tags_add": ["timed-offer"]}))
    live.advance(1)
    live.advance(7 * HOUR - 60)  # 15:59 UTC: 10:59 in New York
    assert live.subjects() == []
    live.advance(60)
    jo = live.inbox(recipient="jo@example.com")
    assert [i["subject"] for i in jo] == ["20% off everything, today only"]
    assert jo[0]["received_at"].startswith("2026-03-02T16:00")
    live.human(live.tracking(jo[0], "c")[0])  # Jo clicks: no last call for her
    live.advance(10 * HOUR)  # 02:00 UTC = 11:00 in Tokyo
    aki = live.inbox(recipient="aki@example.com")
    assert [i["received_at"][:16] for i in aki] == ["2026-03-03T02:00"]
    live.advance(DAY)
    assert len(live.inbox(recipient="jo@example.com")) == 1
    assert [i["subject"] for i in live.inbox(recipient="aki@example.com")][1].startswith("Last call")


def test_repeat_purchase_branches_on_behaviour(live: Live) -> None:
    live.install("repeat-purchase", days_after_first_purchase="10d")
    people = {
        "quiet": "q@example.com",
        "opener": "o@example.com",
        "clicker": "c@example.com",
        "buyer": "b@example.com",
    }
    for email in people.values():
        live.contact(email)
        live.event("order.completed", email, order_id=f"first-{email}", total=20.0)
    live.advance(10 * DAY)
    for who, email in people.items():
        assert live.subjects(email) == ["Time for a refill, friend?"], who
        item = live.inbox(recipient=email)[0]
        if who != "quiet":
            live.human(live.tracking(item, "o")[0])
        if who in ("clicker", "buyer"):
            live.human(live.tracking(item, "c")[0])
    live.event("order.completed", people["buyer"], order_id="second", total=31.0)
    live.advance(3 * DAY)
    assert live.subjects(people["quiet"])[1:] == ["Running low on coffee?"]
    assert live.subjects(people["opener"])[1:] == ["Three origins for the price of two"]
    live.advance(2 * DAY)
    assert live.subjects(people["clicker"])[1:] == ["Pick up where you left off"]
    assert live.subjects(people["buyer"])[1:] == []
    assert sorted(live.enrollment_ends("repeat-purchase"), key=str) == [
        "completed",
        "completed",
        "completed",
        "converted",
    ]


def test_post_purchase_education_by_product(live: Live) -> None:
    live.install("post-purchase-education")
    live.contact("gus@example.com")
    live.contact("eve@example.com")
    live.event("order.completed", "gus@example.com", order_id="o1", category="grinder", product="Burr One")
    live.event("order.completed", "eve@example.com", order_id="o2", category="espresso-machine")
    live.advance(DAY)
    assert live.subjects("eve@example.com") == ["Your first perfect espresso in five steps"]
    live.event("order.returned", "eve@example.com", order_id="o2")
    live.advance(13 * DAY)
    assert live.subjects("gus@example.com") == [
        "Dial in your new grinder",
        "Why an even grind beats a fine one",
        "Five minutes to clean burrs",
    ]
    assert "Burr One" in live.body(live.inbox(recipient="gus@example.com")[0])
    assert len(live.subjects("eve@example.com")) == 1


def test_treatment_reminders_shift_after_self_service(live: Live) -> None:
    live.install("treatment-reminders")
    live.contact("pat@example.com", consents=(), first_name="Pat", timezone="Europe/Paris")
    live.event("treatment.started", "pat@example.com", start_date="2026-03-02", weeks=6)
    start = live.inbox(recipient="pat@example.com")
    assert [i["subject"] for i in start] == ["Your treatment reminders are set"]
    # Pat starts a week late: the link in the email leads to a page that moves every reminder
    page = live.self_service(start[0])
    assert "start_date" in live.http.get(page).text
    r = live.http.post(page, data={"start_date": "2026-03-09", "signal": "reschedule"})
    assert r.status_code == 200 and "recorded" in r.text
    live.advance(1)
    live.advance(15 * DAY)  # 17 March: the first reminder would have gone on the 16th
    assert len(live.inbox(recipient="pat@example.com")) == 1
    live.advance(40 * DAY)
    reminders = live.inbox(recipient="pat@example.com")[1:]
    assert [i["received_at"][:16] for i in reminders] == [  # 09:00 in Paris (summer time from 29 March)
        "2026-03-23T08:00",
        "2026-04-06T07:00",
        "2026-04-20T07:00",
    ]
    assert [i["subject"] for i in reminders][0] == "Today: time for stage 2"


def test_annual_checkup_only_when_eligible_with_sms_before_the_visit(live: Live) -> None:
    live.install("annual-checkup")
    live.contact(
        "ruth@example.com",
        first_name="Ruth",
        phone="+447911123456",
        attributes={"last_visit": "2025-04-01", "insurance_eligible": True},
    )
    live.contact("lee@example.com", attributes={"last_visit": "2025-04-01", "insurance_eligible": False})
    live.advance(HOUR)  # 2 March 10:00 London, eleven months after the last visit
    assert live.subjects("ruth@example.com") == ["Your yearly check-up is due, Ruth"]
    assert live.subjects("lee@example.com") == []
    live.advance(DAY)
    live.event("appointment.booked", "ruth@example.com", starts_at="2026-03-20T14:30:00Z")
    live.advance(16 * DAY + 4 * HOUR)  # 19 March 14:00
    assert live.inbox("sms") == []
    live.advance(HOUR)  # 14:30 passed: the day before the visit, to the minute
    sms = live.inbox("sms")
    assert [(i["recipient"], i["received_at"][:16]) for i in sms] == [("+447911123456", "2026-03-19T14:30")]
    assert "tomorrow" in live.body(sms[0])
    assert live.subjects("ruth@example.com") == ["Your yearly check-up is due, Ruth"]  # no nudge: booked
    assert sorted(live.enrollment_ends("annual-checkup"), key=str) == ["completed", "exited"]


def test_feedback_nps_reviews_and_support(live: Live) -> None:
    live.users("support", "care@example.com")
    live.install("feedback")
    for email in ("pro@example.com", "det@example.com", "ret@example.com"):
        live.contact(email)
        live.event("order.delivered", email, order_id=f"o-{email[:3]}")
    live.event("order.returned", "ret@example.com", order_id="o-ret")
    live.advance(7 * DAY)
    for email in ("pro@example.com", "det@example.com"):
        assert live.subjects(email) == ["How did we do, there?"]
    assert live.subjects("ret@example.com") == []
    survey = live.body(live.inbox(recipient="pro@example.com")[0])
    assert "score=10" in survey or "t/c/" in survey
    live.event("nps.answered", "pro@example.com", score=9)
    live.event("nps.answered", "det@example.com", score=3, comment="late")
    assert live.subjects("pro@example.com")[1:] == ["Would you share that with others?"]
    assert live.subjects("det@example.com")[1:] == ["We are sorry we let you down"]
    tasks = live.tasks()
    assert [(t["title"], t["owner"]) for t in tasks] == [
        ("Low NPS score - reach out within one working day", "care@example.com")
    ]
    live.advance(3 * DAY)
    assert live.subjects("pro@example.com")[2:] == ["Two minutes for a review?"]
    live.event("review.posted", "pro@example.com", rating=5)
    live.advance(10 * DAY)
    assert len(live.subjects("pro@example.com")) == 3
    assert sorted(live.enrollment_ends("feedback"), key=str) == ["completed", "converted", "exited"]


def test_webinar_reminders_check_in_and_follow_up(live: Live) -> None:
    live.users("sales", "rep@example.com")
    live.install("webinar")
    live.contact("kim@example.com", consents=("email", "sms"), first_name="Kim", phone="+12125550198")
    live.contact(
        "lou@example.com",
        consents=("email", "direct_mail"),
        first_name="Lou",
        attributes={
            "address": {
                "line1": "12 Rue de la Paix",
                "city": "Paris",
                "postal_code": "75002",
                "country": "FR",
            }
        },
    )
    webinar = {
        "webinar_id": "w-42",
        "title": "Automation without overkill",
        "starts_at": "2026-03-10T16:00:00Z",
        "join_url": "https://example.com/live/w-42",
    }
    live.event("webinar.registered", "kim@example.com", **webinar)
    live.event("webinar.registered", "lou@example.com", **webinar)
    assert live.subjects("kim@example.com") == ["You're in: Automation without overkill"]
    live.advance(7 * DAY + 7 * HOUR)  # 9 March 16:00
    assert live.subjects("lou@example.com")[1:] == ["Coming up: Automation without overkill"]
    assert [i["recipient"] for i in live.inbox("sms")] == ["+12125550198"]
    live.advance(23 * HOUR)  # 10 March 15:00, one hour before
    assert live.subjects("kim@example.com")[2:] == ["We start in one hour"]
    assert len(live.inbox("sms")) == 2
    live.advance(HOUR + 300)
    live.event("webinar.checked_in", "kim@example.com", webinar_id="w-42")
    live.advance(DAY)
    assert live.subjects("kim@example.com")[3:] == ["The recording, as promised"]
    assert [t["owner"] for t in live.tasks()] == ["rep@example.com"]
    assert live.subjects("lou@example.com")[3:] == ["Sorry we missed you - here is the recording"]
    letters = live.inbox("direct_mail")
    assert len(letters) == 1 and "Lou" in str(letters[0]["recipient"]) + live.body(letters[0])
    assert "Paris" in str(letters[0]["recipient"])


def test_birthday_every_year_at_nine_local(live: Live) -> None:
    live.install("birthday")
    live.contact("zoe@example.com", first_name="Zoe", timezone="Europe/Paris", attributes={"birthday": "1990-03-05"})
    live.advance(3 * DAY)
    first = live.inbox(recipient="zoe@example.com")
    assert [(i["subject"], i["received_at"][:16]) for i in first] == [("Happy birthday, Zoe!", "2026-03-05T08:00")]
    assert "HAPPYBDAY" in live.body(first[0])
    live.advance(365 * DAY)
    assert [i["received_at"][:16] for i in live.inbox(recipient="zoe@example.com")] == [
        "2026-03-05T08:00",
        "2027-03-05T08:00",
    ]


def test_social_mention_one_reply_per_person_and_topic(live: Live) -> None:
    import json

    live.install("social-mention", reply_url=f"{live.stack.url}/sink/webhook/social")
    live.contact("fan@example.com", consents=())
    for topic, post in (("espresso", 1), ("espresso", 2), ("grinders", 3), ("espresso", 4)):
        live.event(
            "social.mentioned",
            "fan@example.com",
            topic=topic,
            network="mastodon",
            post_url=f"https://social.example/@fan/{post}",
        )
    live.advance(60)
    calls = live.inbox("webhook")
    bodies = [json.loads(live.body(c)) for c in calls]
    assert [(b["key"], b["variables"]["post_url"]) for b in bodies] == [
        ("espresso", "https://social.example/@fan/1"),
        ("grinders", "https://social.example/@fan/3"),
    ]
    assert all(b["action"] == "reply" and b["message"] for b in bodies)


def test_lead_nurture_skips_owned_contacts(live: Live) -> None:
    live.install("lead-nurture")
    ids = {e: live.contact(e) for e in ("dana@example.com", "warm@example.com")}
    live.contact("vip@example.com", owner="ae-jane@example.com")
    for cid in [
        *ids.values(),
        *[c["id"] for c in live.ok(live.http.get("/api/contacts"))["items"] if c["email"] == "vip@example.com"],
    ]:
        live.ok(live.http.patch(f"/api/contacts/{cid}", json={"lifecycle_stage": "lead"}))
    live.advance(1)
    assert live.subjects("dana@example.com") == ["Lesson 1: start with one automation that pays"]
    assert live.subjects("vip@example.com") == []
    # an account executive takes Warm over: the series stops for her
    live.ok(live.http.patch(f"/api/contacts/{ids['warm@example.com']}", json={"owner": "ae-jane@example.com"}))
    live.advance(30 * DAY)
    assert live.subjects("dana@example.com")[1:] == ["Lesson 2: segments before messages"]
    assert len(live.subjects("warm@example.com")) == 1
    assert "owned" in live.enrollment_ends("lead-nurture")
