"""The one door from journeys to the rule language (``tidings.domain.rules``).

Every condition in a journey (branch rules, exit/suppression/goal criteria, event filters)
goes through these four functions, so the rule language can evolve without touching the
machine, and unit tests can install a stub backend with :func:`use_backend`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from tidings.domain.snapshot import ContactSnapshot, EventRecord


class RuleBackend(Protocol):
    def parse_rule(self, source: Any) -> Any: ...
    def evaluate(
        self, rule: Any, snapshot: ContactSnapshot, now: datetime, scope: Mapping[str, Any] | None = None
    ) -> bool: ...
    def explain(
        self, rule: Any, snapshot: ContactSnapshot, now: datetime, scope: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...
    def matches_event(self, rule: Any, event: EventRecord, now: datetime) -> bool: ...


class ConditionError(ValueError):
    """A condition did not parse; ``column`` is set for the text syntax when known."""

    def __init__(self, message: str, path: str = "", column: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.column = column


_backend: Any = None


def use_backend(backend: Any) -> Any:
    """Install a backend (a module or object with the four functions); returns the previous one."""
    global _backend
    previous, _backend = _backend, backend
    return previous


def _rules() -> Any:
    global _backend
    if _backend is None:
        _backend = importlib.import_module("tidings.domain.rules")
    return _backend


def parse(source: Any, kind: str = "contact") -> Any:
    """Parse a rule (text or structured form); raises ConditionError with path/column.

    ``kind``: ``contact`` (branches, criteria: the contact, ``vars.*`` and ``event.*``) or
    ``event`` (a filter on one event's properties); the rule language refuses a rule of the
    wrong kind when it can tell."""
    backend = _rules()
    parser = getattr(backend, "parse_event_filter" if kind == "event" else "parse_journey_rule", None)
    try:
        return (parser or backend.parse_rule)(source)
    except ConditionError:
        raise
    except Exception as exc:
        path = getattr(exc, "path", "") or ""
        if isinstance(path, list | tuple):
            path = ".".join(str(p) for p in path)
        raise ConditionError(str(exc), str(path), getattr(exc, "column", None)) from exc


def evaluate(rule: Any, snapshot: ContactSnapshot, now: datetime, scope: Mapping[str, Any] | None = None) -> bool:
    """``scope``: the enrolment's values a rule may read (``{"vars": ..., "event": ...}``)."""
    if scope is None:
        return bool(_rules().evaluate(rule, snapshot, now))
    return bool(_rules().evaluate(rule, snapshot, now, scope))


def explain(
    rule: Any, snapshot: ContactSnapshot, now: datetime, scope: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Why the rule is true or false, for the trace; never fails the transition."""
    try:
        extra = () if scope is None else (scope,)
        return [_jsonable(x) for x in _rules().explain(rule, snapshot, now, *extra)]
    except Exception as exc:  # an explanation must never break a transition
        return [{"error": str(exc)}]


def _jsonable(value: Any) -> Any:
    """Trace details are stored as JSON: keep plain values, stringify the rest (dates...)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def matches_event(rule: Any, event: EventRecord, now: datetime) -> bool:
    return bool(_rules().matches_event(rule, event, now))
