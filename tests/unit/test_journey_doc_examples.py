"""The reference docs' examples parse and simulate with the real rule language; the published
JSON Schema is the generated one and accepts them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.scenarios import load_scenarios
from tidings.domain.journeys.schema import SCHEMA_PATH, render
from tidings.domain.journeys.simulate import simulate
from tidings.domain.journeys.yamlines import load, plain

DOCS = Path(__file__).resolve().parents[2] / "docs" / "journeys.md"


def _yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), flags=re.S)


def test_docs_example_journey_parses_and_its_scenarios_pass():
    blocks = _yaml_blocks()
    journey = next(b for b in blocks if b.startswith("key: trial-nurture"))
    scenarios = next(b for b in blocks if b.startswith("start:"))
    doc = parse_journey(journey, templates={"trial-welcome", "trial-nudge", "tips-short", "tips-long"})
    assert doc.triggers[0].where is not None and doc.settings.exit[1].rule is not None
    items, start, horizon = load_scenarios(plain(load(scenarios)))
    result = simulate(doc, items, start=start, horizon=horizon)
    assert result.ok, [s.failed_expectations for s in result.scenarios]
    assert [s.outcome for s in result.scenarios] == ["converted", "completed"]
    assert "tips-long" in result.unreached_steps


def test_trigger_examples_parse():
    triggers = next(b for b in _yaml_blocks() if b.startswith("triggers:"))
    doc = parse_journey("key: t\n" + triggers + "steps:\n  - id: a\n    type: exit\n")
    assert [t.type for t in doc.triggers] == ["date", "date", "date"]


def test_published_schema_is_current_and_describes_every_step_type():
    assert SCHEMA_PATH.read_text() == render(), "run: python -m tidings.domain.journeys.schema"
    schema = json.loads(render())
    types = {s["properties"]["type"]["enum"][0] for s in schema["properties"]["steps"]["items"]["oneOf"]}
    assert "send" in types and "behaviour" in types and len(types) == 18  # set_variables, repeat (issue 18); crm (19)
