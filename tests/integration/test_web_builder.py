"""The builders' endpoints: the journey form <-> YAML with the problems of `journeys validate`,
the rule tree <-> rule text; and the editor pages carry the builder's data."""

from __future__ import annotations

import json
import re

from tests.web_support import web_client
from tidings.application.journeys import journeys as svc
from tidings.domain.journeys.builder import to_builder
from tidings.domain.journeys.model import JourneyError
from tidings.domain.journeys.yamlines import load
from tidings.store.sql_uow import joined

DOC = """key: built
name: Built  # a comment the builder does not keep
triggers:
  - event: signed_up
steps:
  - id: nap
    type: wait
    duration: soon
  - id: hello
    type: send
    channel: email
    template: nowhere
"""


def _post(client, token, path, body):
    return client.post(path, content=json.dumps(body), headers={"X-CSRF-Token": token,
                                                                  "Content-Type": "application/json"})


def test_journey_form_to_yaml_reports_what_validate_reports(container):
    with container.engine.connect() as conn:
        try:
            svc.validate(joined(conn), DOC)
        except JourneyError as exc:
            expected = exc.details()
    with web_client(container, "viewer") as (client, token):
        r = _post(client, token, "/journeys/builder/from-yaml", {"source": DOC})
        assert r.status_code == 200
        form = r.json()["form"]
        assert form == json.loads(json.dumps(to_builder(load(DOC))))
        assert r.json()["problems"] == expected
        assert any(p["step"] == "nap" and "soon" in p["msg"] for p in expected), expected
        r = _post(client, token, "/journeys/builder/to-yaml", {"form": form})
        assert r.status_code == 200
        assert r.json()["problems"] == expected
        assert load(r.json()["source"]) == load(DOC)
        form["steps"][0]["duration"] = "1d"
        form["layout"] = {"nap": [100, 40]}
        out = _post(client, token, "/journeys/builder/to-yaml", {"form": form}).json()
        assert "duration: 1d" in out["source"] and "layout:\n  nap: [100, 40]" in out["source"]
        assert out["problems"] == []  # fixed in the builder, valid for the validator too
        bad = _post(client, token, "/journeys/builder/to-yaml", {"form": {"journey": 1, "steps": []}})
        assert bad.status_code == 422 and bad.json()["problems"][0]["loc"] == ["journey"]
        broken = _post(client, token, "/journeys/builder/from-yaml", {"source": "key: [1,"}).json()
        assert broken["form"] is None and "not valid YAML" in broken["problems"][0]["msg"]


def test_rule_tree_and_text(container):
    with web_client(container, "viewer") as (client, token):
        r = _post(client, token, "/segments/builder/from-text", {"rule": 'tag("vip") or purchase.count(30d) >= 2'})
        tree = r.json()["tree"]
        assert tree["type"] == "group" and tree["match"] == "any" and len(tree["items"]) == 2
        tree["match"] = "all"
        r = _post(client, token, "/segments/builder/to-text", {"tree": tree})
        assert r.json() == {"text": 'tag("vip") and event("purchase").count(30d) >= 2'}
        tree["items"][1]["rule"]["op"] = "is"
        r = _post(client, token, "/segments/builder/to-text", {"tree": tree})
        assert r.status_code == 200 and "unknown operator" in r.json()["error"]["msg"]
        prop = {"type": "condition", "rule": {"property": "total", "op": "gt", "value": 5}}
        r = _post(client, token, "/segments/builder/to-text", {"tree": prop})
        assert "properties.* only applies" in r.json()["error"]["msg"]
        r = _post(client, token, "/segments/builder/to-text", {"tree": prop, "kind": "event"})
        assert r.json() == {"text": "properties.total > 5"}
        assert client.post("/segments/builder/to-text", json={"tree": prop}).status_code == 403  # no CSRF token


def test_editor_pages_carry_the_builder(container):
    with web_client(container, "marketer") as (client, token):
        page = client.get("/journeys/new").text
        data = json.loads(re.search(r'<script type="application/json" id="builder-data">(.*?)</script>', page, re.S)[1])
        assert data["form"]["steps"] == [] and data["form"]["journey"]["triggers"] == [{"event": ""}]
        assert "send" in data["options"]["step_types"] and "eq" in data["options"]["rules"]["ops"]
        assert "/static/vendor/drawflow-0.0.60.min.js" in page and 'id="tab-yaml"' in page
        labels = re.search(r'<script type="application/json" id="builder-labels">(.*?)</script>', page, re.S)[1]
        labels = json.loads(labels)
        assert labels["Control group (%)"] == "Control group (%)" and labels["has tag"] == "has tag"
        source = DOC.replace("duration: soon", "duration: 1d").replace("template: nowhere", "template: welcome")
        source = source.replace("  - id: hello\n    type: send\n    channel: email\n    template: welcome\n", "")
        r = client.post("/journeys/new", data={"csrf_token": token, "source": source}, follow_redirects=False)
        assert r.status_code == 303, r.text
        page = client.get("/journeys/built/edit").text
        assert "a comment the builder does not keep" in page  # the YAML tab holds the text as it was
        data = json.loads(re.search(r'<script type="application/json" id="builder-data">(.*?)</script>', page, re.S)[1])
        assert list(data["form"]["steps"][0]) == ["id", "type", "duration"]  # the document's order, not sorted
        assert data["form"]["keys"] == ["key", "name", "triggers", "steps"] and data["loaded"] is True
        r = client.post("/journeys/built/edit", data={"csrf_token": token, "source": "key: [built"})
        assert r.status_code == 422  # the text that does not load comes back, and the builder waits for it
        data = re.search(r'<script type="application/json" id="builder-data">(.*?)</script>', r.text, re.S)[1]
        assert json.loads(data)["loaded"] is False and "key: [built" in r.text
        assert 'id="diff-published"' not in page  # nothing published yet
        segment = client.get("/segments/new").text
        assert 'data-rule-builder="#rule-text"' in segment and "/static/rulebuilder.js" in segment


def test_a_body_that_is_not_json_is_refused(container):
    with web_client(container, "viewer") as (client, token):
        for path in ("/journeys/builder/to-yaml", "/segments/builder/to-text"):
            r = client.post(path, content=b"{nope", headers={"X-CSRF-Token": token, "Content-Type": "application/json"})
            assert r.status_code == 422 and "malformed JSON" in r.text
