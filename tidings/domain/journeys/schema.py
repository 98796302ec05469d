"""The published JSON Schema of journey documents (``journey.schema.json`` next to this file).

Editors use it for completion and early errors; ``parse_journey`` stays the authority (it also
checks the graph, durations, conditions and templates). Regenerate the file with
``python -m tidings.domain.journeys.schema``; a unit test keeps the two equal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tidings.domain.journeys.docfields import CHANNELS, STEP_FIELDS, TRIGGER_TYPES

SCHEMA_PATH = Path(__file__).with_name("journey.schema.json")

_DURATION = {"description": "e.g. 30m, 2h, 3d, 1w, 1h30m, '3 days', or seconds", "type": ["string", "number"]}
_CLOCK = {"type": "string", "pattern": r"^\d{1,2}:\d{2}$", "description": "local time HH:MM"}
_RULE = {"description": "a condition in the rule language (text or structured form)"}
_TARGET = {"type": "string", "description": "a step id, or 'end'"}
_DAYS = {"type": "array", "items": {"enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}}
_DATE = {
    "type": "object",
    "properties": {
        "attribute": {"type": "string"},
        "variable": {"type": "string"},
        "event": {"type": "string"},
        "property": {"type": "string"},
        "offset": _DURATION,
        "before": _DURATION,
        "after": _DURATION,
        "at": _CLOCK,
        "yearly": {"type": "boolean"},
    },
    "additionalProperties": False,
}
_CRITERION = {
    "oneOf": [
        {
            "type": "object",
            "required": ["event"],
            "properties": {
                "event": {"type": "string"},
                "where": _RULE,
                "rule": _RULE,
                "revenue": {"type": "string"},
            },
            "additionalProperties": False,
        },
        {
            "type": "object",
            "required": ["signal"],
            "properties": {"signal": {"type": "string"}},
            "additionalProperties": False,
        },
        {
            "type": "object",
            "required": ["rule"],
            "properties": {"rule": _RULE},
            "additionalProperties": False,
        },
        _RULE,
    ]
}
_CRITERIA = {"oneOf": [{"type": "array", "items": _CRITERION}, _CRITERION]}

_FIELD_SCHEMAS: dict[str, dict[str, Any]] = {
    "next": _TARGET,
    "channel": {"enum": sorted(CHANNELS)},
    "template": {"type": "string"},
    "category": {"enum": ["marketing", "transactional"]},
    "data": {"type": "object"},
    "ignore_window": {"type": "boolean"},
    "duration": _DURATION,
    "date": _DATE,
    "at": _CLOCK,
    "days": _DAYS,
    "event": {"type": "string"},
    "signal": {"type": "string", "description": "a self-service signal name (instead of event)"},
    "on_past": {"enum": ["skip", "send_now", "next_occurrence"], "description": "when the date has passed"},
    "where": _RULE,
    "timeout": _DURATION,
    "on_event": _TARGET,
    "on_timeout": _TARGET,
    "branches": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["when", "next"],
            "properties": {"when": _RULE, "next": _TARGET},
            "additionalProperties": False,
        },
    },
    "else": _TARGET,
    "message": {"type": "string", "description": "id of an earlier send step"},
    "action": {"enum": ["delivered", "opened", "clicked", "converted"]},
    "within": _DURATION,
    "every": {"type": "string", "pattern": "^ *[0-9]+ *(d|w|mo) *$", "description": "14d, 2w, 1mo"},
    "anchor": _DATE,
    "count": {"type": "integer", "minimum": 1},
    "until": {"type": "string", "description": "last day of the series, YYYY-MM-DD"},
    "lasts": {
        "type": "object",
        "description": "how long the series runs from its anchor: a number of days, weeks or months",
        "properties": {
            "variable": {"type": "string"},
            "attribute": {"type": "string"},
            "unit": {"enum": ["d", "w", "mo"]},
        },
        "required": ["unit"],
        "additionalProperties": False,
    },
    "each": _TARGET,
    "done": _TARGET,
    "from": {"enum": ["sent", "delivered", "first_open"], "description": "what the window counts from"},
    "then": _TARGET,
    "variants": {
        "type": "array",
        "minItems": 2,
        "items": {
            "type": "object",
            "required": ["name", "next"],
            "properties": {"name": {"type": "string"}, "weight": {"type": "number"}, "next": _TARGET},
            "additionalProperties": False,
        },
    },
    "experiment": {
        "type": "object",
        "required": ["metric"],
        "properties": {
            "metric": {"enum": ["click", "open", "conversion"]},
            "event": {"type": "string"},
            "where": {},
            "window": {"type": "string", "pattern": "^[0-9]+ *[mhdw]$"},
            "baseline": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "mde": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "power": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "alpha": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "rollout": {"type": "boolean"},
        },
        "additionalProperties": False,
    },
    "set": {"type": "object"},
    "add_tags": {"type": "array", "items": {"type": "string"}},
    "remove_tags": {"type": "array", "items": {"type": "string"}},
    "lifecycle_stage": {"type": "string"},
    "score": {"type": "number"},
    "url": {"type": "string", "pattern": "^https?://"},
    "method": {"type": "string"},
    "body": {"type": ["object", "string"]},
    "headers": {"type": "object"},
    "payload": {"enum": ["v1", "v2"], "description": "v2: the signed hand-off document"},
    "events": {"type": "integer", "minimum": 0, "maximum": 100},
    "system": {"enum": ["hubspot", "salesforce"]},
    "properties": {"type": "object"},
    "priority": {"enum": ["low", "medium", "high"]},
    "deal_name": {"type": "string"},
    "amount": {"type": "number"},
    "deal_stage": {"type": "string"},
    "pipeline": {"type": "string"},
    "write_back": {"type": "boolean"},
    "title": {"type": "string"},
    "owner": {"type": "string"},
    "team": {"type": "string"},
    "due_in": _DURATION,
    "strategy": {"enum": ["fixed", "round_robin", "least_loaded"]},
    "journey": {"type": "string"},
    "key": {"type": "string"},
    "goal": {"type": "string"},
    "revenue": {"type": "number"},
    "reason": {"type": "string"},
}
_REQUIRED = {
    "send": ["channel", "template"],
    "wait": ["duration"],
    "wait_until": ["date"],
    "wait_time": ["at"],
    "branch": ["branches"],
    "behaviour": ["message", "action", "within", "then"],
    "split": ["variants"],
    "set_variables": ["set"],
    "repeat": ["every", "anchor", "each"],
    "webhook": ["url"],
    "crm": ["system", "action"],
    "task": ["title"],
    "enroll": ["journey"],
}


#: fields a crm step names like another step's (``action``: a behaviour window's too)
_CRM_FIELDS: dict[str, Any] = {"action": {"enum": ["upsert_contact", "create_task", "create_deal"]}}


def _step_schema(stype: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"},
        "type": {"enum": [stype, "behavior"] if stype == "behaviour" else [stype]},
        "name": {"type": "string"},
        "note": {"type": "string"},
    }
    for f in sorted(STEP_FIELDS[stype]):
        props[f] = _CRM_FIELDS.get(f, _FIELD_SCHEMAS[f]) if stype == "crm" else _FIELD_SCHEMAS[f]
    return {
        "type": "object",
        "required": ["id", "type", *_REQUIRED.get(stype, [])],
        "properties": props,
        "additionalProperties": False,
    }


def _trigger_schema(kind: str) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "string"}
    if kind == "manual":
        value = {"type": "boolean"}
    elif kind == "date":
        value = _DATE
    props: dict[str, Any] = {kind: value}
    if kind == "event":
        props |= {
            "where": _RULE,
            "key": {"type": "string", "description": "event property: the enrolment key"},
            "vars": {
                "type": "object",
                "description": "enrolment variables from the trigger event: name -> properties.PATH | name | at | id",
                "additionalProperties": {"type": "string"},
            },
        }
    if kind == "attribute_changed":
        props["to"] = {"description": "only when the new value equals this"}
    return {"type": "object", "required": [kind], "properties": props, "additionalProperties": False}


def journey_schema() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://tidings.dev/schemas/journey.schema.json",
        "title": "Tidings journey document",
        "type": "object",
        "required": ["key", "triggers", "steps"],
        "additionalProperties": False,
        "properties": {
            "key": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_.-]{0,99}$"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "version": {"type": "integer"},
            "triggers": {
                "type": "array",
                "minItems": 1,
                "items": {"oneOf": [_trigger_schema(k) for k in TRIGGER_TYPES]},
            },
            "settings": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "reentry": {
                        "oneOf": [
                            {"enum": ["never", "after_exit", "per_key"]},
                            {
                                "type": "object",
                                "required": ["after_days"],
                                "properties": {"after_days": {"type": "integer", "minimum": 0}},
                                "additionalProperties": False,
                            },
                        ]
                    },
                    "exit": _CRITERIA,
                    "suppress": _CRITERIA,
                    "goal": _CRITERIA,
                    "send_window": {
                        "type": "object",
                        "properties": {"days": _DAYS, "start": _CLOCK, "end": _CLOCK},
                        "additionalProperties": False,
                    },
                    "quiet_hours": {
                        "type": "object",
                        "required": ["start", "end"],
                        "properties": {"start": _CLOCK, "end": _CLOCK},
                        "additionalProperties": False,
                    },
                    "frequency_cap": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "required": ["max"],
                            "properties": {
                                "max": {"type": "integer", "minimum": 1},
                                "per": _DURATION,
                                "action": {"enum": ["delay", "skip"]},
                            },
                            "additionalProperties": False,
                        },
                    },
                    "allow_owned": {"type": "boolean"},
                    "category": {"enum": ["marketing", "transactional"]},
                    "timezone": {"type": "string"},
                    "signals": {"type": "array", "items": {"type": "string"}},
                    "loop_limit": {
                        "oneOf": [
                            {"type": "integer", "minimum": 1},
                            {
                                "type": "object",
                                "properties": {"rounds": {"type": "integer", "minimum": 1}, "window": _DURATION},
                                "additionalProperties": False,
                            },
                        ]
                    },
                    "exempt_from_caps": {"type": "boolean"},
                    "control_group": {"type": "number", "minimum": 0, "maximum": 50},
                    "correlate": {
                        "oneOf": [
                            {"type": "string", "description": "event property that must equal the enrolment key"},
                            {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["property"],
                                    "properties": {"property": {"type": "string"}, "event": {"type": "string"}},
                                    "additionalProperties": False,
                                },
                            },
                        ]
                    },
                },
            },
            "layout": {
                "type": "object",
                "description": "where the visual builder draws each step: step id -> [x, y] (ignored by the engine)",
                "additionalProperties": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
            },
            "steps": {
                "type": "array",
                "minItems": 1,
                "items": {"oneOf": [_step_schema(t) for t in sorted(STEP_FIELDS)]},
            },
        },
    }


def render() -> str:
    return json.dumps(journey_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # pragma: no cover
    SCHEMA_PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
