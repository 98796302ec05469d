"""The visual rule builder's JSON tree, and back to the rule: one converter, pure.

The web rule builder (``static/rulebuilder.js``, used by the segment pages and the branch steps
of the journey builder) edits a tree of three kinds of node::

    {"type": "group", "match": "all" | "any", "items": [node, ...]}
    {"type": "not", "item": node}
    {"type": "condition", "rule": {...}}   # one condition in the structured form (structured.py)

A condition holds the canonical structured form of one leaf (``{"tag": "vip"}``,
``{"event": "purchase", "agg": "count", "window": "30d", "op": "gte", "value": 2}``, ...), so
every condition of the language has a place in the tree, also those the page has no form for
(it shows them as text). ``builder_to_rule(rule_to_builder(r)) == r`` for every rule
(``tests/unit/test_rule_builder_form.py``); the rule's text form is ``to_text``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tidings.domain.rules import parse_rule
from tidings.domain.rules.ast import All, AnyOf, Not, Rule, RuleError
from tidings.domain.rules.structured import to_json


def rule_to_builder(rule: Rule) -> dict[str, Any]:
    """The builder tree of a parsed rule."""
    if isinstance(rule, All | AnyOf):
        match = "all" if isinstance(rule, All) else "any"
        return {"type": "group", "match": match, "items": [rule_to_builder(r) for r in rule.items]}
    if isinstance(rule, Not):
        return {"type": "not", "item": rule_to_builder(rule.item)}
    return {"type": "condition", "rule": to_json(rule)}


def builder_to_structured(node: Any, path: list[Any] | None = None) -> dict[str, Any]:
    """The structured form of a builder tree; ``RuleError`` names the tree path of a bad node."""
    path = list(path or [])
    if not isinstance(node, Mapping):
        raise RuleError("a builder node is an object with a type", path)
    kind = node.get("type")
    if kind == "group":
        match = node.get("match")
        if match not in ("all", "any"):
            raise RuleError("a group matches all or any of its conditions", path + ["match"])
        items = node.get("items")
        if not isinstance(items, list) or not items:
            raise RuleError("a group needs at least one condition", path + ["items"])
        return {match: [builder_to_structured(x, path + ["items", i]) for i, x in enumerate(items)]}
    if kind == "not":
        return {"not": builder_to_structured(node.get("item"), path + ["item"])}
    if kind == "condition":
        rule = node.get("rule")
        if not isinstance(rule, Mapping) or not rule:
            raise RuleError("a condition holds one rule in the structured form", path + ["rule"])
        if any(k in rule for k in ("all", "any", "not")):
            raise RuleError("groups are builder nodes, not conditions", path + ["rule"])
        return dict(rule)
    raise RuleError(f"unknown builder node type {kind!r} (group, not, condition)", path + ["type"])


def builder_to_rule(node: Any) -> Rule:
    """The rule a builder tree means (validated by the rule language's own parser and limits)."""
    return parse_rule(builder_to_structured(node))
