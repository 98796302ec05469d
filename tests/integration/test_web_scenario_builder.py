"""The Simulation page's scenario builder: a scenario from form rows (contact fields, behaviour
per message, events at offsets), run on the real machine, its problems named by field, the rows
added and removed without JavaScript, and the same scenario as a YAML document."""

from __future__ import annotations

import html
import re

import sqlalchemy as sa
import yaml

from tests.web_support import web_client
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.scenarios import load_scenarios
from tidings.domain.journeys.simulate import simulate
from tidings.store import schema

TRIAL = """key: trial
name: Trial
triggers:
  - event: trial.started
steps:
  - id: welcome
    type: send
    channel: email
    template: trial-welcome
  - id: clicked
    type: behaviour
    message: welcome
    action: clicked
    within: 2d
    then: hot
    else: fit
  - id: fit
    type: branch
    branches:
      - when: attributes.company_size >= 50
        next: hot
    else: nudge
  - id: nudge
    type: send
    channel: email
    template: trial-nudge
    next: end
  - id: hot
    type: send
    channel: email
    template: sales-call
"""


def _base(token: str, **extra: object) -> dict[str, object]:
    data: dict[str, object] = {
        "csrf_token": token, "sc-name": "big company", "sc-email": "Ann@Example.com", "sc-locale": "uk",
        "sc-timezone": "Europe/Kyiv", "sc-consent": ["email"], "sc-tags": "trial, vip",
        "attr-key": ["company_size", "plan", ""], "attr-value": ["80", '"42"', ""],
        "sc-behaviour": "ignores", "msg-step": ["welcome", "nudge", "hot"],
        "msg-choice": ["default", "default", "default"], "sc-enter": "events",
        "ev-0-name": "trial.started", "ev-0-at": "0m", "ev-0-key": ["source", ""], "ev-0-value": ["ads", ""],
        "ev-3-name": "", "ev-3-at": "", "ev-3-key": [""], "ev-3-value": [""],
        "action": "run",
    }  # fmt: skip
    data.update(extra)
    return data


def _timeline(page: str) -> list[str]:
    card = page.split('class="card mt scenario"')[1]
    return re.findall(r"<td><code>([a-z-]+)</code></td>", card)


def _publish(client, token) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/journeys/new", data={"csrf_token": token, "source": TRIAL}, follow_redirects=False)
    assert r.status_code == 303, r.text
    client.post("/journeys/trial/publish", data={"csrf_token": token})


def test_a_built_scenario_runs_and_shows_timeline_story_and_coverage(container) -> None:  # type: ignore[no-untyped-def]
    with web_client(container, "viewer") as (client, token):
        pass
    with web_client(container, "marketer") as (client, token):
        _publish(client, token)
        page = client.get("/journeys/trial/simulate").text
        # the form starts from the journey: its send steps, its trigger event, no raw YAML needed
        assert 'name="msg-step" value="welcome"' in page and 'name="msg-step" value="hot"' in page
        assert 'value="trial.started"' in page and 'src="/static/scenario_builder.js"' in page
        r = client.post("/journeys/trial/simulate/build", data=_base(token))
        assert r.status_code == 200, r.text
        assert _timeline(r.text) == ["welcome", "hot"]  # ignored the welcome, a big company: the sales call
        story = r.text.split('data-testid="story"')[1].split("</ol>")[0]
        assert "Entered " in story and "trial.started" in story
        assert 'class="unreached-step">nudge<' in r.text  # coverage: the nudge was never reached
        r = client.post("/journeys/trial/simulate/build", data=_base(token, **{"attr-value": ["3", "", ""]}))
        assert _timeline(r.text) == ["welcome", "nudge"]  # a small company: the nudge
        # behaviour per message: the welcome clicked, so the sales call comes from the behaviour step
        clicks = {"attr-value": ["3", "", ""], "msg-choice": ["clicks", "default", "default"]}
        r = client.post("/journeys/trial/simulate/build", data=_base(token, **clicks))
        assert _timeline(r.text) == ["welcome", "hot"]
        # what was typed is kept on the page
        assert 'value="Europe/Kyiv"' in r.text and 'value="company_size"' in r.text and 'value="ads"' in r.text
        # entered at the start (a manual enrolment), no event at all
        manual = {"sc-enter": "manual", "ev-0-name": "", "ev-0-at": "", "ev-0-key": [""], "ev-0-value": [""]}
        r = client.post("/journeys/trial/simulate/build", data=_base(token, **manual))
        assert r.status_code == 200 and _timeline(r.text) == ["welcome", "hot"]


def test_problems_are_named_by_field_and_nothing_runs(container) -> None:  # type: ignore[no-untyped-def]
    with web_client(container, "marketer") as (client, token):
        _publish(client, token)
        data = _base(token, **{"sc-timezone": "Mars/Base", "ev-0-at": "soon", "ev-3-key": ["total"],
                               "ev-3-value": ["35"], "sc-email": "not an email"})  # fmt: skip
        r = client.post("/journeys/trial/simulate/build", data=data)
        assert r.status_code == 422
        errors = dict(re.findall(r'<span class="field-error" role="alert" id="([^"]+)-error">([^<]+)<', r.text))
        assert set(errors) == {"sc-timezone", "ev-0-at", "ev-3-name", "sc-email"}, errors
        assert "Mars/Base" in html.unescape(errors["sc-timezone"]) and "30m" in errors["ev-0-at"]
        assert 'value="Mars/Base"' in r.text and 'value="not an email"' in r.text  # kept as typed
        assert 'aria-invalid="true" aria-describedby="ev-0-at-error"' in r.text
        assert 'class="card mt scenario"' not in r.text
        r = client.post("/journeys/trial/simulate/build",
                        data=_base(token, **{"attr-key": ["plan", "plan"], "attr-value": ["a", "b"]}))  # fmt: skip
        assert r.status_code == 422 and 'id="attr-key-1-error"' in r.text and "twice" in r.text


def test_rows_are_added_and_removed_without_javascript(container) -> None:  # type: ignore[no-untyped-def]
    with web_client(container, "marketer") as (client, token):
        _publish(client, token)
        r = client.post("/journeys/trial/simulate/build", data=_base(token, action="add-event"))
        assert r.status_code == 200
        events = re.findall(r'name="ev-(\d+)-name"', r.text)
        assert events == ["0", "1", "2"]  # the posted empty row 3 tidied away, one empty row, the added one
        assert 'class="card mt scenario"' not in r.text  # nothing ran
        r = client.post("/journeys/trial/simulate/build", data=_base(token, action="remove-event-0"))
        assert 'value="trial.started"' not in r.text.split('<template data-template="event">')[0]
        r = client.post("/journeys/trial/simulate/build", data=_base(token, action="remove-attr-0"))
        form = r.text.split('<template data-template="attr">')[0]
        assert 'value="company_size"' not in form and 'value="plan"' in form
        r = client.post("/journeys/trial/simulate/build", data=_base(token, action="add-prop-0"))
        # source, the blank row, the added one, and the row template of the event's properties
        assert len(re.findall(r'name="ev-0-key"', r.text)) == 4


def test_save_as_yaml_gives_the_same_scenario(container) -> None:  # type: ignore[no-untyped-def]
    with web_client(container, "marketer") as (client, token):
        _publish(client, token)
        r = client.post("/journeys/trial/simulate/build", data=_base(token, action="yaml"))
        assert r.status_code == 200 and 'class="card mt scenario"' not in r.text
        text = html.unescape(r.text.split('<pre id="built-yaml">')[1].split("</pre>")[0])
        doc = yaml.safe_load(text)
        sc = doc["scenarios"][0]
        assert sc["contact"] == {
            "email": "ann@example.com", "locale": "uk", "timezone": "Europe/Kyiv", "tags": ["trial", "vip"],
            "consents": {"email": "granted"}, "attributes": {"company_size": 80, "plan": "42"},
        }  # fmt: skip
        assert sc["events"] == [{"name": "trial.started", "at": "0m", "properties": {"source": "ads"}}]
        # the document runs as a scenario file (the box below holds it too)
        scenarios, start, horizon = load_scenarios(doc)
        result = simulate(parse_journey(TRIAL), scenarios, start=start, horizon=horizon)
        assert [t.step for t in result.scenarios[0].timeline] == ["welcome", "hot"]
        r = client.post("/journeys/trial/simulate", data={"csrf_token": token, "scenarios": text})
        assert r.status_code == 200 and _timeline(r.text) == ["welcome", "hot"]


def test_a_recipe_journey_offers_its_recipe_scenarios(container, engine: sa.Engine) -> None:  # type: ignore[no-untyped-def]
    with web_client(container, "marketer") as (client, token):
        _publish(client, token)
        with engine.begin() as conn:
            j = schema.journeys
            conn.execute(sa.update(j).where(j.c.key == "trial").values(recipe="abandoned-cart"))
        page = client.get("/journeys/trial/simulate").text
        assert "never comes back" in page and "recipe this journey was installed from" in page


def test_a_journey_without_a_valid_document_says_so(container, engine: sa.Engine) -> None:  # type: ignore[no-untyped-def]
    with web_client(container, "marketer") as (client, token):
        r = client.post("/journeys/new", data={"csrf_token": token, "source": TRIAL}, follow_redirects=False)
        assert r.status_code == 303  # a draft, never published
        with engine.begin() as conn:
            j = schema.journeys
            conn.execute(sa.update(j).where(j.c.key == "trial").values(draft_source="key: [broken"))
        page = client.get("/journeys/trial/simulate")
        assert page.status_code == 200 and 'id="run-built-scenario" disabled' in page.text
        r = client.post("/journeys/trial/simulate/build", data=_base(token))
        assert r.status_code == 422 and "no valid document" in r.text
