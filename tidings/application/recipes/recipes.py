"""Recipes: ready-made journeys (thirteen common automations) with their templates, installable.

A recipe is a folder ``tidings/recipes/NAME/`` (``recipes/`` at the top of the repository):

- ``journey.yaml``: the journey document (its key is the recipe name);
- ``scenarios.yaml``: simulation scenarios whose expectations document its behaviour and
  together reach every step and branch (the unit tests hold them to it);
- ``templates/*.html|*.mjml|*.txt``: the message bodies;
- ``recipe.yaml``: title, description, channels (``optional_channels``: those it may run
  without — ``crm``: a CRM that is not configured is a warning, not an error), the contact data
  and events it expects, the teams its tasks go to, its parameters, its templates (key,
  channel, subject, locale) and optionally ``scoring``: a scoring model document
  (docs/scoring.md), a path inside the recipes folder (two recipes may share one file).

Installing upserts the templates and the scoring model and saves + publishes the journey, in one
transaction. It is idempotent: a second install finds everything equal and changes nothing.
Something a marketer edited since (a template, the scoring model, the journey) is kept unless
``replace`` is asked. Before installing,
:func:`check` says exactly what is missing (see ``recipe_checks``); errors stop the install
unless ``ignore_problems``.

Parameters (``--set first_delay=30m``) rewrite one value in ``journey.yaml`` in place, on the
line the document gives it, so the published source keeps its comments.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tidings.application.recipes.recipe_checks import (
    Finding,
    attribute_findings,
    channel_findings,
    contact_attributes,
    team_findings,
    template_needs,
    variable_findings,
)
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.model import JourneyDoc
from tidings.domain.journeys.scenarios import load_scenarios
from tidings.domain.journeys.simulate import SimulationResult, simulate
from tidings.domain.journeys.yamlines import line_of, load
from tidings.domain.scoring.model import ScoringModel, parse_scoring_model
from tidings.domain.templates import TemplateSource

RECIPES_DIR = Path(__file__).resolve().parents[2] / "recipes"  # tidings/recipes
FORMATS = {".html": "html", ".mjml": "mjml", ".txt": "text"}


class RecipeError(ValueError):
    """An unknown recipe or parameter, or a recipe folder that is not valid."""


@dataclass(frozen=True)
class TemplateSpec:
    key: str
    channel: str
    body_path: Path
    subject: str | None = None
    locale: str = ""
    category: str = "marketing"

    @property
    def format(self) -> str:
        return FORMATS[self.body_path.suffix]

    def source(self, recipe: str) -> TemplateSource:
        return TemplateSource(
            key=self.key,
            channel=self.channel,
            locale=self.locale,
            subject=self.subject,
            body=self.body_path.read_text(),
            format=self.format,
            settings={"recipe": recipe, "category": self.category},
        )


@dataclass(frozen=True)
class Parameter:
    name: str
    help: str
    #: (step id, dotted field path inside the step)
    targets: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ScoringSpec:
    """The scoring model a recipe ships (``scoring:`` in recipe.yaml)."""

    path: Path
    key: str
    name: str

    def text(self) -> str:
        return self.path.read_text()

    def model(self) -> ScoringModel:
        return parse_scoring_model(self.text())


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    description: str
    path: Path
    channels: tuple[str, ...]
    fields: tuple[str, ...]
    attributes: tuple[str, ...]
    events: Mapping[str, tuple[str, ...]]
    teams: tuple[str, ...]
    parameters: Mapping[str, Parameter]
    templates: tuple[TemplateSpec, ...]
    optional_channels: tuple[str, ...] = ()
    scoring: ScoringSpec | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def journey_source(self) -> str:
        return (self.path / "journey.yaml").read_text()

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "channels": list(self.channels),
            "attributes": list(self.attributes),
            "events": sorted(self.events),
            "templates": [t.key for t in self.templates],
            "optional_channels": list(self.optional_channels),
            "scoring": {"key": self.scoring.key, "name": self.scoring.name} if self.scoring else None,
            "parameters": [
                {"name": p.name, "help": p.help, "default": default_value(self, p)} for p in self.parameters.values()
            ],
        }


# --------------------------------------------------------------------------- loading


def names() -> list[str]:
    return sorted(p.name for p in RECIPES_DIR.iterdir() if (p / "recipe.yaml").is_file())


def list_recipes() -> list[Recipe]:
    return [load_recipe(n) for n in names()]


@cache
def load_recipe(name: str) -> Recipe:
    folder = RECIPES_DIR / name
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name) or not (folder / "recipe.yaml").is_file():
        raise RecipeError(f"no recipe {name!r} (recipes: {', '.join(names())})")
    raw = yaml.safe_load((folder / "recipe.yaml").read_text()) or {}
    contacts = raw.get("contacts") or {}
    templates = []
    for t in raw.get("templates") or []:
        body = folder / str(t["body"])
        if body.suffix not in FORMATS or not body.is_file():
            raise RecipeError(f"recipe {name}: template {t.get('key')!r}: no body file {t['body']!r}")
        templates.append(
            TemplateSpec(
                key=str(t["key"]),
                channel=str(t.get("channel", "email")),
                body_path=body,
                subject=t.get("subject"),
                locale=str(t.get("locale", "")),
                category=str(t.get("category", "marketing")),
            )
        )
    params = {}
    for p in raw.get("parameters") or []:
        targets = tuple((str(x["step"]), str(x["field"])) for x in p["targets"])
        params[str(p["name"])] = Parameter(str(p["name"]), str(p.get("help", "")), targets)
    return Recipe(
        name=name,
        title=str(raw.get("title") or name),
        description=" ".join(str(raw.get("description") or "").split()),
        path=folder,
        channels=tuple(raw.get("channels") or ()),
        fields=tuple(contacts.get("fields") or ()),
        attributes=tuple(contacts.get("attributes") or ()),
        events={str(k): tuple(v or ()) for k, v in (raw.get("events") or {}).items()},
        teams=tuple(raw.get("teams") or ()),
        parameters=params,
        templates=tuple(templates),
        optional_channels=tuple(str(c) for c in raw.get("optional_channels") or ()),
        scoring=_scoring_spec(name, folder, raw.get("scoring")),
        extra={k: v for k, v in raw.items() if k not in _MANIFEST_KEYS},
    )


def _scoring_spec(name: str, folder: Path, ref: Any) -> ScoringSpec | None:
    """The recipe's scoring model file, resolved inside the recipes folder only."""
    if ref is None:
        return None
    path = (folder / str(ref)).resolve()
    if not path.is_relative_to(RECIPES_DIR.resolve()) or not path.is_file():
        raise RecipeError(f"recipe {name}: scoring: no model file {ref!r} inside the recipes folder")
    try:
        model = parse_scoring_model(path.read_text())
    except ValueError as exc:
        raise RecipeError(f"recipe {name}: scoring: {ref}: {exc}") from exc
    return ScoringSpec(path=path, key=model.key, name=model.name)


_MANIFEST_KEYS = {
    "title",
    "optional_channels",
    "scoring",
    "description",
    "channels",
    "contacts",
    "events",
    "teams",
    "parameters",
    "templates",
}


# --------------------------------------------------------------------------- parameters


def _step_node(data: Any, step_id: str) -> Any:
    for step in data.get("steps") or []:
        if isinstance(step, Mapping) and step.get("id") == step_id:
            return step
    raise RecipeError(f"parameter target: no step {step_id!r}")


def _target(data: Any, step_id: str, path: str) -> tuple[Any, str]:
    node = _step_node(data, step_id)
    *parents, last = path.split(".")
    for part in parents:
        node = node.get(part) if isinstance(node, Mapping) else None
        if node is None:
            raise RecipeError(f"parameter target: step {step_id!r} has no {path!r}")
    if not isinstance(node, Mapping) or last not in node:
        raise RecipeError(f"parameter target: step {step_id!r} has no {path!r}")
    return node, last


def default_value(recipe: Recipe, param: Parameter) -> Any:
    step, path = param.targets[0]
    node, last = _target(load(recipe.journey_source()), step, path)
    return node[last]


def journey_text(recipe: Recipe, params: Mapping[str, Any] | None = None) -> str:
    """The journey document with parameters applied (each value replaced on its own line)."""
    text = recipe.journey_source()
    if not params:
        return text
    unknown = sorted(set(params) - set(recipe.parameters))
    if unknown:
        known = ", ".join(recipe.parameters) or "none"
        raise RecipeError(f"recipe {recipe.name} has no parameter {', '.join(unknown)} (parameters: {known})")
    lines = text.splitlines(keepends=True)
    data = load(text)
    for name, value in params.items():
        for step, path in recipe.parameters[name].targets:
            node, last = _target(data, step, path)
            n = line_of(node, last)
            if n is None:
                raise RecipeError(f"parameter {name}: cannot locate {step}.{path}")
            line = lines[n - 1]
            m = re.match(rf"^(\s*(?:-\s+)?{re.escape(last)}:\s*)(.*?)(\s+#.*)?(\r?\n)?$", line)
            if m is None:
                raise RecipeError(f"parameter {name}: {step}.{path} is not on a line of its own")
            rendered = json.dumps(value) if not isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            lines[n - 1] = f"{m.group(1)}{rendered}{m.group(3) or ''}{m.group(4) or ''}"
    return "".join(lines)


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``["first_delay=30m", "coupon=SAVE5"]`` -> a mapping (values read as YAML scalars)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise RecipeError(f"--set {pair!r}: use NAME=VALUE")
        out[name.strip()] = load(value) if value.strip() else ""
    return out


def journey_doc(recipe: Recipe, params: Mapping[str, Any] | None = None) -> JourneyDoc:
    return parse_journey(journey_text(recipe, params))


# --------------------------------------------------------------------------- simulation


def scenarios(recipe: Recipe) -> Any:
    return load_scenarios(yaml.safe_load((recipe.path / "scenarios.yaml").read_text()))


def recipe_scenarios(name: str) -> tuple[list[Mapping[str, Any]], datetime, timedelta]:
    """A recipe's scenarios by its name (what the audit simulates a recipe's journey with)."""
    items, start, horizon = scenarios(load_recipe(name))
    return items, start, horizon


def simulate_recipe(recipe: Recipe, params: Mapping[str, Any] | None = None) -> SimulationResult:
    items, start, horizon = scenarios(recipe)
    return simulate(journey_doc(recipe, params), items, start=start, horizon=horizon)


# --------------------------------------------------------------------------- checks


def static_findings(recipe: Recipe, doc: JourneyDoc) -> list[Finding]:
    """Problems visible without a database: template variables with no data."""
    found: list[Finding] = []
    keys = {t.key for t in recipe.templates}
    for step in doc.steps.values():
        if step.type == "send" and step.config.get("template") not in keys:
            found.append(
                Finding("template", f"step {step.id!r} sends template {step.config.get('template')!r}, "
                        "which the recipe does not ship")
            )  # fmt: skip
    for spec in recipe.templates:
        src = spec.source(recipe.name)
        needs = template_needs(src.subject, src.body, src.text_body)
        found.extend(variable_findings(spec.key, needs, doc, recipe.events))
    return found


def needed_attributes(recipe: Recipe) -> dict[str, str]:
    """Attribute -> why it is needed (declared by the recipe, or printed by a template)."""
    why = {a: "the journey reads it" for a in recipe.attributes}
    for spec in recipe.templates:
        src = spec.source(recipe.name)
        for a in contact_attributes(template_needs(src.subject, src.body, src.text_body)):
            why.setdefault(a, f"template {spec.key!r} prints it without a default")
    return why


def check(container: Any, recipe: Recipe, params: Mapping[str, Any] | None = None) -> list[Finding]:
    """Everything missing for ``recipe`` on this installation (errors first)."""
    doc = journey_doc(recipe, params)
    found = static_findings(recipe, doc)
    channels = set(recipe.channels) | {str(s.config.get("channel")) for s in doc.steps.values() if s.type == "send"}
    if any(s.type == "task" for s in doc.steps.values()):
        channels.add("task")
    if any(s.type == "webhook" for s in doc.steps.values()):
        channels.add("webhook")
    systems = sorted({str(s.config.get("system")) for s in doc.steps.values() if s.type == "crm"})
    if systems:
        channels.add("crm")
    found.extend(channel_findings(container.channel_providers(), channels))
    for system in systems:  # a hand-off to a CRM that is not configured ends in the dead letters
        client = container.crm_client(system)
        if client is not None:
            client.close()
        elif "crm" in recipe.optional_channels:  # loud, but nothing is lost: retried once configured
            found.append(
                Finding(
                    "channel",
                    f"CRM {system!r} is not configured: hand-offs wait in the dead letters until it is (docs/crm.md)",
                    "warning",
                )
            )
        else:
            found.append(Finding("channel", f"CRM {system!r} is not configured (docs/crm.md)"))
    with container.uow(read_only=True) as uow:  # reads only: no write lock on SQLite
        for name, why in sorted(needed_attributes(recipe).items()):
            found.extend(attribute_findings(uow.contacts, [name], why))
        found.extend(team_findings(uow, recipe.teams))
    return sorted(found, key=lambda f: (f.severity != "error", f.kind, f.message))


# --------------------------------------------------------------------------- install


def _same_template(row: Mapping[str, Any], src: TemplateSource) -> bool:
    return (row["channel"], row["subject"], row["body"], row["format"], row["text_body"]) == (
        src.channel,
        src.subject,
        src.body,
        src.format,
        src.text_body,
    )


def _install_scoring(uow: Any, spec: ScoringSpec, now: datetime, *, replace: bool) -> dict[str, Any]:
    """Publish the recipe's scoring model: created, unchanged, kept (edited since) or replaced."""
    text = spec.text()
    stored = uow.scoring.model(spec.key)
    if stored is None:
        status = "created"
    elif stored.document == text:
        status = "unchanged"
    elif replace:
        status = "replaced"
    else:
        status = "kept"  # a marketer edited it: their version wins
    if status in ("created", "replaced"):
        stored = uow.scoring.save_model(spec.key, spec.name, text, now)
    return {"key": spec.key, "status": status, "version": stored.version}


def install(
    container: Any,
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    ignore_problems: bool = False,
    replace: bool = False,
) -> dict[str, Any]:
    """Install one recipe: templates upserted, journey saved and published, in one transaction.

    Returns ``{"recipe", "installed", "journey": {...}, "templates": [...], "scoring": {...} | None,
    "problems": [...]}``.
    Errors found by :func:`check` stop it (``installed: false``) unless ``ignore_problems``.
    """
    from tidings.application.delivery import templates as ts
    from tidings.application.journeys import journeys as js

    recipe = load_recipe(name)
    doc = journey_doc(recipe, params)
    problems = check(container, recipe, params)
    result: dict[str, Any] = {
        "recipe": name,
        "installed": False,
        "journey": {"key": doc.key},
        "templates": [],
        "scoring": {"key": recipe.scoring.key, "status": None} if recipe.scoring else None,
        "problems": [p.to_dict() for p in problems],
    }
    if any(p.severity == "error" for p in problems) and not ignore_problems:
        return result
    now = container.clock.now()
    text = journey_text(recipe, params)
    with container.uow() as uow:  # templates and journey in one transaction
        for spec in recipe.templates:
            src = spec.source(name)
            row = ts.get_row(uow, src.key, src.locale)
            if row is None:
                status = "created"
            elif _same_template(row, src):
                status = "unchanged"
            elif replace:
                status = "replaced"
            else:
                status = "kept"  # edited since: the marketer's version wins
            if status in ("created", "replaced"):
                ts.save_template(uow, src, now, name=f"{recipe.title}: {src.key}")
            result["templates"].append({"key": src.key, "locale": src.locale, "status": status})
        if recipe.scoring is not None:
            result["scoring"] = _install_scoring(uow, recipe.scoring, now, replace=replace)
        existing = uow.journeys.get(doc.key)
        current = None
        if existing is not None and existing["current_version"] is not None:
            current = uow.journeys.get_version(int(existing["id"]), int(existing["current_version"]))
        if current is not None and current["checksum"] != js.checksum(doc) and not (replace or params):
            result["journey"].update(status="kept", version=int(existing["current_version"]))
        else:
            published = js.publish(uow, now, text=text, by=f"recipe:{name}")
            result["journey"].update(
                status="published" if published.created else "unchanged", version=published.version
            )
        uow.commit()
    result["installed"] = True
    return result


def install_all(container: Any, *, ignore_problems: bool = False, replace: bool = False) -> list[dict[str, Any]]:
    return [install(container, n, ignore_problems=ignore_problems, replace=replace) for n in names()]
