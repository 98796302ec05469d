"""The /content-plan page: the matrix coloured by status, gaps, calendar downloads, editing a cell
and the plan (editors), marking a template reviewed; viewers read only."""

from __future__ import annotations

import json
from datetime import timedelta

import icalendar

from tests.web_support import web_client
from tidings.bootstrap import Container
from tidings.clock import ManualClock
from tidings.domain.plan.model import DEFAULT_PLAN


def _template(container: Container, key: str, **values: str) -> None:
    from tidings.store.sql_uow import SqlUnitOfWork

    now = container.clock.now() - timedelta(days=400)  # not reviewed for over a year
    with SqlUnitOfWork(container.engine) as uow:
        uow.templates.upsert(key, "", {"channel": "email", "name": key, "subject": "Hi", "body": "<p>Hi</p>",
                                       "format": "html", "text_body": None, "settings": {}, "updated_at": now,
                                       **values})
        uow.commit()


def test_viewer_reads_the_matrix_but_cannot_edit(container: Container) -> None:
    with web_client(container, "viewer", "v@example.com") as (client, token):
        page = client.get("/content-plan")
        assert page.status_code == 200
        assert page.text.count('data-status="missing"') == 125
        assert "Small-business founder" in page.text and 'href="/content-plan"' in page.text  # the nav entry
        assert 'id="cell-form"' not in page.text
        cell = {"persona": "founder", "stage": "awareness", "question": "why", "templates": "welcome",
                "csrf_token": token}
        assert client.post("/content-plan/cell", data=cell).status_code == 403
        assert client.post("/content-plan/review", data={"template": "x", "csrf_token": token}).status_code == 403


def test_editor_edits_a_cell_the_plan_and_reviews(container: Container, clock: ManualClock) -> None:
    _template(container, "welcome")
    _template(container, "promo", format="mjml", body="<mjml><mj-body></mj-body></mjml>")
    today = clock.now().date()
    with web_client(container, "marketer") as (client, token):
        cell = {"persona": "founder", "stage": "awareness", "question": "why", "templates": "welcome, promo",
                "assets": "https://blog.example.com/why", "channel": "sms", "owner": "ana@example.com",
                "publish_on": str(today + timedelta(days=10)), "review_on": "", "notes": "first post"}
        assert client.post("/content-plan/cell", data=cell).status_code == 403  # no CSRF token
        r = client.post("/content-plan/cell", data=cell | {"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303 and "persona=founder" in r.headers["location"]
        page = client.get(r.headers["location"])
        assert page.status_code == 200
        assert 'plan-cell plan-wrong_format" data-status="wrong_format" id="cell-founder-awareness-why"' in page.text
        assert 'href="/templates/welcome"' in page.text and "is written for email, not sms" in page.text
        assert 'value="welcome, promo"' in page.text  # the form is filled with the cell
        bad = client.post("/content-plan/cell", data=cell | {"channel": "fax", "csrf_token": token})
        assert bad.status_code == 422 and "channel: one of" in bad.text

        ics = client.get("/content-plan/calendar.ics")
        events = list(icalendar.Calendar.from_ical(ics.content).walk("VEVENT"))
        assert [e.decoded("dtstart") for e in events] == [today + timedelta(days=10)]
        rows = client.get("/content-plan/calendar.csv").text.splitlines()
        assert rows[1].startswith(f"{today + timedelta(days=10)},publish,founder,awareness,why,")

        doc = DEFAULT_PLAN.as_doc()
        doc["questions"] = doc["questions"][:2]
        r = client.post("/content-plan/plan", data={"document": json.dumps(doc), "csrf_token": token},
                        follow_redirects=False)
        assert r.status_code == 303
        assert client.get("/content-plan").text.count("data-status=") == 50
        bad = client.post("/content-plan/plan", data={"document": "{nope", "csrf_token": token})
        assert bad.status_code == 422 and "not JSON" in bad.text
        bad = client.post("/content-plan/plan", data={"document": json.dumps({**doc, "stages": []}),
                                                      "csrf_token": token})
        assert bad.status_code == 422 and "stages: a non-empty list" in bad.text

        page = client.get("/content-plan")
        assert 'id="stale-table"' in page.text and 'href="/templates/promo"' in page.text
        r = client.post("/content-plan/review", data={"template": "promo", "csrf_token": token},
                        follow_redirects=False)
        assert r.status_code == 303
        stale = client.get("/content-plan").text.split('id="stale"')[1]
        assert "/templates/welcome" in stale and "/templates/promo" not in stale
        assert client.post("/content-plan/review", data={"template": "ghost", "csrf_token": token}).status_code == 422
