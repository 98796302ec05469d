"""Endpoints of the visual builders (``static/builder.js``, ``static/rulebuilder.js``): JSON in,
JSON out, every conversion done by the domain's converters and every check by the same
validator as ``tidings journeys validate``.

- ``POST /journeys/builder/to-yaml``: the journey builder's form -> YAML text + the problems;
- ``POST /journeys/builder/from-yaml``: YAML text -> the builder's form (or the problems);
- ``POST /segments/builder/to-text``: a rule builder tree -> the rule's text form (or the error);
- ``POST /segments/builder/from-text``: a rule (text or structured form) -> the builder tree.

Nothing here saves anything: the page posts the YAML (or rule text) through its ordinary form.
"""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from tidings.application.access.users import Session
from tidings.application.delivery import templates as template_svc
from tidings.application.journeys import journeys as svc
from tidings.application.segments import segments as segment_svc
from tidings.domain import jsonvalues
from tidings.domain.channels import TEMPLATE_CHANNELS
from tidings.domain.journeys.builder import builder_yaml, to_builder
from tidings.domain.journeys.docfields import ACTIONS, STEP_FIELDS, TRIGGER_TYPES
from tidings.domain.journeys.model import JourneyError
from tidings.domain.journeys.yamlines import load
from tidings.domain.rules import RuleError, parse_contact_rule, parse_rule, to_text
from tidings.domain.rules.ast import AGGS, CHANNELS_OK, CONSENT_STATUSES, OPS
from tidings.domain.rules.builder import builder_to_rule, rule_to_builder
from tidings.domain.snapshot import STANDARD_FIELDS
from tidings.store import journeys as jst
from tidings.store.sql_uow import joined
from tidings.web.core import WebRoute
from tidings.web.security import Viewer, container

router = APIRouter(route_class=WebRoute)


class Refused:
    """A body that is not JSON by the JSON rule: the endpoint answers 422 with the reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


async def _json_body(request: Request) -> Any:
    """The posted JSON, read on the event loop and held to the JSON rule (jsonvalues)."""
    try:
        return jsonvalues.loads(await request.body())
    except jsonvalues.JsonRefused as exc:
        return Refused(str(exc))


JsonBody = Depends(_json_body)


def _refused(body: Any) -> JSONResponse | None:
    if isinstance(body, Refused):
        problem: dict[str, Any] = {"msg": body.reason, "loc": [], "line": None, "step": None}
        return JSONResponse({"problems": [problem], "error": {"msg": body.reason, "path": [], "column": None}},
                            status_code=422)
    return None


def _yaml_problem(exc: yaml.YAMLError) -> dict[str, Any]:
    mark = getattr(exc, "problem_mark", None)
    return {"msg": f"not valid YAML/JSON: {getattr(exc, 'problem', exc)}", "loc": [],
            "line": mark.line + 1 if mark is not None else None, "step": None}


def _validate(request: Request, source: str) -> list[dict[str, Any]]:
    """The problems ``tidings journeys validate`` reports for ``source`` (none: valid)."""
    try:
        with container(request).engine.connect() as conn:
            svc.validate(joined(conn), source)
    except JourneyError as exc:
        return exc.details()
    except yaml.YAMLError as exc:
        return [_yaml_problem(exc)]
    return []


@router.post("/journeys/builder/to-yaml")
def journey_to_yaml(request: Request, session: Session = Viewer, body: Any = JsonBody) -> JSONResponse:
    refused = _refused(body)
    if refused is not None:
        return refused
    try:
        source = builder_yaml(body.get("form") if isinstance(body, dict) else None)
    except JourneyError as exc:
        return JSONResponse({"problems": exc.details()}, status_code=422)
    return JSONResponse({"source": source, "problems": _validate(request, source)})


@router.post("/journeys/builder/from-yaml")
def journey_from_yaml(request: Request, session: Session = Viewer, body: Any = JsonBody) -> JSONResponse:
    refused = _refused(body)
    if refused is not None:
        return refused
    source = str(body.get("source", "")) if isinstance(body, dict) else ""
    try:
        data = load(source)
    except yaml.YAMLError as exc:
        return JSONResponse({"form": None, "problems": [_yaml_problem(exc)]})
    if not isinstance(data, dict):
        return JSONResponse({"form": None, "problems": [
            {"msg": "a journey document is a mapping with key, name, triggers, steps", "loc": [], "line": 1,
             "step": None}]})
    return JSONResponse({"form": to_builder(data), "problems": _validate(request, source)})


def _rule_error(exc: RuleError) -> dict[str, Any]:
    return {"msg": str(exc), "path": exc.path, "column": exc.column}


@router.post("/segments/builder/to-text")
def rule_to_text(request: Request, session: Session = Viewer, body: Any = JsonBody) -> JSONResponse:
    """A rule builder tree as the rule's text form. ``kind`` "event" allows properties.* filters."""
    refused = _refused(body)
    if refused is not None:
        return refused
    tree = body.get("tree") if isinstance(body, dict) else None
    try:
        rule = builder_to_rule(tree)
        if not (isinstance(body, dict) and body.get("kind") == "event"):
            rule = parse_contact_rule(rule)
    except RuleError as exc:
        return JSONResponse({"error": _rule_error(exc)})  # an answer while building, not a refusal
    return JSONResponse({"text": to_text(rule)})


@router.post("/segments/builder/from-text")
def rule_from_text(request: Request, session: Session = Viewer, body: Any = JsonBody) -> JSONResponse:
    """A rule (text or structured form) as a rule builder tree."""
    refused = _refused(body)
    if refused is not None:
        return refused
    source = body.get("rule") if isinstance(body, dict) else None
    if source is None or source == "":
        return JSONResponse({"tree": {"type": "group", "match": "all", "items": []}})
    try:
        rule = parse_rule(source)
    except RuleError as exc:
        return JSONResponse({"error": _rule_error(exc)})
    return JSONResponse({"tree": rule_to_builder(rule)})


def rule_vocabulary() -> dict[str, Any]:
    """What the rule builder's selects offer (the rule language's own lists)."""
    return {
        "ops": list(OPS),
        "aggs": list(AGGS),
        "fields": list(STANDARD_FIELDS),
        "channels": list(CHANNELS_OK),
        "consent_statuses": list(CONSENT_STATUSES),
    }


def builder_options(request: Request) -> dict[str, Any]:
    """What the journey builder's pickers offer: templates, segments, journeys, step types."""
    c = container(request)
    with c.engine.connect() as conn:
        templates = [
            {"key": t["key"], "name": t.get("name") or t["key"], "channel": t.get("channel") or "email"}
            for t in template_svc.list_templates(joined(conn))
        ]
        journeys = [str(r["key"]) for r in jst.list_journeys(conn)]
    segments = [str(r["key"]) for r in segment_svc.list_segments(c.segments)]
    return {
        "templates": templates,
        "segments": segments,
        "journeys": journeys,
        "channels": list(TEMPLATE_CHANNELS),
        "actions": sorted(ACTIONS),
        "trigger_types": list(TRIGGER_TYPES),
        "step_types": {k: sorted(v) for k, v in STEP_FIELDS.items()},
        "rules": rule_vocabulary(),
    }
