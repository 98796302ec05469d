"""A tiny stand-in for the rule language, for the journey engine's unit tests only.

Rules: ``"true"``/``"false"``, ``{"tag": T}``, ``{"attr": A, "eq": V}``, ``{"event": NAME}`` (the
contact has such an event), ``{"prop": P, "eq": V}`` (event filters), ``{"all"|"any": [...]}``,
``{"not": R}``. Anything else is refused like a rule that does not parse.
"""

from __future__ import annotations

from typing import Any

import pytest

from tidings.domain.journeys import conditions


class StubRuleError(ValueError):
    def __init__(self, msg: str, path: str = "", column: int | None = None) -> None:
        super().__init__(msg)
        self.path = path
        self.column = column


class StubRules:
    def parse_rule(self, source: Any, path: str = "") -> Any:
        if source in ("true", "false", True, False):
            return source in ("true", True)
        if not isinstance(source, dict) or len(source) == 0:
            raise StubRuleError(f"cannot parse {source!r}", path, 1 if isinstance(source, str) else None)
        if "all" in source or "any" in source:
            k = "all" if "all" in source else "any"
            return {k: [self.parse_rule(r, f"{path}.{k}.{i}") for i, r in enumerate(source[k])]}
        if "not" in source:
            return {"not": self.parse_rule(source["not"], path + ".not")}
        if (
            set(source) <= {"tag"}
            or set(source) <= {"attr", "eq"}
            or set(source) <= {"event"}
            or set(source)
            <= {
                "prop",
                "eq",
            }
        ):
            return dict(source)
        raise StubRuleError(f"unknown rule {source!r}", path)

    def evaluate(self, rule: Any, snap: Any, now: Any, scope: Any = None) -> bool:
        if isinstance(rule, bool):
            return rule
        if "all" in rule:
            return all(self.evaluate(r, snap, now) for r in rule["all"])
        if "any" in rule:
            return any(self.evaluate(r, snap, now) for r in rule["any"])
        if "not" in rule:
            return not self.evaluate(rule["not"], snap, now)
        if "tag" in rule:
            return rule["tag"] in snap.tags
        if "attr" in rule:
            return snap.attributes.get(rule["attr"]) == rule["eq"]
        if "event" in rule:
            return any(e.name == rule["event"] for e in snap.events)
        return False

    def explain(self, rule: Any, snap: Any, now: Any, scope: Any = None) -> list[dict[str, Any]]:
        return [{"rule": repr(rule), "value": self.evaluate(rule, snap, now)}]

    def matches_event(self, rule: Any, event: Any, now: Any) -> bool:
        if isinstance(rule, bool):
            return rule
        if "prop" in rule:
            return event.properties.get(rule["prop"]) == rule["eq"]
        if "all" in rule:
            return all(self.matches_event(r, event, now) for r in rule["all"])
        return False


@pytest.fixture()
def stub_rules():
    previous = conditions.use_backend(StubRules())
    yield
    conditions.use_backend(previous)
