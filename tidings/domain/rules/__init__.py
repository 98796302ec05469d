"""One rule language for segments, journey branches, exits, goals and scoring.

Parse a rule from its text syntax or its structured (JSON/YAML) form with :func:`parse_rule`;
evaluate it for one contact with :func:`evaluate` (Python) or for all contacts with
``tidings.store.rules_sql.compile_rule`` (SQL) — both mean the same, property tests hold them
together. Pure: no I/O, no clock (``now`` is passed in).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tidings.domain import jsonvalues
from tidings.domain.rules.ast import (
    All,
    AnyOf,
    Attr,
    Compare,
    Consent,
    Duration,
    EnrolmentValue,
    EventAgg,
    EventProp,
    Field,
    HasTag,
    InJourney,
    InSegment,
    JourneyState,
    Not,
    Rule,
    RuleError,
    Sequence,
)
from tidings.domain.rules.deps import EVERYTHING, RuleDeps, dependencies, deps_from_events
from tidings.domain.rules.evaluate import evaluate, explain, matches_event
from tidings.domain.rules.limits import check_rule, check_text
from tidings.domain.rules.structured import parse_structured, to_json
from tidings.domain.rules.text import parse_text, to_text

__all__ = [
    "All",
    "AnyOf",
    "Attr",
    "Compare",
    "Consent",
    "Duration",
    "EVERYTHING",
    "EnrolmentValue",
    "EventAgg",
    "EventProp",
    "Field",
    "HasTag",
    "InJourney",
    "InSegment",
    "JourneyState",
    "Not",
    "Rule",
    "RuleDeps",
    "RuleError",
    "Sequence",
    "dependencies",
    "deps_from_events",
    "evaluate",
    "explain",
    "matches_event",
    "parse_contact_rule",
    "parse_event_filter",
    "parse_journey_rule",
    "parse_rule",
    "to_json",
    "to_text",
]


def parse_rule(source: str | Mapping[str, Any] | list[Any] | Rule) -> Rule:
    """A rule from text, the structured form (a mapping), or a list (read as ``all`` of it).

    Rules beyond the limits of :mod:`tidings.domain.rules.limits` are refused (``RuleError``)."""
    if isinstance(source, Rule):
        return source
    if isinstance(source, str):
        check_text(source)
        rule = parse_text(source)
    else:
        bad = jsonvalues.problems(source)
        if bad:
            raise RuleError(bad[0].message, bad[0].path)
        rule = parse_structured({"all": source} if isinstance(source, list) else source)
    check_rule(rule)
    return rule


def parse_contact_rule(source: Any) -> Rule:
    """A rule about a contact (segments, scoring): event-property filters and enrolment values are refused."""
    rule = parse_journey_rule(source)
    if dependencies(rule).enrolment:
        raise RuleError(
            "vars.* and event.* only apply to journey rules "
            "(an enrolment's variables, the event that resumed its wait)",
            [],
            None,
        )
    return rule


def parse_journey_rule(source: Any) -> Rule:
    """A rule inside a journey (branches, criteria): the contact, plus ``vars.*`` and ``event.*``."""
    rule = parse_rule(source)
    if dependencies(rule).event_properties:
        raise RuleError(
            "properties.* only applies to event filters (journey triggers); use attributes.NAME for the "
            "contact's data, event.properties.NAME for the event that resumed a wait",
            [],
            None,
        )
    return rule


def parse_event_filter(source: Any) -> Rule:
    """A filter over one event's properties (``properties.total > 50``)."""
    rule = parse_rule(source)
    _check_filter(rule, [])
    return rule


def _check_filter(rule: Rule, path: list[Any]) -> None:
    if isinstance(rule, All | AnyOf):
        for i, r in enumerate(rule.items):
            _check_filter(r, path + ["all" if isinstance(rule, All) else "any", i])
    elif isinstance(rule, Not):
        _check_filter(rule.item, path + ["not"])
    elif not (isinstance(rule, Compare) and isinstance(rule.target, EventProp)):
        raise RuleError("an event filter only reads the event's properties: properties.NAME", path)
