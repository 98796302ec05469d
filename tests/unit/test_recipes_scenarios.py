"""Every recipe parses, its scenarios pass on the real engine and reach every step and branch,
and every message a scenario sends renders from the recipe's own templates."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from tidings.application.recipes import recipes as r
from tidings.application.recipes.recipe_checks import template_needs, variable_findings
from tidings.domain.journeys.document import parse_journey
from tidings.domain.templates import contact_context, render

NAMES = r.names()
BRIEF = {
    "welcome-series", "demo-request", "abandoned-cart", "timed-offer", "repeat-purchase",
    "post-purchase-education", "treatment-reminders", "annual-checkup", "feedback", "webinar",
    "birthday", "social-mention", "lead-nurture",
}  # fmt: skip


def test_the_brief_s_thirteen_recipes_ship():
    assert set(NAMES) == BRIEF
    top = Path(__file__).resolve().parents[2] / "recipes"
    assert top.is_symlink() and (top / "welcome-series" / "journey.yaml").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_scenarios_pass_and_cover_every_step_and_branch(name):
    recipe = r.load_recipe(name)
    doc = parse_journey(recipe.journey_source(), templates={t.key for t in recipe.templates})
    assert doc.key == name
    result = r.simulate_recipe(recipe)
    assert len(result.scenarios) >= 2
    failed = {s.name: s.failed_expectations for s in result.scenarios if s.failed_expectations}
    assert failed == {}
    assert result.unreached_steps == []
    assert result.untaken_branches == []


@pytest.mark.parametrize("name", NAMES)
def test_every_simulated_message_renders(name):
    recipe = r.load_recipe(name)
    specs = {t.key: t for t in recipe.templates}
    result = r.simulate_recipe(recipe)
    rendered = 0
    for sc in result.scenarios:
        contact = contact_context(dict(sc.contact), list(sc.contact.get("tags") or []))
        for _, kind, payload in sc.effects:
            if kind != "message":
                continue
            spec = specs[payload["template"]]
            assert spec.channel == payload["channel"], payload["template"]
            message = {
                "id": 1,
                "unsubscribe_url": "https://t.example/u/x",
                "preferences_url": "https://t.example/p/x",
                "self_service_url": "https://t.example/s/x",
            }
            out = render(spec.source(name), {"contact": contact, "data": payload["data"], "message": message})
            assert out.text.strip()
            if spec.channel == "email" and payload["category"] == "marketing":
                assert "https://t.example/u/x" in (out.html or ""), f"{spec.key}: no unsubscribe link"
            if spec.channel == "email":
                assert out.subject, f"{spec.key}: no subject"
            rendered += 1
    assert rendered or name == "social-mention"


@pytest.mark.parametrize("name", NAMES)
def test_manifest_matches_the_folder(name):
    recipe = r.load_recipe(name)
    folder = recipe.path / "templates"
    files = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    assert files == {t.body_path.name for t in recipe.templates}
    assert r.static_findings(recipe, r.journey_doc(recipe)) == []
    summary = recipe.summary()
    assert summary["title"] and summary["description"]
    assert [q["name"] for q in summary["parameters"]] == list(recipe.parameters)


def _another(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str) and re.fullmatch(r"\d+[smhdw]", value):
        return "7d" if value != "7d" else "8d"
    if value in ("hubspot", "salesforce"):  # a crm step's system: the other CRM
        return "salesforce" if value == "hubspot" else "hubspot"
    if isinstance(value, str) and re.fullmatch(r"\d\d:\d\d", value):
        return "07:30" if value != "07:30" else "08:15"
    return f"{value}-other"


@pytest.mark.parametrize("name", [n for n in NAMES if r.load_recipe(n).parameters])
def test_parameters_have_defaults_and_reach_every_target(name):
    """Each parameter's default is what the journey holds at every target (installing with it
    changes nothing); another value lands at every target and still makes a valid journey."""
    recipe = r.load_recipe(name)
    plain = yaml.safe_load(recipe.journey_source())
    for p in recipe.parameters.values():
        default = r.default_value(recipe, p)
        assert default not in (None, ""), p.name
        assert p.targets
        for step, path in p.targets:
            node, last = r._target(plain, step, path)
            assert node[last] == default, (p.name, step, path)
        assert yaml.safe_load(r.journey_text(recipe, {p.name: default})) == plain
        other = _another(default)
        text = r.journey_text(recipe, {p.name: other})
        changed = yaml.safe_load(text)
        for step, path in p.targets:
            node, last = r._target(changed, step, path)
            assert node[last] == other, (p.name, step, path)
        assert parse_journey(text).key == name


def test_social_mention_replies_once_per_topic_one_request_each():
    result = r.simulate_recipe(r.load_recipe("social-mention"))
    webhooks = [[p for _, k, p in sc.effects if k == "webhook"] for sc in result.scenarios]
    assert [len(w) for w in webhooks] == [1, 2]
    assert all(w["url"].startswith("https://") for w in webhooks[1])


def test_demo_request_task_is_due_in_five_minutes():
    result = r.simulate_recipe(r.load_recipe("demo-request"))
    tasks = [p for _, k, p in result.scenarios[0].effects if k == "task"]
    assert len(tasks) == 1 and tasks[0]["due_in_seconds"] == 300
    assert [k for _, k, _ in result.scenarios[0].effects][:3] == ["message", "assign_owner", "task"]


def test_abandoned_cart_attributes_the_revenue():
    result = r.simulate_recipe(r.load_recipe("abandoned-cart"))
    coupon = next(s for s in result.scenarios if s.name == "the coupon does it")
    conversions = [p for _, k, p in coupon.effects if k == "conversion"]
    assert conversions == [{"step": "attribution-window", "goal": "goal", "revenue": 108.0}]


def test_parameters_rewrite_the_journey_in_place():
    recipe = r.load_recipe("abandoned-cart")
    text = r.journey_text(recipe, {"first_delay": "30m", "coupon": "SAVE5"})
    doc = parse_journey(text)
    assert doc.steps["first-delay"].config["duration"] == "30m"
    assert doc.steps["reminder-3"].config["data"]["coupon"] == "SAVE5"
    assert "# recipe parameter: first_delay" in text
    sim = r.simulate_recipe(recipe, {"first_delay": "30m"})
    first = sim.scenarios[0].timeline[0]
    assert (first.at - sim.scenarios[0].start).total_seconds() == 1800
    timed = r.journey_text(r.load_recipe("timed-offer"), {"send_at": "10:30"})
    assert timed.count('at: "10:30"') == 2
    with pytest.raises(r.RecipeError, match="no parameter nope"):
        r.journey_text(recipe, {"nope": 1})
    assert r.parse_params(["first_delay=2h", "n=3"]) == {"first_delay": "2h", "n": 3}
    with pytest.raises(r.RecipeError):
        r.parse_params(["novalue"])


def test_unknown_recipe_is_refused_with_the_list():
    with pytest.raises(r.RecipeError, match="welcome-series"):
        r.load_recipe("nope")


def test_template_analysis_finds_values_printed_without_data():
    needs = template_needs(
        "{{ contact.plan }} {{ contact.first_name | default('x') }} {{ data.coupon }} "
        "{{ data.variables.sku }}{% if data.maybe %}{{ data.maybe }}{% endif %}"
        "{{ message.unsubscribe_url }}{{ data.variables.t | default('') }}"
    )
    assert needs == {("contact", "plan"), ("data", "coupon"), ("data", "variables", "sku"),
                     ("message", "unsubscribe_url")}  # fmt: skip
    doc = r.journey_doc(r.load_recipe("abandoned-cart"))
    msgs = [f.message for f in variable_findings("cart-reminder-3", needs, doc, {"cart.abandoned": ["total"]})]
    assert any("data.variables.sku" in m and "cart.abandoned" in m for m in msgs)
    assert not any("data.coupon" in m for m in msgs)  # reminder-3 gives a coupon
    msgs = [f.message for f in variable_findings("cart-reminder-1", needs, doc, {})]
    assert any("step 'reminder-1' gives no 'coupon'" in m for m in msgs)


def _effects(name, scenario, params=None):
    result = r.simulate_recipe(r.load_recipe(name), params)
    sc = next(s for s in result.scenarios if s.name.startswith(scenario))
    return [(k, p) for _, k, p in sc.effects]


def test_lead_nurture_hands_an_mql_to_sales_and_the_crm():
    effects = _effects("lead-nurture", "becomes a marketing-qualified lead after the second lesson")
    kinds = [k for k, _ in effects]
    assert [p["template"] for k, p in effects if k == "message"] == ["nurture-1", "nurture-2"]
    assert kinds.index("task") > kinds.index("message") and kinds.index("crm") > kinds.index("task")
    (task,) = [p for k, p in effects if k == "task"]
    assert task["team"] == "sales" and task["owner"] is None
    assert task["due_in_seconds"] is None  # the sales team's SLA sets the due time
    assert "score explanation" in task["body"]
    (crm,) = [p for k, p in effects if k == "crm"]
    assert (crm["system"], crm["action"], crm["priority"]) == ("hubspot", "create_task", "high")
    result = r.simulate_recipe(r.load_recipe("lead-nurture"))
    quick = next(s for s in result.scenarios if s.name.startswith("qualified within the first month"))
    handed = [at - quick.start for at, k, _ in quick.effects if k == "task"]
    assert handed == [timedelta(days=10)]  # not at 2d, 3d or 5d: only lead-score's own step up to MQL
    # a series read to the end hands nothing off
    plain = _effects("lead-nurture", "a lead reads the whole series")
    assert not [k for k, _ in plain if k in ("task", "crm")]


@pytest.mark.parametrize(("scenario", "lessons"), [
    ("already qualified when the first lesson goes out", 1),
    ("qualified while waiting for the second lesson", 2),
    ("qualified before the third lesson", 3),
    ("qualified before the last lesson", 4),
    ("qualified in the month after the last lesson", 4),
])
def test_lead_nurture_never_misses_a_qualified_lead(scenario, lessons):
    """A stage reached while no wait listened (a lesson held for office hours), or a crossing in
    the month after the last lesson, still ends in the hand-off: one task, then one CRM task."""
    effects = _effects("lead-nurture", scenario)
    assert len([k for k, _ in effects if k == "message"]) == lessons
    assert [k for k, _ in effects if k in ("task", "crm")] == ["task", "crm"]


def test_the_crm_system_parameter_switches_both_recipes_to_salesforce():
    for name, scenario in (("lead-nurture", "qualified within"), ("demo-request", "the rep calls")):
        effects = _effects(name, scenario, {"crm_system": "salesforce"})
        assert [p["system"] for k, p in effects if k == "crm"] == ["salesforce"], name


def test_demo_request_creates_the_task_in_the_crm_too():
    effects = _effects("demo-request", "the rep calls within the hour")
    assert [k for k, _ in effects][:4] == ["message", "assign_owner", "task", "crm"]
    doc = r.journey_doc(r.load_recipe("demo-request"))
    step = doc.steps["crm-task"].config
    assert (step["action"], step["title"], step["due_in"]) == ("create_task", "Demo requested", "5m")
    assert "score" in step["body"]


def test_both_b2b_recipes_ship_one_lead_score_model():
    nurture, demo = r.load_recipe("lead-nurture"), r.load_recipe("demo-request")
    assert nurture.scoring is not None and demo.scoring is not None
    assert nurture.scoring.path == demo.scoring.path  # one file
    model = nurture.scoring.model()
    assert (model.key, model.writes_contact) == ("lead-score", True)
    assert [(t.stage, t.at, t.demote_below) for t in model.thresholds] == [("mql", 50, None), ("sql", 80, 60)]
    assert {b.event: b.points for b in model.behaviour} == {
        "message.clicked": 5, "Page Viewed": 5, "webinar.checked_in": 15, "demo.requested": 40,
        "message.unsubscribed": -20,
    }  # fmt: skip
    assert nurture.summary()["scoring"] == {"key": "lead-score", "name": "Lead score"}
    assert "crm" in nurture.optional_channels and "crm" in demo.optional_channels
    assert r.load_recipe("welcome-series").scoring is None


def test_a_scoring_file_outside_the_recipes_folder_or_invalid_is_refused():
    folder = r.RECIPES_DIR / "lead-nurture"
    with pytest.raises(r.RecipeError, match="inside the recipes folder"):
        r._scoring_spec("x", folder, "../../application/recipes/recipes.py")
    with pytest.raises(r.RecipeError, match="inside the recipes folder"):
        r._scoring_spec("x", folder, "nope.yaml")
    with pytest.raises(r.RecipeError, match="scoring: recipe.yaml"):
        r._scoring_spec("x", folder, "recipe.yaml")  # a file, but not a scoring model
