"""The scoring pages: publish with inline validation, pause, the funnel, a contact's score panel."""

from __future__ import annotations

from tests.integration.test_scoring_handoff import MODEL
from tests.web_support import web_client
from tidings.application.scoring.scores import rescore_contacts
from tidings.bootstrap import Container
from tidings.store import schema


def test_marketer_publishes_a_model_and_sees_a_contact_score(container: Container) -> None:
    with web_client(container, "marketer") as (client, token):
        page = client.get("/scoring/new").text
        assert 'name="source"' in page and 'hx-post="/scoring/validate"' in page
        bad = client.post(
            "/scoring/validate", data={"csrf_token": token, "source": MODEL.replace("points: 25", "points: 0")}
        )
        assert "line 12" in bad.text and "webinar" in bad.text and "must not be 0" in bad.text
        ok = client.post("/scoring/validate", data={"csrf_token": token, "source": MODEL})
        assert 'data-testid="check-ok"' in ok.text
        refused = client.post("/scoring", data={"csrf_token": token, "source": "key: x\n"})
        assert refused.status_code == 422 and "at least one" in refused.text
        r = client.post("/scoring", data={"csrf_token": token, "source": MODEL}, follow_redirects=False)
        assert r.status_code == 303
        listing = client.get(r.headers["location"]).text
        assert "Published B2B leads (version 1)" in listing and 'data-testid="scoring-model"' in listing
        now = container.clock.now()
        with container.engine.begin() as conn:
            cid = conn.execute(
                schema.contacts.insert()
                .values(email="big@corp.test", attributes={"company_size": 80}, created_at=now, updated_at=now)
                .returning(schema.contacts.c.id)
            ).scalar_one()
        with container.uow() as uow:
            rescore_contacts(uow.scoring, [cid], now)
            uow.commit()
        assert f'hx-get="/contacts/{cid}/score"' in client.get(f"/contacts/{cid}").text
        panel = client.get(f"/contacts/{cid}/score").text
        assert "20 = +20 company size 50+" in panel
        assert client.get("/contacts/999999/score").status_code == 404
        assert 'data-chart="/scoring/b2b/funnel.json"' in client.get("/scoring").text
        chart = client.get("/scoring/b2b/funnel.json").json()  # twelve weeks of stage entries
        assert chart["type"] == "bar" and [d["label"] for d in chart["datasets"]] == ["lead", "mql", "sql"]
        weeks = len(chart["labels"])
        assert weeks in (12, 13) and all(len(d["data"]) == weeks for d in chart["datasets"])
        assert client.get("/scoring/nope/funnel.json").status_code == 404
        client.post("/scoring/b2b/pause", data={"csrf_token": token})
        assert "paused" in client.get("/scoring").text


def test_a_viewer_cannot_publish(container: Container) -> None:
    with web_client(container, "viewer") as (client, token):
        r = client.post("/scoring", data={"csrf_token": token, "source": MODEL})
        assert r.status_code == 403
        assert client.post("/scoring", data={"source": MODEL}).status_code == 403  # no CSRF token either
