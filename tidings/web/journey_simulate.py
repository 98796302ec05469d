"""Page: a journey's Simulation — a scenario file (the recipe's own when the journey came from a
recipe) or one scenario built in a form (contact fields, behaviour per message, events at
offsets), run on the real journey machine; timelines as sentences and coverage on the graph.

The builder's form works without JavaScript: its add / remove buttons post the form back and the
page returns with the row added or removed; ``static/scenario_builder.js`` does the same in place.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from tidings.application.access.users import Session
from tidings.domain.channels import CONSENT_CHANNELS
from tidings.domain.journeys.model import JourneyDoc
from tidings.domain.journeys.scenario_form import (
    CHOICES,
    ENTRIES,
    MESSAGE_CHOICES,
    EventRow,
    ScenarioForm,
    initial_form,
    problems_by_field,
    read_form,
    to_scenario,
)
from tidings.domain.journeys.scenarios import ScenarioError, load_scenarios
from tidings.web import journey_view as jv
from tidings.web.core import WebRoute, is_htmx, render
from tidings.web.i18n import Text, _
from tidings.web.journeys import DEFAULT_SCENARIOS, _doc_for, _journey_or_404
from tidings.web.security import FormFields, Viewer, container

router = APIRouter(route_class=WebRoute)

_REMOVE = re.compile(r"remove-(attr|event|prop)-(\d{1,3})(?:-(\d{1,3}))?")


def _journey(request: Request, key: str) -> tuple[Any, JourneyDoc | None, int | None, Any]:
    from tidings.application.control import policies
    from tidings.store.control import SqlControl

    with container(request).engine.connect() as conn:
        row = _journey_or_404(conn, key)
        doc, _source, shown = _doc_for(conn, row, None)
        policy = policies.load(SqlControl(conn))  # the global send policy applies in simulation too
    return row, doc, shown, policy


def _recipe_scenarios(row: Any) -> str | None:
    """The scenario file of the recipe the journey was installed from, if it still ships one."""
    from tidings.application.recipes.recipes import RecipeError, load_recipe

    name = row.get("recipe")
    if not name:
        return None
    try:
        path = load_recipe(str(name)).path / "scenarios.yaml"
    except RecipeError:
        return None
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _run(doc: JourneyDoc, scenarios: list[Any], start: datetime, horizon: timedelta, policy: Any) -> dict[str, Any]:
    from tidings.domain.journeys.narrate import narrate_entries
    from tidings.domain.journeys.simulate import simulate

    result = simulate(doc, scenarios, start=start, horizon=horizon, policy=policy)
    graph = jv.journey_graph(doc, None, unreached=result.unreached_steps)
    stories = {
        sc.name: narrate_entries([(at, e) for at, _eid, e in sc.trace], journey=doc.name or doc.key)
        for sc in result.scenarios
    }
    return {"result": result, "g": graph, "stories": stories}


def _page(request: Request, row: Any, doc: JourneyDoc | None, form: ScenarioForm, **ctx: Any) -> Response:
    status = 422 if ctx.get("error") or ctx.get("field_errors") else 200
    base: dict[str, Any] = {
        "j": row, "scenarios": DEFAULT_SCENARIOS, "result": None, "error": "", "g": None, "stories": {},
        "form": form, "field_errors": {}, "built_yaml": "", "choices": CHOICES, "message_choices": MESSAGE_CHOICES,
        "entries": ENTRIES, "can_simulate": doc is not None, "consent_channels": CONSENT_CHANNELS,
    }  # fmt: skip
    base.update(ctx)
    if ctx.get("htmx_block"):
        return render(request, "journey_simulate.html", base, block="results", status=status)
    return render(request, "journey_simulate.html", base, status=status, page="journeys")


@router.get("/journeys/{key}/simulate")
def simulate_page(key: str, request: Request, session: Session = Viewer) -> Response:
    row, doc, _shown, _policy = _journey(request, key)
    form = initial_form(doc) if doc is not None else ScenarioForm().with_blank_rows()
    recipe = _recipe_scenarios(row)
    return _page(request, row, doc, form, scenarios=recipe or DEFAULT_SCENARIOS, from_recipe=recipe is not None)


@router.post("/journeys/{key}/simulate")
def simulate_run(key: str, request: Request, session: Session = Viewer, form: FormData = FormFields) -> Response:
    """A scenario file. Running a simulation changes nothing, so viewers may do it too (CSRF-checked)."""
    row, doc, shown, policy = _journey(request, key)
    text = str(form.get("scenarios", ""))
    error: Text = ""
    ran: dict[str, Any] = {}
    if doc is None:
        error = _("this journey has no valid document to simulate")
    else:
        try:
            scenarios, start, horizon = load_scenarios(yaml.safe_load(text))
            ran = _run(doc, scenarios, start, horizon, policy)
        except (ScenarioError, yaml.YAMLError, ValueError, TypeError, KeyError) as exc:
            error = str(exc)
    built = initial_form(doc) if doc is not None else ScenarioForm().with_blank_rows()
    return _page(request, row, doc, built, scenarios=text, error=error, shown=shown, htmx_block=is_htmx(request),
                 **ran)  # fmt: skip


def _edit_rows(form: ScenarioForm, action: str) -> ScenarioForm:
    """The add / remove buttons of the form without JavaScript: a row removed (by its place on
    the page that was posted), the empty rows tidied, then a row added."""
    if m := _REMOVE.fullmatch(action):
        kind, a, b = m.group(1), int(m.group(2)), m.group(3)
        if kind == "attr" and a < len(form.attrs):
            del form.attrs[a]
        elif kind == "event":
            form.events = [e for e in form.events if e.index != a]
        elif kind == "prop" and b is not None:
            for ev in form.events:
                if ev.index == a and int(b) < len(ev.props):
                    del ev.props[int(b)]
    form.with_blank_rows()
    if action == "add-attr":
        form.attrs.append(("", ""))
    elif action == "add-event":
        form.events.append(EventRow(form.next_event_index(), props=[("", "")]))
    elif action.startswith("add-prop-"):
        for ev in form.events:
            if f"add-prop-{ev.index}" == action:
                ev.props.append(("", ""))
    return form


@router.post("/journeys/{key}/simulate/build")
def simulate_built(key: str, request: Request, session: Session = Viewer, form: FormData = FormFields) -> Response:
    """One scenario from the builder's form: run it, show it as YAML, or add / remove a row."""
    from tidings.domain.journeys.scenarios import DEFAULT_HORIZON, DEFAULT_START

    row, doc, shown, policy = _journey(request, key)
    if doc is None:
        return _page(request, row, doc, ScenarioForm().with_blank_rows(),
                     error=_("this journey has no valid document to simulate"))  # fmt: skip
    built = read_form(lambda n: str(form.get(n) or ""), lambda n: [str(v) for v in form.getlist(n)],
                      list(form.keys()), doc)  # fmt: skip
    action = str(form.get("action") or "run")
    if action not in ("run", "yaml"):
        return _page(request, row, doc, _edit_rows(built, action))
    scenario, problems = to_scenario(built)
    text = yaml.safe_dump({"scenarios": [scenario]}, sort_keys=False, allow_unicode=True)
    ctx: dict[str, Any] = {"built_yaml": text, "scenarios": text, "shown": shown}
    if problems:
        ctx["field_errors"] = problems_by_field(problems)
        ctx["error"] = _("The scenario has problems: see the fields marked below.")
    elif action == "run":
        try:
            ctx.update(_run(doc, [scenario], DEFAULT_START, DEFAULT_HORIZON, policy))
        except (ScenarioError, ValueError, TypeError, KeyError) as exc:
            ctx["error"] = str(exc)
    return _page(request, row, doc, built.with_blank_rows(), **ctx)
